"""The algorithm and reference policy at the ACS and at configtest: real
httpd + mod_qsso and Redis; responses signed by pysaml2 (xmlsec1), and,
for what pysaml2 will not write (ECDSA, other canonicalizations and
transforms), signed again by xmlsec1 under an edited template
(t/lib/samlenc.py), so that a refusal is the policy's and not a broken
signature: each refused template has a twin signed the same way with the
accepted one, which signs in.

Matrix (default QSSOSignatureAlgorithms): rsa-sha256/384/512 and
ecdsa-sha256/384/512 accepted; rsa-sha1 and a sha1 digest refused (2113)
unless rsa-sha1 is listed; HMAC refused by configtest and at the ACS;
CanonicalizationMethod other than exclusive C14N and any transform other
than enveloped-signature and exclusive C14N refused (2127)."""
import os

import pytest
from lxml import etree

import harness
import samlenc
import samlidp
from harness import EMAIL, IDP_ENTITY, IDP_SSO, Browser, env_of, refused

NS = samlenc.NS
DS = "{%s}" % NS["ds"]
MORE = "http://www.w3.org/2001/04/xmldsig-more#"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
SHA384 = MORE + "sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
MALLORY = "mallory@example.org"


# ---------------------------------------------------------------- sites

@pytest.fixture(scope="module")
def ec_site(servers):
    """An IdP that signs with a P-256 key."""
    return servers.start(certs=("idp-ec",))


@pytest.fixture(scope="module")
def sha1_site(servers):
    return servers.start(qsso={
        "QSSOSignatureAlgorithms": "rsa-sha256 rsa-sha1"})


@pytest.fixture(scope="module")
def sha512_site(servers):
    """Only RSA-SHA512, written as its URI."""
    return servers.start(qsso={
        "QSSOSignatureAlgorithms": MORE + "rsa-sha512"})


# -------------------------------------------------------------- helpers

idp_for = harness.idp_for


class Attempt(harness.Attempt):
    def response(self, signed="response", **kw):
        return self.b.idp.response(
            {EMAIL: [MALLORY]}, MALLORY, in_response_to=self.request_id,
            sign_response=signed == "response",
            sign_assertion=signed == "assertion", **kw)

    def resigned(self, edit, signed="response", key="idp1"):
        """A response signed by pysaml2, then signed again by xmlsec1
        with key after edit(ds:Signature) changed the template."""
        xml = self.response(signed=signed)
        node, node_id = samlenc.RESPONSE, None
        if signed == "assertion":
            node = samlenc.ASSERTION
            node_id = etree.fromstring(xml.encode()).find(
                "saml:Assertion", NS).get("ID")
        return samlenc.resign_with_template((self.b.idp, key), xml, edit,
                                            node=node, node_id=node_id)

    def post(self, xml):
        return self.b.post_acs(xml, self.relay)


def signed_in(b, r):
    assert r.status_code == 303, (r.status_code, r.text[:400])
    assert b.cookie and b.cookie[0] == "qsso_session", r.headers
    page = b.get("/dash/")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert env_of(page.text)["QSSO_EMAIL"] == MALLORY
    return page


def set_sig_alg(uri, digest=None):
    def edit(sig):
        sig.find("ds:SignedInfo/ds:SignatureMethod", NS).set("Algorithm",
                                                              uri)
        if digest:
            sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod",
                     NS).set("Algorithm", digest)
    return edit


def xpath_filter():
    """The XPath of XMLDSig's own example, free of prefixes."""
    x = etree.Element(DS + "XPath")
    x.text = ("not(ancestor-or-self::*[local-name()='Signature' and "
              "namespace-uri()='%s'])" % DSIG)
    return x


def accepted_template():
    """What pysaml2 writes: enveloped-signature then exclusive C14N."""
    return samlenc.set_transforms(samlenc.ENVELOPED, samlenc.C14N_EXC)


# ------------------------------------------------ signature algorithms

@pytest.mark.parametrize("sig_alg,digest", [
    (MORE + "rsa-sha256", samlidp.SHA256),
    (MORE + "rsa-sha384", SHA384),
    (MORE + "rsa-sha512", SHA512),
], ids=["rsa-sha256", "rsa-sha384", "rsa-sha512"])
@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_accepts_rsa_sha2(site, signed, sig_alg, digest):
    a = Attempt(site)
    signed_in(a.b, a.post(a.response(signed=signed, sign_alg=sig_alg,
                                     digest_alg=digest)))


@pytest.mark.parametrize("alg", ["ecdsa-sha256", "ecdsa-sha384",
                                 "ecdsa-sha512"])
@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_accepts_ecdsa_sha2(ec_site, signed, alg):
    a = Attempt(ec_site)
    xml = a.resigned(set_sig_alg(MORE + alg), signed=signed, key="idp-ec")
    assert samlidp.verify_xml_signature(
        xml, "idp-ec", samlenc.RESPONSE if signed == "response"
        else samlenc.ASSERTION)
    signed_in(a.b, a.post(xml))


def test_acs_refuses_ecdsa_signature_by_a_key_not_in_metadata_2111(
        site, refusal):
    """site trusts idp1 (RSA) only."""
    a = Attempt(site)
    xml = a.resigned(set_sig_alg(MORE + "ecdsa-sha256"), key="idp-ec")
    refused(refusal, site, a.b, a.post(xml), 403, 2111)


@pytest.mark.parametrize("sig_alg,digest", [
    (samlidp.RSA_SHA1, samlidp.SHA1),
    (samlidp.RSA_SHA1, samlidp.SHA256),
    (samlidp.RSA_SHA256, samlidp.SHA1),
], ids=["rsa-sha1+sha1", "rsa-sha1+sha256", "rsa-sha256+sha1"])
def test_acs_refuses_sha1_by_default_and_accepts_it_when_listed(
        site, sha1_site, refusal, sig_alg, digest):
    a = Attempt(site)
    r = a.post(a.response(sign_alg=sig_alg, digest_alg=digest))
    line = refused(refusal, site, a.b, r, 403, 2113)
    assert "sha1" in line, line
    a = Attempt(sha1_site)
    signed_in(a.b, a.post(a.response(sign_alg=sig_alg, digest_alg=digest)))


def test_acs_refuses_an_algorithm_left_out_of_the_list_2113(sha512_site,
                                                            refusal):
    a = Attempt(sha512_site)
    r = a.post(a.response(sign_alg=samlidp.RSA_SHA256))
    line = refused(refusal, sha512_site, a.b, r, 403, 2113)
    assert "QSSOSignatureAlgorithms: rsa-sha512" in line, line
    a = Attempt(sha512_site)
    signed_in(a.b, a.post(a.response(sign_alg=MORE + "rsa-sha512",
                                     digest_alg=SHA512)))


@pytest.mark.parametrize("hmac", [DSIG + "hmac-sha1", MORE + "hmac-sha256",
                                  MORE + "hmac-sha512"])
def test_acs_refuses_hmac_signature_2113(sha1_site, refusal, hmac):
    """Whatever is listed: the SignatureMethod alone decides, before any
    key is tried (an HMAC keyed with the public certificate is the
    classic key-confusion forgery)."""
    a = Attempt(sha1_site)
    doc = etree.fromstring(a.response().encode())
    doc.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).set(
        "Algorithm", hmac)
    r = a.post(etree.tostring(doc, encoding="unicode"))
    line = refused(refusal, sha1_site, a.b, r, 403, 2113)
    assert "HMAC" in line, line


# ------------------------------------------ canonicalization, transforms

def test_acs_accepts_a_template_signed_again_by_xmlsec1(site):
    """The twin of every refusal below: the same re-signing, with the
    accepted template."""
    for signed in ("response", "assertion"):
        a = Attempt(site)
        signed_in(a.b, a.post(a.resigned(accepted_template(),
                                         signed=signed)))


@pytest.mark.parametrize("c14n", [
    samlenc.C14N_INCL, samlenc.C14N_INCL_WC, samlenc.C14N_11],
    ids=["c14n", "c14n-with-comments", "c14n11"])
@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_inclusive_canonicalization_method_2127(
        site, refusal, signed, c14n):
    a = Attempt(site)
    xml = a.resigned(samlenc.set_c14n(c14n), signed=signed)
    assert samlidp.verify_xml_signature(
        xml, "idp1", samlenc.RESPONSE if signed == "response"
        else samlenc.ASSERTION), "the signature itself must be valid"
    line = refused(refusal, site, a.b, a.post(xml), 403, 2127)
    assert "CanonicalizationMethod" in line and c14n in line, line


SIGNED_TRANSFORMS = {
    "inclusive-c14n": (samlenc.ENVELOPED, samlenc.C14N_INCL),
    "c14n11": (samlenc.ENVELOPED, samlenc.C14N_11),
    "xpath": ((samlenc.XPATH, None), samlenc.C14N_EXC),
    "enveloped-only": (samlenc.ENVELOPED,),
    "three": (samlenc.ENVELOPED, samlenc.C14N_EXC, samlenc.C14N_EXC),
}


@pytest.mark.parametrize("name", sorted(SIGNED_TRANSFORMS))
def test_acs_refuses_signed_reference_with_other_transforms_2127(
        site, refusal, name):
    """Validly signed by xmlsec1 with these transforms: refused by the
    policy, not by a broken digest."""
    ts = tuple((t[0], xpath_filter()) if isinstance(t, tuple) else t
               for t in SIGNED_TRANSFORMS[name])
    a = Attempt(site)
    xml = a.resigned(samlenc.set_transforms(*ts))
    assert samlidp.verify_xml_signature(xml, "idp1", samlenc.RESPONSE)
    refused(refusal, site, a.b, a.post(xml), 403, 2127)


@pytest.mark.parametrize("uri", [
    samlenc.XSLT, samlenc.BASE64,
    "http://www.w3.org/2002/06/xmldsig-filter2",
    "http://www.w3.org/2002/07/decrypt#XML"],
    ids=["xslt", "base64", "xpath-filter2", "decrypt"])
def test_acs_refuses_transform_before_any_crypto_2127(site, refusal, uri):
    """Added after signing (no signing tool writes these for SAML): the
    policy refuses them before xmlsec would run them."""
    a = Attempt(site)
    doc = etree.fromstring(a.response().encode())
    ts = doc.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms",
                  NS)
    ts.insert(1, etree.Element(DS + "Transform", Algorithm=uri))
    line = refused(refusal, site, a.b,
                   a.post(etree.tostring(doc, encoding="unicode")), 403,
                   2127)
    assert uri in line, line


# --------------------------------------------------------- configtest

def configtest(workdir, redis, **kw):
    h = harness.Httpd(workdir, redis, **kw)
    rc, out = h.configtest()
    return h, rc, out


@pytest.mark.parametrize("value", ["hmac-sha256", DSIG + "hmac-sha1"])
def test_configtest_refuses_hmac_in_the_signature_list(workdir, redis,
                                                       value):
    h, rc, out = configtest(workdir, redis,
                            qsso={"QSSOSignatureAlgorithms": value})
    assert rc != 0, out
    assert "QSSOSignatureAlgorithms" in out and "HMAC" in out, out
    assert h.conf in out, out


@pytest.mark.parametrize("directive,value,words", [
    ("QSSOSignatureAlgorithms", "rsa-md5", ["rsa-md5", "is not one of"]),
    ("QSSOEncryptionAlgorithms", "tripledes-cbc",
     ["tripledes-cbc", "is not one of"]),
    ("QSSOEncryptionAlgorithms", "kw-aes128", ["kw-aes128"]),
])
def test_configtest_refuses_unknown_algorithms(workdir, redis, directive,
                                               value, words):
    _, rc, out = configtest(workdir, redis, qsso={directive: value})
    assert rc != 0, out
    for w in [directive] + words:
        assert w in out, out


def test_configtest_accepts_algorithm_lists(workdir, redis):
    _, rc, out = configtest(workdir, redis, qsso={
        "QSSOSignatureAlgorithms": "RSA-SHA256 " + MORE + "ecdsa-sha384",
        "QSSOEncryptionAlgorithms": "rsa-oaep-mgf1p aes256-gcm",
        "QSSORequireEncryptedAssertion": "On"})
    assert rc == 0, out


def test_configtest_refuses_required_encryption_without_key(workdir, redis):
    _, rc, out = configtest(workdir, redis, qsso={
        "QSSORequireEncryptedAssertion": "On",
        "QSSOSPPrivateKeyFile": None, "QSSOSignRequest": None})
    assert rc != 0, out
    assert "QSSORequireEncryptedAssertion On needs QSSOSPPrivateKeyFile" \
        in out, out


@pytest.mark.parametrize("directive,name", [
    ("QSSOSPPrivateKeyFile", "weak.key"), ("QSSOSPCertFile", "weak.crt")])
def test_configtest_refuses_sp_keys_under_2048_bits(workdir, redis,
                                                    directive, name):
    path = os.path.join(samlidp.KEYS, name)
    _, rc, out = configtest(workdir, redis, qsso={directive: path})
    assert rc != 0, out
    assert directive in out and path in out, out
    assert "1024-bit RSA key; at least 2048 bits are required" in out, out


def test_configtest_refuses_idp_certificate_under_2048_bits(workdir, redis):
    h, rc, out = configtest(workdir, redis, certs=("idp1", "weak"))
    assert rc != 0, out
    assert h.idp_metadata in out, out
    assert "signing certificate 2 has a 1024-bit RSA key" in out, out
