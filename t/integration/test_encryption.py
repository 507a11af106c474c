"""Encrypted assertions at the ACS: real httpd + mod_qsso, real Redis,
assertions built and signed by pysaml2 and encrypted by an independent
implementation (the xmlsec1 tool, one template per algorithm pair, and
pysaml2's own path; t/lib/samlenc.py) to the SP certificate t/keys/sp.crt.

Every accepted case ends in a session for the right user; every refusal
asserts status, code and reference on the page, the one log line, no
cookie, and sits next to an untampered twin that signs in."""
import copy
import re

import pytest
from lxml import etree

import samlenc
import harness
import samlidp
from harness import EMAIL, IDP_ENTITY, IDP_SSO, Browser, env_of, refused

NS = samlenc.NS
SAML = "{%s}" % NS["saml"]
SAMLP = "{%s}" % NS["samlp"]
DS = "{%s}" % NS["ds"]
MALLORY = "mallory@example.org"     # the attacker's own, real account
VICTIM = "admin@example.org"        # whom a forged assertion claims


# ---------------------------------------------------------------- sites

@pytest.fixture(scope="module")
def rsa15_site(servers):
    """An SP that was told to accept RSA 1.5 key transport as well."""
    return servers.start(qsso={
        "QSSOEncryptionAlgorithms": "rsa-oaep-mgf1p rsa-1_5"})


@pytest.fixture(scope="module")
def required_site(servers):
    return servers.start(qsso={"QSSORequireEncryptedAssertion": "On"})


@pytest.fixture(scope="module")
def keyless_site(servers):
    """No QSSOSPPrivateKeyFile: nothing can be decrypted."""
    return servers.start(qsso={"QSSOSPPrivateKeyFile": None})


# -------------------------------------------------------------- helpers

idp_for = harness.idp_for


class Attempt(harness.Attempt):
    """One SP-initiated login: a fresh pending request and its browser."""

    def plain(self, email=MALLORY, signed="assertion", **kw):
        """A pysaml2 response; signed: assertion, response, both, none."""
        return self.b.idp.response(
            {EMAIL: [email]}, email, in_response_to=self.request_id,
            sign_response=signed in ("response", "both"),
            sign_assertion=signed in ("assertion", "both"), **kw)

    def encrypted(self, email=MALLORY, signed="assertion", **kw):
        """The same, its Assertion encrypted by xmlsec1 (the Response, when
        signed, signed again over the ciphertext)."""
        return samlenc.encrypt_response(self.plain(email, signed),
                                        resign_with=self.signer(), **kw)

    def signer(self):
        return (self.b.idp, "idp1")

    def post(self, xml):
        return self.b.post_acs(xml, self.relay)


def signed_in(b, r, email):
    assert r.status_code == 303, (r.status_code, r.text[:400])
    assert r.headers["Location"] == "/dash/"
    assert b.cookie and b.cookie[0] == "qsso_session", r.headers
    page = b.get("/dash/")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    env = env_of(page.text)
    assert env["QSSO_EMAIL"] == email, env
    assert env["REMOTE_USER"] == email, env
    assert env["QSSO_IDP"] == IDP_ENTITY, env
    return env


def twin_accepted(site, signed="assertion", **kw):
    a = Attempt(site)
    return signed_in(a.b, a.post(a.encrypted(signed=signed, **kw)), MALLORY)


def tree(xml):
    return etree.fromstring(xml.encode("utf-8"))


def text(root):
    return etree.tostring(root, encoding="unicode")


def one(node, path):
    found = node.findall(path, NS)
    assert len(found) == 1, (path, len(found))
    return found[0]


def forge(assertion, who=VICTIM, new_id="_forged0001"):
    """An unsigned copy of a (plain) assertion claiming to be `who`."""
    f = copy.deepcopy(assertion)
    for s in f.findall("ds:Signature", NS):
        f.remove(s)
    if new_id:
        f.set("ID", new_id)
    one(f, "saml:Subject/saml:NameID").text = who
    for v in f.iterfind(".//saml:AttributeValue", NS):
        v.text = who
    return f


def flip(b64_text, offset):
    """One base64 character of a CipherValue changed."""
    s = list(b64_text)
    s[offset] = "B" if s[offset] == "A" else "A"
    return "".join(s)


def cipher_values(doc):
    """[EncryptedKey CipherValue, EncryptedData CipherValue]."""
    return list(doc.iterfind(".//xenc:CipherValue", NS))


def extensions(resp):
    ext = etree.Element(SAMLP + "Extensions")
    one(resp, "samlp:Status").addprevious(ext)
    return ext


def page_without_reference(r):
    return re.sub(r"[A-Z0-9]{8}", "REF", r.text)


# ------------------------------------------------- algorithms: accepted

@pytest.mark.parametrize("transport,content", samlenc.DEFAULT_PAIRS,
                         ids=["%s+%s" % p for p in samlenc.DEFAULT_PAIRS])
def test_acs_accepts_encrypted_assertion(site, transport, content):
    a = Attempt(site)
    xml = a.encrypted(transport=transport, content=content)
    doc = tree(xml)
    assert doc.find("saml:Assertion", NS) is None
    assert one(doc, "saml:EncryptedAssertion/xenc:EncryptedData/"
                    "xenc:EncryptionMethod").get("Algorithm") == \
        samlenc.CONTENT[content][0]
    signed_in(a.b, a.post(xml), MALLORY)


@pytest.mark.parametrize("transport,content", samlenc.ALL_PAIRS,
                         ids=["%s+%s" % p for p in samlenc.ALL_PAIRS])
def test_acs_accepts_every_pair_when_rsa_1_5_is_configured(
        rsa15_site, transport, content):
    a = Attempt(rsa15_site)
    signed_in(a.b, a.post(a.encrypted(transport=transport,
                                      content=content)), MALLORY)


@pytest.mark.parametrize("content", ["aes128-cbc", "aes256-gcm"])
def test_acs_refuses_rsa_1_5_by_default_2128(site, refusal, content):
    a = Attempt(site)
    r = a.post(a.encrypted(transport="rsa-1_5", content=content))
    line = refused(refusal, site, a.b, r, 403, 2128)
    assert "rsa-1_5" in line and "padding oracle" in line, line
    twin_accepted(site, content=content)


@pytest.mark.parametrize("signed", ["response", "assertion", "both"])
def test_acs_accepts_encrypted_assertion_whoever_signed(site, signed):
    """response: the Response signature covers the ciphertext and the
    assertion inside is unsigned; assertion: only the assertion inside is
    signed; both."""
    a = Attempt(site)
    xml = a.encrypted(signed=signed, content="aes256-gcm")
    doc = tree(xml)
    assert (doc.find("ds:Signature", NS) is not None) == \
        (signed in ("response", "both"))
    signed_in(a.b, a.post(xml), MALLORY)


def test_acs_accepts_encrypted_key_beside_the_data(site):
    """The Shibboleth IdP's shape: EncryptedKey next to EncryptedData,
    pointed at by a same-document RetrievalMethod."""
    a = Attempt(site)
    xml = a.encrypted(shape="sibling", content="aes256-cbc")
    assert "RetrievalMethod" in xml
    signed_in(a.b, a.post(xml), MALLORY)


def test_acs_accepts_pysaml2_encrypted_assertion(site):
    """pysaml2's own encrypt_assertion path (its plaintext relies on the
    Response's namespace declarations)."""
    a = Attempt(site)
    xml = samlenc.pysaml2_encrypt(a.signer(), a.plain(),
                                  content="aes256-cbc")
    assert "xmlenc#aes256-cbc" in xml and "EncryptedAssertion" in xml
    signed_in(a.b, a.post(xml), MALLORY)


def test_acs_refuses_pysaml2_default_3des_2128(site, refusal):
    a = Attempt(site)
    xml = samlenc.pysaml2_encrypt(a.signer(), a.plain())
    assert "xmlenc#tripledes-cbc" in xml
    line = refused(refusal, site, a.b, a.post(xml), 403, 2128)
    assert "tripledes-cbc" in line, line
    twin_accepted(site)


# ------------------------------------------------- decryption failures

def test_acs_refuses_assertion_encrypted_to_another_key_2128(site, refusal):
    a = Attempt(site)
    r = a.post(a.encrypted(cert="attacker"))
    refused(refusal, site, a.b, r, 403, 2128)
    twin_accepted(site)


@pytest.mark.parametrize("which,offset", [(0, 10), (1, 4), (1, 40),
                                          (1, -6)],
                         ids=["key", "iv", "block", "last-block"])
def test_acs_refuses_tampered_ciphertext_2128(site, refusal, which, offset):
    a = Attempt(site)
    doc = tree(a.encrypted(content="aes128-cbc"))
    cv = cipher_values(doc)[which]
    cv.text = flip(cv.text.strip(), offset)
    refused(refusal, site, a.b, a.post(text(doc)), 403, 2128)
    twin_accepted(site)


def test_acs_gives_one_answer_for_every_decryption_failure(site, refusal):
    """The page differs only by its reference, and the log line says the
    same sentence, whether the key is wrong, the session key or the data
    damaged: no oracle."""
    pages, details = [], []
    for kind in ("other-key", "bad-key", "bad-data"):
        site.mark()             # one refusal line per attempt
        a = Attempt(site)
        if kind == "other-key":
            xml = a.encrypted(cert="attacker")
        else:
            doc = tree(a.encrypted())
            cv = cipher_values(doc)[0 if kind == "bad-key" else 1]
            cv.text = flip(cv.text.strip(), 20)
            xml = text(doc)
        r = a.post(xml)
        line = refused(refusal, site, a.b, r, 403, 2128)
        pages.append(page_without_reference(r))
        details.append(re.search(r"QSSO2128: (.*?) idp=", line).group(1))
    assert pages[0] == pages[1] == pages[2]
    assert details[0] == details[1] == details[2], details
    assert "not told apart" in details[0]
    twin_accepted(site)


def test_acs_checks_response_signature_before_decrypting_2111(site,
                                                             refusal):
    """The Response is signed over the ciphertext: a changed byte is
    refused as a bad signature, before the SP key is used."""
    a = Attempt(site)
    doc = tree(a.encrypted(signed="response"))
    cv = cipher_values(doc)[1]
    cv.text = flip(cv.text.strip(), 40)
    refused(refusal, site, a.b, a.post(text(doc)), 403, 2111)
    twin_accepted(site, signed="response")


def test_acs_refuses_unsigned_encrypted_assertion_2110(site, refusal):
    a = Attempt(site)
    r = a.post(a.encrypted(signed="none"))
    refused(refusal, site, a.b, r, 403, 2110)
    twin_accepted(site)


def test_acs_refuses_assertion_an_attacker_encrypted_2110(site, refusal):
    """Anyone can encrypt to the SP's public certificate: a forged,
    unsigned assertion decrypts fine and is refused as unsigned."""
    a = Attempt(site)
    doc = tree(a.plain(signed="assertion"))
    sa = one(doc, "saml:Assertion")
    doc.replace(sa, samlenc.encrypted_assertion(forge(sa)))
    refused(refusal, site, a.b, a.post(text(doc)), 403, 2110)
    twin_accepted(site)


def test_acs_refuses_signed_assertion_edited_and_encrypted_again_2111(
        site, refusal):
    a = Attempt(site)
    doc = tree(a.plain(signed="assertion"))
    sa = one(doc, "saml:Assertion")
    one(sa, "saml:Subject/saml:NameID").text = VICTIM
    doc.replace(sa, samlenc.encrypted_assertion(sa))
    refused(refusal, site, a.b, a.post(text(doc)), 403, 2111)
    twin_accepted(site)


def test_acs_refuses_key_info_that_points_elsewhere_2128(site, refusal):
    a = Attempt(site)
    doc = tree(a.encrypted())
    ki = one(doc, ".//xenc:EncryptedData/ds:KeyInfo")
    ki.insert(0, etree.Element(DS + "RetrievalMethod",
                               URI="http://127.0.0.1:9/key"))
    line = refused(refusal, site, a.b, a.post(text(doc)), 403, 2128)
    assert "RetrievalMethod" in line
    twin_accepted(site)


def test_acs_refuses_cipher_reference_2128(site, refusal):
    a = Attempt(site)
    doc = tree(a.encrypted())
    cd = one(doc, ".//xenc:EncryptedData/xenc:CipherData")
    for c in list(cd):
        cd.remove(c)
    etree.SubElement(cd, "{%s}CipherReference" % samlenc.XENC,
                     URI="http://127.0.0.1:9/cipher")
    line = refused(refusal, site, a.b, a.post(text(doc)), 403, 2128)
    assert "CipherReference" in line
    twin_accepted(site)


# ------------------------------------------------------------ wrapping

def _plain_forged_beside_encrypted(a):
    doc = tree(a.encrypted())
    plain = forge(one(tree(a.plain()), "saml:Assertion"))
    one(doc, "saml:EncryptedAssertion").addprevious(plain)
    return doc


def _encrypted_forged_beside_plain_signed(a):
    doc = tree(a.plain())
    sa = one(doc, "saml:Assertion")
    sa.addprevious(samlenc.encrypted_assertion(forge(sa)))
    return doc


def _two_encrypted(a):
    doc = tree(a.encrypted())
    sa = one(tree(a.plain()), "saml:Assertion")
    one(doc, "saml:EncryptedAssertion").addprevious(
        samlenc.encrypted_assertion(forge(sa)))
    return doc


def _encrypted_moved_into_extensions_plain_forged_on_top(a):
    doc = tree(a.encrypted())
    ea = one(doc, "saml:EncryptedAssertion")
    ea.addprevious(forge(one(tree(a.plain()), "saml:Assertion")))
    extensions(doc).append(ea)
    return doc


def _encrypted_moved_into_extensions_encrypted_forged_on_top(a):
    doc = tree(a.encrypted())
    ea = one(doc, "saml:EncryptedAssertion")
    ea.addprevious(samlenc.encrypted_assertion(
        forge(one(tree(a.plain()), "saml:Assertion"))))
    extensions(doc).append(ea)
    return doc


def _encrypted_only_in_extensions(a):
    doc = tree(a.encrypted())
    extensions(doc).append(one(doc, "saml:EncryptedAssertion"))
    return doc


def _encrypted_inside_forged_plain(a):
    doc = tree(a.encrypted())
    ea = one(doc, "saml:EncryptedAssertion")
    f = forge(one(tree(a.plain()), "saml:Assertion"))
    ea.addprevious(f)
    f.append(ea)
    return doc


def _signed_hidden_in_advice_of_encrypted_forged(a):
    """The attacker encrypts a forged assertion that carries the real,
    signed one in its Advice: two assertions after decryption."""
    doc = tree(a.plain())
    sa = one(doc, "saml:Assertion")
    f = forge(sa)
    etree.SubElement(f, SAML + "Advice").append(copy.deepcopy(sa))
    doc.replace(sa, samlenc.encrypted_assertion(f))
    return doc


def _encrypted_replaced_under_response_signature(a):
    doc = tree(a.encrypted(signed="response"))
    ea = one(doc, "saml:EncryptedAssertion")
    doc.replace(ea, samlenc.encrypted_assertion(
        forge(one(tree(a.plain(signed="none")), "saml:Assertion"))))
    return doc


def _decrypted_id_clashes_with_response(a):
    doc = tree(a.plain())
    sa = one(doc, "saml:Assertion")
    doc.replace(sa, samlenc.encrypted_assertion(
        forge(sa, new_id=doc.get("ID"))))
    return doc


def _two_assertions_in_one_plaintext(a):
    doc = tree(a.plain())
    sa = one(doc, "saml:Assertion")
    ea = etree.Element(SAML + "EncryptedAssertion")
    ea.append(samlenc.encrypt_xml(etree.tostring(sa)
                                  + etree.tostring(forge(sa)), binary=True))
    doc.replace(sa, ea)
    return doc


def _encrypted_inside_encrypted(a):
    doc = tree(a.plain())
    sa = one(doc, "saml:Assertion")
    inner = samlenc.encrypted_assertion(sa)
    ea = etree.Element(SAML + "EncryptedAssertion")
    ea.append(samlenc.encrypt_xml(etree.tostring(inner)))
    doc.replace(sa, ea)
    return doc


WRAPPING = [
    (_plain_forged_beside_encrypted, 2109),
    (_encrypted_forged_beside_plain_signed, 2109),
    (_two_encrypted, 2109),
    (_encrypted_moved_into_extensions_plain_forged_on_top, 2109),
    (_encrypted_moved_into_extensions_encrypted_forged_on_top, 2109),
    (_encrypted_only_in_extensions, 2109),
    (_encrypted_inside_forged_plain, 2109),
    (_signed_hidden_in_advice_of_encrypted_forged, 2109),
    (_encrypted_replaced_under_response_signature, 2111),
    (_decrypted_id_clashes_with_response, 2108),
    (_two_assertions_in_one_plaintext, 2128),
    (_encrypted_inside_encrypted, 2128),
]


@pytest.mark.parametrize("tamper,code", WRAPPING,
                         ids=["%s-%d" % (t.__name__.strip("_"), c)
                              for t, c in WRAPPING])
def test_acs_refuses_wrapping_with_encrypted_assertions(site, refusal,
                                                        tamper, code):
    """The attacker holds real responses for their own account (MALLORY)
    and the SP's public certificate, and mixes plain and encrypted
    assertions so that a forged one for VICTIM might be read."""
    a = Attempt(site)
    r = a.post(text(tamper(a)))
    assert r.status_code != 303
    refused(refusal, site, a.b, r, 403, code)
    twin_accepted(site)


# --------------------------------------- QSSORequireEncryptedAssertion

@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_required_encryption_refuses_plain_assertion_2129(required_site,
                                                          refusal, signed):
    a = Attempt(required_site)
    r = a.post(a.plain(signed=signed))
    refused(refusal, required_site, a.b, r, 403, 2129)
    twin_accepted(required_site, signed=signed)


def test_required_encryption_accepts_encrypted_assertion(required_site):
    twin_accepted(required_site, content="aes128-gcm")


# ------------------------------------------------------ no key, metadata

def test_sp_without_key_refuses_encrypted_assertion_2109(keyless_site,
                                                         refusal):
    a = Attempt(keyless_site)
    line = refused(refusal, keyless_site, a.b, a.post(a.encrypted()), 403,
                   2109)
    assert "QSSOSPPrivateKeyFile" in line
    a = Attempt(keyless_site)
    signed_in(a.b, a.post(a.plain()), MALLORY)


def _key_descriptors(site):
    from saml2.xml.schema import schema_saml_metadata
    r = Browser(site).get("/qsso/metadata")
    assert r.status_code == 200
    schema_saml_metadata.validate(r.text)          # raises when invalid
    sp = etree.fromstring(r.content).find("{%s}SPSSODescriptor" % NS["md"])
    return {kd.get("use"): kd for kd in
            sp.findall("{%s}KeyDescriptor" % NS["md"])}


def _methods(kd):
    return [m.get("Algorithm").split("#")[1] for m in
            kd.findall("{%s}EncryptionMethod" % NS["md"])]


def test_sp_metadata_advertises_encryption_key_and_methods(site):
    kds = _key_descriptors(site)
    assert sorted(kds) == ["encryption", "signing"]
    cert = kds["encryption"].find(".//{%s}X509Certificate" % NS["ds"]).text
    assert "".join(cert.split()) == samlidp.cert_b64("sp")
    assert _methods(kds["encryption"]) == [
        "rsa-oaep-mgf1p", "aes128-cbc", "aes256-cbc", "aes128-gcm",
        "aes256-gcm"]
    assert _methods(kds["signing"]) == []


def test_sp_metadata_lists_rsa_1_5_only_when_configured(rsa15_site):
    assert "rsa-1_5" in _methods(_key_descriptors(rsa15_site)["encryption"])


def test_sp_metadata_without_key_has_no_encryption_key(keyless_site):
    assert sorted(_key_descriptors(keyless_site)) == ["signing"]
