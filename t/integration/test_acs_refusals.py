"""What the ACS refuses, each refusal next to its untampered twin that
signs in: real httpd + mod_qsso, real redis-server, responses signed by
pysaml2 (xmlsec1) and tampered with lxml after signing (never re-signed).

A refused attempt asserts the status, the code and reference on the page,
the one error_log line with the same code and reference, and that no
session cookie was set. Its twin starts a NEW login (pending requests are
used once, assertion IDs are replay-protected) and posts the same kind of
response untampered: 303, a session cookie, and GET /dash/ answers 200
with the identity from the assertion."""
import contextlib
import copy
import re
import time
import urllib.parse
from unittest import mock

import pytest
import requests
import saml2.assertion
import saml2.entity
from lxml import etree

import samlidp
import harness
from harness import EMAIL, IDP_ENTITY, IDP_SSO, Browser, env_of, refused

NS = samlidp.NS
DS = "{%s}" % NS["ds"]
SAMLP = "{%s}" % NS["samlp"]
MALLORY = "mallory@example.org"     # the attacker's own, real account
VICTIM = "admin@example.org"        # whom the forged assertion claims
CAP = 256 * 1024
_IDPS = {}


# ---------------------------------------------------------------- helpers

def idp_for(site, entity_id=IDP_ENTITY, sp_entity=None):
    """One pysaml2 IdP per (site, IdP entity, SP entity it knows): building
    its Server is slow."""
    key = (sp_entity or site.sp_entity, site.acs_url, entity_id)
    if key not in _IDPS:
        _IDPS[key] = samlidp.IdP(entity_id, IDP_SSO, key[0], site.acs_url)
    return _IDPS[key]


def browser(site):
    b = Browser(site)
    b.idp = idp_for(site)
    return b


def signing(how):
    """response / assertion / both / none -> pysaml2 sign flags."""
    return {"sign_response": how in ("response", "both"),
            "sign_assertion": how in ("assertion", "both")}


class Attempt:
    """One SP-initiated login: a fresh pending request and its browser."""

    def __init__(self, site, path="/dash/"):
        self.site = site
        self.b = browser(site)
        xml, self.relay, _ = self.b.start_login(path)
        self.request_id = Browser.request_id(xml)

    def response(self, email=MALLORY, name_id=None, signed="response",
                 idp=None, **kw):
        kw.setdefault("in_response_to", self.request_id)
        for k, v in signing(signed).items():
            kw.setdefault(k, v)
        return (idp or self.b.idp).response({EMAIL: [email]},
                                            name_id or email, **kw)

    def post(self, xml, relay=Ellipsis, raw=None):
        return self.b.post_acs(xml, self.relay if relay is Ellipsis
                               else relay, raw=raw)


def signed_in(site, b, r, email, landing="/dash/", name_id=None):
    """The ACS answer r signed b in as email; returns the session's env."""
    assert r.status_code == 303, (r.status_code, r.text[:400])
    assert r.headers["Location"] == landing
    assert b.cookie and b.cookie[0] == "qsso_session", r.headers
    page = b.get("/dash/")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    env = env_of(page.text)
    assert env["QSSO_EMAIL"] == email, env
    assert env["QSSO_NAMEID"] == (name_id or email), env
    assert env["QSSO_IDP"] == IDP_ENTITY, env
    return env


def twin_accepted(site, signed="response", email=MALLORY, **kw):
    """The untampered twin: a new login, the same kind of response."""
    a = Attempt(site)
    r = a.post(a.response(email=email, signed=signed, **kw))
    return signed_in(site, a.b, r, email)


def tree(xml):
    return etree.fromstring(xml.encode("utf-8") if isinstance(xml, str)
                            else xml)


def text(root):
    return etree.tostring(root, encoding="unicode")


def one(node, path):
    found = node.findall(path, NS)
    assert len(found) == 1, (path, len(found))
    return found[0]


def forge(assertion, new_id="_forged0001", who=VICTIM):
    """An unsigned copy of assertion that claims to be `who`."""
    f = copy.deepcopy(assertion)
    for s in f.findall("ds:Signature", NS):
        f.remove(s)
    if new_id is not None:
        f.set("ID", new_id)
    one(f, "saml:Subject/saml:NameID").text = who
    for v in f.iterfind(".//saml:AttributeValue", NS):
        v.text = who
    return f


def extensions_after_header(resp):
    """A samlp:Extensions in its schema place (after Issuer/Signature)."""
    ext = etree.Element(SAMLP + "Extensions")
    one(resp, "samlp:Status").addprevious(ext)
    return ext


def ts(delta):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time()
                                                           + delta))


@contextlib.contextmanager
def idp_writes(conditions=None, confirmation=None):
    """Let pysaml2 itself write (and then sign) odd Conditions or
    SubjectConfirmationData: the hooks edit the objects it builds before
    it serialises and signs them."""
    orig_cond = saml2.assertion.Policy.conditions
    orig_subject = saml2.assertion.do_subject

    def cond(self, sp_entity_id):
        c = orig_cond(self, sp_entity_id)
        if conditions:
            conditions(c)
        return c

    def subject(*a, **kw):
        s = orig_subject(*a, **kw)
        if confirmation:
            for sc in s.subject_confirmation:
                confirmation(sc.subject_confirmation_data)
        return s

    with mock.patch.object(saml2.assertion.Policy, "conditions", cond), \
            mock.patch.object(saml2.assertion, "do_subject", subject):
        yield


# ----------------------------------------------- signatures: who signed it

@pytest.mark.parametrize("signed", ["response", "assertion", "both"])
def test_acs_accepts_signed_response_or_assertion(site, signed):
    twin_accepted(site, signed=signed)


def test_acs_refuses_unsigned_response_2110(site, refusal):
    a = Attempt(site)
    r = a.post(a.response(signed="none"))
    refused(refusal, site, a.b, r, 403, 2110)
    twin_accepted(site)


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_response_with_signature_removed_2110(site, refusal,
                                                          signed):
    a = Attempt(site)
    doc = tree(a.response(signed=signed))
    for sig in doc.iterfind(".//ds:Signature", NS):
        sig.getparent().remove(sig)
    r = a.post(text(doc))
    refused(refusal, site, a.b, r, 403, 2110)
    twin_accepted(site, signed=signed)


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_key_not_in_metadata_even_with_cert_in_keyinfo_2111(
        site, refusal, signed):
    a = Attempt(site)
    xml = a.response(signed=signed, key="attacker")
    # pysaml2 puts the signer's certificate into KeyInfo: the module must
    # use the metadata key, not this one.
    kinfo = one(tree(xml), ".//ds:Signature/ds:KeyInfo/ds:X509Data/"
                "ds:X509Certificate").text
    assert "".join(kinfo.split()) == samlidp.cert_b64("attacker")
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2111)
    twin_accepted(site, signed=signed)


def test_acs_accepts_second_metadata_certificate(fresh):
    h = fresh.start(certs=("idp1", "idp2"))
    twin_accepted(h, key="idp2")
    twin_accepted(h, key="idp1")


def test_acs_refuses_second_certificate_when_metadata_lacks_it_2111(
        site, refusal):
    a = Attempt(site)
    r = a.post(a.response(key="idp2"))
    refused(refusal, site, a.b, r, 403, 2111)
    twin_accepted(site, key="idp1")


@pytest.mark.parametrize("sig_alg,digest_alg", [
    (samlidp.RSA_SHA1, samlidp.SHA1),
    (samlidp.RSA_SHA1, samlidp.SHA256),
    (samlidp.RSA_SHA256, samlidp.SHA1),
], ids=["rsa-sha1+sha1", "rsa-sha1+sha256", "rsa-sha256+sha1"])
@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_sha1_signature_or_digest_2113(site, refusal, signed,
                                                   sig_alg, digest_alg):
    a = Attempt(site)
    r = a.post(a.response(signed=signed, sign_alg=sig_alg,
                          digest_alg=digest_alg))
    refused(refusal, site, a.b, r, 403, 2113)
    twin_accepted(site, signed=signed, sign_alg=samlidp.RSA_SHA256,
                  digest_alg=samlidp.SHA256)


# ------------------------------------------ values changed after signing

def _set_name_id(doc):
    one(doc, ".//saml:Assertion/saml:Subject/saml:NameID").text = VICTIM


def _set_email(doc):
    one(doc, ".//saml:AttributeValue").text = VICTIM


def _set_audience(doc):
    one(doc, ".//saml:Audience").text = "https://other-sp.example/saml"


def _drop_conditions(doc):
    c = one(doc, ".//saml:Assertion/saml:Conditions")
    c.getparent().remove(c)


@pytest.mark.parametrize("edit", [_set_name_id, _set_email, _set_audience,
                                  _drop_conditions],
                         ids=["nameid", "email", "audience", "conditions"])
@pytest.mark.parametrize("signed", ["response", "assertion", "both"])
def test_acs_refuses_value_changed_after_signing_2111(site, refusal, signed,
                                                      edit):
    a = Attempt(site)
    doc = tree(a.response(signed=signed))
    edit(doc)
    r = a.post(text(doc))
    refused(refusal, site, a.b, r, 403, 2111)
    twin_accepted(site, signed=signed)


# A comment splits the text node, and exclusive c14n without comments
# drops it, so the signature still verifies. An SP that reads only the
# first text node would see ana@example.org: the attack. The module must
# read the full text (or refuse). A CDATA section canonicalises to the
# same text, with the same risk.
@pytest.mark.parametrize("split", ["comment", "cdata"])
@pytest.mark.parametrize("where", ["nameid", "email"])
@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_reads_full_text_around_comment_inserted_after_signing(
        site, log, signed, where, split):
    full = "ana@example.org.evil.com"
    a = Attempt(site)
    doc = tree(a.response(email=full, signed=signed))
    node = one(doc, ".//saml:Subject/saml:NameID" if where == "nameid"
               else ".//saml:AttributeValue")
    assert node.text == full
    if split == "comment":
        node.text = "ana@example.org"
        c = etree.Comment("")
        c.tail = ".evil.com"
        node.append(c)
        xml = text(doc)
        assert "ana@example.org<!---->.evil.com" in xml
    else:
        node.text = "@@SPLIT@@"
        xml = text(doc).replace("@@SPLIT@@",
                                "ana@example.org<![CDATA[.evil.com]]>")
    r = a.post(xml)
    if r.status_code == 303:
        env = signed_in(site, a.b, r, full)
        assert env["REMOTE_USER"] == full
    else:   # refusing is fine too, reading it short is not
        code = int(re.search(r"QSSO(\d{4})", r.text).group(1))
        assert r.status_code in (400, 403), r.status_code
        line = log.refused(site, code)
        assert "ref=%s" % harness.ref_of(r.text) in line
        assert "Set-Cookie" not in r.headers
        twin_accepted(site, email=full, signed=signed)


# -------------------------------------------------- signature wrapping

def _assertion_forged_after(doc):
    sa = one(doc, "saml:Assertion")
    sa.addnext(forge(sa))


def _assertion_forged_before(doc):
    sa = one(doc, "saml:Assertion")
    sa.addprevious(forge(sa))


def _assertion_forged_before_with_same_id(doc):
    sa = one(doc, "saml:Assertion")
    sa.addprevious(forge(sa, new_id=None))


def _assertion_nested_in_forged(doc):
    sa = one(doc, "saml:Assertion")
    f = forge(sa)
    sa.addprevious(f)
    f.append(sa)            # the signed one now lives inside the forged one


def _assertion_moved_into_extensions(doc):
    sa = one(doc, "saml:Assertion")
    f = forge(sa)
    sa.addprevious(f)
    extensions_after_header(doc).append(sa)


def _assertion_only_in_extensions(doc):
    extensions_after_header(doc).append(one(doc, "saml:Assertion"))


def _assertion_in_ds_object_of_forged(doc):
    sa = one(doc, "saml:Assertion")
    f = forge(sa)
    sig = copy.deepcopy(one(sa, "ds:Signature"))
    f.insert(1, sig)        # after Issuer, as a real signature would sit
    etree.SubElement(sig, DS + "Object").append(sa)
    doc.append(f)


def _assertion_duplicated_with_new_id(doc):
    sa = one(doc, "saml:Assertion")
    dup = copy.deepcopy(sa)
    dup.set("ID", "_dup0001")
    sa.addnext(dup)


def _assertion_signature_moved_to_response(doc):
    # The signature now sits on the Response and references the (forged,
    # same-ID) assertion: it does not cover its parent.
    sa = one(doc, "saml:Assertion")
    sig = one(sa, "ds:Signature")
    one(doc, "saml:Issuer").addnext(sig)
    f = forge(sa, new_id=None)
    sa.getparent().replace(sa, f)


def _assertion_reference_retargeted(doc):
    ref = one(doc, "saml:Assertion/ds:Signature/ds:SignedInfo/ds:Reference")
    ref.set("URI", "#" + doc.get("ID"))


def _response_wrapped(doc, place, keep_id=False):
    """XSW1/XSW2: a new Response with a forged assertion and the original
    Signature; the original Response goes inside ds:Object or beside the
    Signature. Returns the new root."""
    orig = copy.deepcopy(doc)
    orig.remove(one(orig, "ds:Signature"))
    new = doc
    if not keep_id:
        new.set("ID", "_evilresponse01")
    sa = one(new, "saml:Assertion")
    new.replace(sa, forge(sa))
    sig = one(new, "ds:Signature")
    if place == "object":
        etree.SubElement(sig, DS + "Object").append(orig)
    else:
        sig.addprevious(orig)


def _response_xsw1_original_in_ds_object(doc):
    _response_wrapped(doc, "object")


def _response_xsw2_original_beside_signature(doc):
    _response_wrapped(doc, "sibling")


def _response_xsw_same_id_original_in_ds_object(doc):
    _response_wrapped(doc, "object", keep_id=True)


def _response_forged_on_top_signed_in_extensions(doc):
    sa = one(doc, "saml:Assertion")
    sa.addprevious(forge(sa))
    extensions_after_header(doc).append(sa)


def _response_forged_on_top_signed_in_signature_object(doc):
    # The enveloped-signature transform cuts the Signature (and its
    # Object) out of the digest, so the signed assertion can hide there.
    sa = one(doc, "saml:Assertion")
    sa.addprevious(forge(sa))
    etree.SubElement(one(doc, "ds:Signature"), DS + "Object").append(sa)


def _response_assertion_replaced_by_forged(doc):
    sa = one(doc, "saml:Assertion")
    doc.replace(sa, forge(sa, new_id=None))


def _response_forged_claims_response_id_via_xml_id(doc):
    # libxml2 registers xml:id as an ID by itself: a forged element that
    # borrows the signed Response's ID that way must not be what "#ID"
    # resolves to.
    sa = one(doc, "saml:Assertion")
    f = forge(sa)
    f.set("{http://www.w3.org/XML/1998/namespace}id", doc.get("ID"))
    doc.replace(sa, f)


def _response_reference_emptied(doc):
    one(doc, "ds:Signature/ds:SignedInfo/ds:Reference").set("URI", "")


def _response_duplicated_assertion(doc):
    _assertion_duplicated_with_new_id(doc)


WRAPPING = [
    # (signed, tamper, code)
    ("assertion", _assertion_forged_after, 2109),
    ("assertion", _assertion_forged_before, 2109),
    ("assertion", _assertion_forged_before_with_same_id, 2108),
    ("assertion", _assertion_nested_in_forged, 2109),
    ("assertion", _assertion_moved_into_extensions, 2109),
    ("assertion", _assertion_only_in_extensions, 2109),
    ("assertion", _assertion_in_ds_object_of_forged, 2109),
    ("assertion", _assertion_duplicated_with_new_id, 2109),
    ("assertion", _assertion_signature_moved_to_response, 2112),
    ("assertion", _assertion_reference_retargeted, 2112),
    ("response", _response_xsw1_original_in_ds_object, 2109),
    ("response", _response_xsw2_original_beside_signature, 2109),
    ("response", _response_xsw_same_id_original_in_ds_object, 2108),
    ("response", _response_forged_on_top_signed_in_extensions, 2109),
    ("response", _response_forged_on_top_signed_in_signature_object, 2109),
    ("response", _response_assertion_replaced_by_forged, 2111),
    ("response", _response_forged_claims_response_id_via_xml_id, 2108),
    ("response", _response_reference_emptied, 2112),
    ("response", _response_duplicated_assertion, 2109),
]


@pytest.mark.parametrize(
    "signed,tamper,code", WRAPPING,
    ids=["%s-%s-%d" % (s, t.__name__.split("_", 2)[2], c)
         for s, t, c in WRAPPING])
def test_acs_refuses_signature_wrapping(site, refusal, signed, tamper, code):
    """The attacker holds a real response for their own account (MALLORY)
    and rearranges it so that a forged assertion for VICTIM might be read.
    Never 303; the code is the one this module decides on (2108 duplicate
    ID, 2109 not exactly one top-level Assertion, 2111 bad digest, 2112
    reference not to the parent)."""
    a = Attempt(site)
    doc = tree(a.response(signed=signed))
    before = text(doc)
    tamper(doc)
    xml = text(doc)
    assert xml != before
    r = a.post(xml)
    assert r.status_code != 303
    refused(refusal, site, a.b, r, 403, code)
    twin_accepted(site, signed=signed)


# ------------------------------------------- who the response was for

def test_acs_refuses_response_for_other_audience_2104(site, refusal):
    other = "https://other-sp.example/saml"
    a = Attempt(site)
    # pysaml2 answers only SPs in its metadata: this IdP knows the other
    # SP (whose ACS is, by mistake or malice, ours).
    xml = a.response(audience=other, idp=idp_for(site, sp_entity=other))
    assert one(tree(xml), ".//saml:Audience").text == other
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2104)


def test_acs_accepts_response_for_this_audience(site):
    a = Attempt(site)
    xml = a.response(audience=site.sp_entity)
    assert one(tree(xml), ".//saml:Audience").text == site.sp_entity
    signed_in(site, a.b, a.post(xml), MALLORY)


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_response_sent_to_other_destination_2116(site, refusal,
                                                             signed):
    other = "https://other-sp.example/saml/acs"
    a = Attempt(site)
    xml = a.response(destination=other, signed=signed)
    assert tree(xml).get("Destination") == other
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2116)
    twin_accepted(site, signed=signed)


def test_acs_refuses_signed_response_without_destination_2116(site,
                                                              refusal):
    """SAML Bindings 3.5.5.2: a signed Response carries Destination.
    pysaml2 writes it; the hook drops it before signing."""
    a = Attempt(site)
    orig = saml2.entity.Entity._response

    def no_destination(self, in_response_to, consumer_url=None, *args,
                       **kw):
        return orig(self, in_response_to, None, *args, **kw)

    with mock.patch.object(saml2.entity.Entity, "_response",
                           no_destination):
        xml = a.response()
    assert tree(xml).get("Destination") is None
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2116)
    twin_accepted(site)


@pytest.mark.parametrize("recipient", [
    "https://other-sp.example/saml/acs", None],
    ids=["other-acs", "no-recipient"])
def test_acs_refuses_bearer_confirmation_for_other_recipient_2121(
        site, refusal, recipient):
    """pysaml2 writes the Destination as the Recipient; the hook makes the
    IdP sign a Recipient of another ACS while Destination stays ours."""
    a = Attempt(site)
    with idp_writes(confirmation=lambda scd: setattr(scd, "recipient",
                                                     recipient)):
        xml = a.response()
    doc = tree(xml)
    assert doc.get("Destination") == site.acs_url
    assert one(doc, ".//saml:SubjectConfirmationData").get(
        "Recipient") == recipient
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2121)
    twin_accepted(site)


def test_acs_refuses_confirmation_for_other_request_2123(site, refusal):
    a = Attempt(site)
    with idp_writes(confirmation=lambda scd: setattr(
            scd, "in_response_to", "_someotherrequest")):
        xml = a.response()
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2123)
    twin_accepted(site)


def test_acs_refuses_response_from_other_issuer_2115(site, refusal):
    """Signed with the trusted key, but the IdP calls itself otherwise."""
    other = idp_for(site, "https://rogue-idp.example/saml")
    a = Attempt(site)
    xml = a.response(idp=other)
    assert one(tree(xml), "saml:Assertion/saml:Issuer").text == \
        "https://rogue-idp.example/saml"
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2115)
    twin_accepted(site)


# ---------------------------------------------------------------- time

def _conditions(nb, noa):
    def edit(c):
        c.not_before = ts(nb)
        c.not_on_or_after = ts(noa)
    return edit


def _confirmation_until(noa):
    return lambda scd: setattr(scd, "not_on_or_after", ts(noa))


@pytest.mark.parametrize("hooks,code", [
    ({"conditions": _conditions(-7200, -3600)}, 2120),
    ({"conditions": _conditions(3600, 7200)}, 2119),
    ({"confirmation": _confirmation_until(-3600)}, 2122),
], ids=["conditions-expired-2120", "conditions-not-yet-valid-2119",
        "confirmation-expired-2122"])
def test_acs_refuses_response_outside_its_validity(site, refusal, hooks,
                                                   code):
    a = Attempt(site)
    with idp_writes(**hooks):
        xml = a.response()
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, code)
    twin_accepted(site)


def test_acs_accepts_times_within_clock_skew(site):
    """QSSOClockSkew defaults to 90 s: an IdP clock 30 s off still works."""
    for hooks in ({"conditions": _conditions(30, 300)},
                  {"conditions": _conditions(-300, -30),
                   "confirmation": _confirmation_until(-30)}):
        a = Attempt(site)
        with idp_writes(**hooks):
            xml = a.response()
        signed_in(site, a.b, a.post(xml), MALLORY)


# ---------------------------------------------------------------- status

def test_acs_refuses_error_status_from_idp_2114(site, refusal):
    a = Attempt(site)
    srv = a.b.idp._server("idp1")
    xml = str(srv.create_error_response(
        a.request_id, site.acs_url,
        ("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", "wrong password"),
        sign=True, sign_alg=samlidp.RSA_SHA256,
        digest_alg=samlidp.SHA256))
    assert "status:Responder" in xml and "Assertion" not in xml
    r = a.post(xml)
    refused(refusal, site, a.b, r, 403, 2114)
    twin_accepted(site)


def test_acs_refuses_error_status_beside_a_signed_assertion_2114(site,
                                                                 refusal):
    """Only the assertion is signed, so the Status can be edited; a
    non-Success status is refused even with a valid assertion."""
    a = Attempt(site)
    doc = tree(a.response(signed="assertion"))
    one(doc, "samlp:Status/samlp:StatusCode").set(
        "Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
    r = a.post(text(doc))
    refused(refusal, site, a.b, r, 403, 2114)
    twin_accepted(site, signed="assertion")


# ----------------------------------------------- pending request, replay

def test_acs_refuses_replay_of_accepted_response_2117(site, refusal):
    a = Attempt(site)
    xml = a.response()
    signed_in(site, a.b, a.post(xml), MALLORY)
    # Same response again, from a browser with no session: the pending
    # request it answers was used.
    b2 = browser(site)
    r = b2.post_acs(xml, a.relay)
    refused(refusal, site, b2, r, 403, 2117)


def test_acs_refuses_replay_with_a_new_pending_request_2117(site, refusal):
    a = Attempt(site)
    xml = a.response()
    signed_in(site, a.b, a.post(xml), MALLORY)
    a2 = Attempt(site)           # the attacker starts a login of their own
    r = a2.post(xml)
    refused(refusal, site, a2.b, r, 403, 2117)
    twin_accepted(site)


def test_acs_refuses_second_response_to_the_same_request_2117(site,
                                                              refusal):
    a = Attempt(site)
    first, second = a.response(), a.response()
    assert one(tree(first), "saml:Assertion").get("ID") != \
        one(tree(second), "saml:Assertion").get("ID")
    signed_in(site, a.b, a.post(first), MALLORY)
    b2 = browser(site)
    r = b2.post_acs(second, a.relay)
    refused(refusal, site, b2, r, 403, 2117)


def test_acs_refuses_response_to_a_request_never_made_2117(site, refusal):
    a = Attempt(site)
    r = a.post(a.response(in_response_to="_0123456789abcdef0123456789abcdef"))
    refused(refusal, site, a.b, r, 403, 2117)
    twin_accepted(site)


def test_acs_refuses_replayed_idp_initiated_assertion_2124(site, refusal):
    b = browser(site)
    xml = b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None)
    signed_in(site, b, b.post_acs(xml), MALLORY, landing="/")
    b2 = browser(site)
    r = b2.post_acs(xml)
    refused(refusal, site, b2, r, 403, 2124)


@pytest.mark.parametrize("relay", ["0" * 32, "", None],
                         ids=["other", "empty", "missing"])
def test_acs_refuses_relay_state_not_issued_with_the_request_2125(
        site, refusal, relay):
    a = Attempt(site)
    assert a.relay and a.relay != relay
    r = a.post(a.response(), relay=relay)
    refused(refusal, site, a.b, r, 403, 2125)
    twin_accepted(site)


# ------------------------------------------------------- IdP-initiated

def test_acs_accepts_idp_initiated_and_lands_on_default(site):
    b = browser(site)
    xml = b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None)
    assert "InResponseTo" not in xml
    signed_in(site, b, b.post_acs(xml), MALLORY, landing="/")


def test_acs_accepts_idp_initiated_and_lands_on_local_relay_state(site):
    b = browser(site)
    xml = b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None)
    signed_in(site, b, b.post_acs(xml, "/dash/?a=1"), MALLORY,
              landing="/dash/?a=1")


def test_acs_idp_initiated_lands_on_configured_default_relay_state(fresh):
    h = fresh.start(qsso={"QSSODefaultRelayState": "/dash/?from=idp"})
    b = browser(h)
    xml = b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None)
    signed_in(h, b, b.post_acs(xml, "https://evil.example/"), MALLORY,
              landing="/dash/?from=idp")


def test_acs_refuses_idp_initiated_when_off_2118(fresh, refusal):
    h = fresh.start(qsso={"QSSOAllowIdPInitiated": "Off"})
    b = browser(h)
    xml = b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None)
    r = b.post_acs(xml, "/dash/")
    refused(refusal, h, b, r, 403, 2118)
    twin_accepted(h)          # SP-initiated still works there


def _unsolicited_wrapped_for(a, signed="assertion"):
    """An IdP-initiated response (no InResponseTo in the assertion) whose
    unsigned Response now claims to answer the attacker's own pending
    request a. Only the assertion is signed, so the Response's
    InResponseTo is not covered by any signature."""
    xml = a.b.idp.response({EMAIL: [MALLORY]}, MALLORY, in_response_to=None,
                           **signing(signed))
    doc = tree(xml)
    assert one(doc, ".//saml:SubjectConfirmationData").get(
        "InResponseTo") is None
    doc.set("InResponseTo", a.request_id)
    return text(doc)


@pytest.mark.parametrize("edit", ["removed", "other-request"])
def test_acs_refuses_solicited_assertion_with_response_in_response_to_edited(
        site, refusal, edit):
    """Only the assertion is signed; its confirmation names request A.
    Dropping InResponseTo from the unsigned Response (to pass it off as
    IdP-initiated) or pointing it at another pending request is 2123."""
    a = Attempt(site)
    doc = tree(a.response(signed="assertion"))
    assert one(doc, ".//saml:SubjectConfirmationData").get(
        "InResponseTo") == a.request_id
    if edit == "removed":
        del doc.attrib["InResponseTo"]
        b, r = a.b, a.post(text(doc), relay=None)
    else:
        a2 = Attempt(site)
        doc.set("InResponseTo", a2.request_id)
        b, r = a2.b, a2.post(text(doc))
    refused(refusal, site, b, r, 403, 2123)
    twin_accepted(site, signed="assertion")


def test_acs_refuses_unsolicited_assertion_wrapped_as_answer_when_off(
        fresh, log):
    """QSSOAllowIdPInitiated Off must not be bypassed by writing
    InResponseTo on the unsigned Response around an unsolicited signed
    assertion: Profiles 4.1.4.2 ties a solicited assertion to the request
    through the bearer SubjectConfirmationData InResponseTo, which here is
    absent. Expected: refused, 2123 (confirmation InResponseTo differs from
    the Response's) or 2118 (unsolicited while Off)."""
    h = fresh.start(qsso={"QSSOAllowIdPInitiated": "Off"})
    a = Attempt(h)
    r = a.post(_unsolicited_wrapped_for(a))
    assert r.status_code == 403, (r.status_code, r.headers.get("Location"))
    code = int(re.search(r"QSSO(\d{4})", r.text).group(1))
    assert code in (2118, 2123), code
    ref = harness.ref_of(r.text)
    assert "ref=%s" % ref in log.refused(h, code)
    assert "Set-Cookie" not in r.headers
    twin_accepted(h, signed="assertion")


# ------------------------------------------------ the POST itself, XML

@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_acs_refuses_other_methods_405_2101(site, refusal, method):
    b = browser(site)
    r = b.request(method, "/qsso/acs")
    refused(refusal, site, b, r, 405, 2101)
    twin_accepted(site)


def test_acs_405_allow_header_lists_post(site, log):
    """RFC 9110 15.5.6: a 405 lists the methods the resource supports. The
    module sets err_headers_out Allow: POST, but httpd rebuilds Allow from
    r->allowed for a 405, so without r->allowed |= AP_METHOD_BIT << M_POST
    the client is told "Allow: TRACE"."""
    log.expect(r"\] QSSO2101: ")
    r = browser(site).get("/qsso/acs")
    assert r.status_code == 405
    methods = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert "POST" in methods and "GET" not in methods, r.headers.get("Allow")


def _post_raw(site, body, ctype="application/x-www-form-urlencoded",
              **kw):
    headers = {"Content-Type": ctype} if ctype else {}
    return requests.post(site.acs_url, data=body, headers=headers,
                         allow_redirects=False, timeout=10, **kw)


@pytest.mark.parametrize("body", [
    "SAMLResponse=", "SAMLResponse", "RelayState=abc", "",
    "SAMLResponse=this+is+not+base64%21",
    "SAMLResponse=PHNhbWxwOlJlc3BvbnNl%3D%3DAAAA",      # data after padding
    "SAMLResponse=PHNhbWxwOlJlc3BvbnNl%3D%3D%3D",       # too much padding
    "SAMLResponse=%ZZ",
], ids=["empty", "no-value", "missing", "no-body", "not-base64",
        "data-after-padding", "too-much-padding", "bad-url-escape"])
def test_acs_refuses_missing_or_non_base64_response_2103(site, refusal,
                                                         body):
    b = browser(site)
    r = _post_raw(site, body)
    refused(refusal, site, b, r, 400, 2103)
    twin_accepted(site)


def test_acs_refuses_non_form_content_type_2103(site, refusal):
    a = Attempt(site)
    body = "SAMLResponse=" + urllib.parse.quote(samlidp.b64(a.response()),
                                                safe="")
    r = _post_raw(site, body, ctype="text/plain")
    refused(refusal, site, a.b, r, 400, 2103)
    twin_accepted(site)


def _padded_body(xml, relay, pad):
    """A form body: the base64 response with `pad` line breaks (which
    base64 allows) appended, each sent as %0A."""
    return ("SAMLResponse=" + urllib.parse.quote(samlidp.b64(xml), safe="")
            + "%0A" * pad + "&RelayState=" + relay)


def test_acs_cap_is_256_kib(site, refusal):
    """The same kind of signed response, padded with base64 line breaks:
    just under the cap it signs in, just over it is 413."""
    a = Attempt(site)
    xml = a.response()
    bare = len(_padded_body(xml, a.relay, 0))
    body = _padded_body(xml, a.relay, (CAP - bare) // 3)
    assert CAP - 3 < len(body) <= CAP
    r = _post_raw(site, body)
    a.b.take_cookie(r)
    signed_in(site, a.b, r, MALLORY)

    a2 = Attempt(site)
    xml2 = a2.response()
    bare = len(_padded_body(xml2, a2.relay, 0))
    body = _padded_body(xml2, a2.relay, (CAP - bare) // 3 + 1)
    assert CAP < len(body) <= CAP + 3
    r = _post_raw(site, body)
    refused(refusal, site, a2.b, r, 413, 2102)


def test_acs_refuses_oversized_body_413_2102(site, refusal):
    b = browser(site)
    r = _post_raw(site, "SAMLResponse=" + "A" * (300 * 1024))
    refused(refusal, site, b, r, 413, 2102)
    twin_accepted(site)


def test_acs_refuses_oversized_chunked_body_413_2102(site, refusal):
    def chunks():
        yield b"SAMLResponse="
        for _ in range(40):
            yield b"A" * 8192
    b = browser(site)
    r = _post_raw(site, chunks())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    refused(refusal, site, b, r, 413, 2102)
    twin_accepted(site)


def _with_doctype(xml, doctype, name_id_text):
    doc = tree(xml)
    one(doc, ".//saml:Subject/saml:NameID").text = "@@NAMEID@@"
    body = text(doc).replace("@@NAMEID@@", name_id_text)
    return '<?xml version="1.0"?>\n' + doctype + "\n" + body


LOL = "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10)
              for i in range(1, 10))
DOCTYPES = [
    ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>', "&xxe;"),
    ('<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
     "ana"),
    ('<!DOCTYPE r [<!ENTITY lol0 "lol">' + LOL + ']>', "&lol9;"),
    ('<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">', "ana"),
    ("<!DOCTYPE r>", "ana"),
]


@pytest.mark.parametrize("doctype,name_id", DOCTYPES,
                         ids=["xxe-file", "xxe-http", "parameter-entity",
                              "billion-laughs", "external-dtd",
                              "empty-doctype"])
def test_acs_refuses_doctype_2106(site, refusal, doctype, name_id):
    a = Attempt(site)
    r = a.post(_with_doctype(a.response(), doctype, name_id))
    refused(refusal, site, a.b, r, 400, 2106)
    twin_accepted(site)


def test_acs_refuses_malformed_xml_2105(site, refusal):
    a = Attempt(site)
    r = a.post(a.response()[:-40])
    refused(refusal, site, a.b, r, 400, 2105)
    twin_accepted(site)


def test_acs_refuses_root_that_is_not_a_response_2107(site, refusal):
    a = Attempt(site)
    sa = one(tree(a.response(signed="assertion")), "saml:Assertion")
    r = a.post(text(sa))        # the signed assertion alone
    refused(refusal, site, a.b, r, 400, 2107)
    twin_accepted(site, signed="assertion")
