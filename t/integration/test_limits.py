"""Limits on what a signed response may carry, each with its own code and
each next to an input just under the limit that signs in: real httpd +
mod_qsso and Redis, responses built and signed by pysaml2.

  depth            64 levels of elements accepted, 65 refused (2130)
  Attribute count  256 accepted, 257 refused (2131)
  value size       16384 bytes accepted, 16385 refused (2132)"""
import pytest
from lxml import etree

import samlenc
import harness
import samlidp
from harness import EMAIL, IDP_ENTITY, IDP_SSO, Browser, env_of, refused

NS = samlenc.NS
MALLORY = "mallory@example.org"
EXTRA = "http://example.org/claims/extra-%d"
BIG = "http://example.org/claims/big"
idp_for = harness.idp_for


class Attempt(harness.Attempt):
    def response(self, attrs=None, signed="response"):
        a = {EMAIL: [MALLORY]}
        a.update(attrs or {})
        return self.b.idp.response(
            a, MALLORY, in_response_to=self.request_id,
            sign_response=signed == "response",
            sign_assertion=signed == "assertion")

    def post(self, xml):
        return self.b.post_acs(xml, self.relay)


def signed_in(b, r):
    assert r.status_code == 303, (r.status_code, r.text[:400])
    page = b.get("/dash/")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    assert env_of(page.text)["QSSO_EMAIL"] == MALLORY


def attributes(n):
    """n Attribute elements in all: the email and n - 1 others."""
    return {EXTRA % i: ["v%d" % i] for i in range(n - 1)}


def count_attributes(xml):
    return len(etree.fromstring(xml.encode()).findall(
        ".//saml:AttributeStatement/saml:Attribute", NS))


# --------------------------------------------------- number of attributes

@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_accepts_256_attributes(site, signed):
    a = Attempt(site)
    xml = a.response(attributes(256), signed=signed)
    assert count_attributes(xml) == 256
    signed_in(a.b, a.post(xml))


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_257_attributes_2131(site, refusal, signed):
    a = Attempt(site)
    xml = a.response(attributes(257), signed=signed)
    assert count_attributes(xml) == 257
    line = refused(refusal, site, a.b, a.post(xml), 403, 2131)
    assert "257 Attribute elements; at most 256" in line, line


# ------------------------------------------------------ size of a value

def test_acs_accepts_a_value_of_16384_bytes(site):
    a = Attempt(site)
    signed_in(a.b, a.post(a.response({BIG: ["x" * 16384]})))


@pytest.mark.parametrize("signed", ["response", "assertion"])
def test_acs_refuses_a_value_of_16385_bytes_2132(site, refusal, signed):
    a = Attempt(site)
    xml = a.response({BIG: ["short", "x" * 16385]}, signed=signed)
    line = refused(refusal, site, a.b, a.post(xml), 403, 2132)
    assert BIG in line and "16385 bytes" in line, line


def test_acs_counts_bytes_not_characters(site, refusal):
    """8193 two-byte characters are 16386 bytes."""
    a = Attempt(site)
    line = refused(refusal, site, a.b,
                   a.post(a.response({BIG: ["\u00e9" * 8193]})), 403, 2132)
    assert "16386 bytes" in line, line


# ---------------------------------------------------------------- depth

def _nested(levels):
    """An edit: Extensions holding `levels` nested elements, after the
    Issuer and Signature (the caller signs again)."""
    def edit(root):
        ext = etree.Element("{%s}Extensions" % NS["samlp"])
        root.find("samlp:Status", NS).addprevious(ext)
        e = ext
        for _ in range(levels):
            e = etree.SubElement(e, "{urn:x-qsso-test}e")
    return edit


def test_acs_accepts_a_response_64_levels_deep(site):
    # Response (1) / Extensions (2) / 62 more
    a = Attempt(site)
    doc = etree.fromstring(a.response().encode())
    _nested(62)(doc)
    xml = samlenc.resign((a.b.idp, "idp1"), etree.tostring(
        doc, encoding="unicode"))
    signed_in(a.b, a.post(xml))


def test_acs_refuses_a_response_65_levels_deep_2130(site, refusal):
    a = Attempt(site)
    doc = etree.fromstring(a.response().encode())
    _nested(63)(doc)
    xml = samlenc.resign((a.b.idp, "idp1"), etree.tostring(
        doc, encoding="unicode"))
    line = refused(refusal, site, a.b, a.post(xml), 400, 2130)
    assert "more than 64 levels" in line, line


def test_acs_refuses_deep_nesting_far_past_the_limit_2130(site, refusal):
    """Far past libxml2's own limit (256): still the depth code."""
    a = Attempt(site)
    xml = a.response().replace(
        "<ns0:Status>", "<ns0:Extensions>" + "<e>" * 5000 + "</e>" * 5000
        + "</ns0:Extensions><ns0:Status>", 1)
    refused(refusal, site, a.b, a.post(xml), 400, 2130)
