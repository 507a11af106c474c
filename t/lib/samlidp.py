"""A SAML 2.0 IdP for tests and the demo, built on pysaml2 (an independent
implementation): it writes IdP metadata, reads AuthnRequests in both
bindings, and signs Responses with xmlsec1. Nothing here knows mod_qsso's
internals; it only speaks SAML.

Used by t/integration (the test IdP), t/unit/fixtures/make.py (signed
fixtures for the C unit tests) and demo/idp.py (the demo IdP).
"""
import base64
import os
import tempfile
import urllib.parse
import zlib

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(os.path.dirname(HERE), "keys")
XMLSEC = "/usr/bin/xmlsec1"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}


def key_path(name):
    """Path of t/keys/NAME.key and NAME.crt (idp1, idp2, sp, attacker)."""
    return os.path.join(KEYS, name + ".key"), os.path.join(KEYS, name + ".crt")


def cert_b64(name):
    with open(key_path(name)[1]) as f:
        pem = f.read()
    return "".join(l for l in pem.splitlines() if "-----" not in l)


def idp_metadata(entity_id, sso_url, certs=("idp1",), sso_post_url=None):
    """An IdP EntityDescriptor with both SSO bindings and one signing
    KeyDescriptor per certificate name."""
    kds = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        "<ds:X509Certificate>%s</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>" % cert_b64(c)
        for c in certs)
    return (
        '<?xml version="1.0"?>\n'
        '<md:EntityDescriptor xmlns:md="%(md)s" xmlns:ds="%(ds)s" '
        'entityID="%(eid)s"><md:IDPSSODescriptor '
        'WantAuthnRequestsSigned="false" protocolSupportEnumeration='
        '"urn:oasis:names:tc:SAML:2.0:protocol">%(kds)s'
        "<md:NameIDFormat>%(nif)s</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="%(br)s" Location="%(url)s"/>'
        '<md:SingleSignOnService Binding="%(bp)s" Location="%(purl)s"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>\n"
        % {"md": NS["md"], "ds": NS["ds"], "eid": entity_id, "kds": kds,
           "nif": NAMEID_FORMAT_EMAILADDRESS, "br": BINDING_HTTP_REDIRECT,
           "bp": BINDING_HTTP_POST, "url": sso_url,
           "purl": sso_post_url or sso_url})


def sp_metadata(entity_id, acs_url):
    """Enough SP metadata for pysaml2 to answer an SP it has not fetched."""
    return (
        '<md:EntityDescriptor xmlns:md="%s" entityID="%s">'
        '<md:SPSSODescriptor protocolSupportEnumeration='
        '"urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService Binding="%s" Location="%s" index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
        % (NS["md"], entity_id, BINDING_HTTP_POST, acs_url))


class IdP:
    """One IdP entity; sign with any key name in t/keys (the metadata
    decides which of them the SP trusts)."""

    def __init__(self, entity_id, sso_url, sp_entity_id, acs_url):
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.sp_entity_id = sp_entity_id
        self.acs_url = acs_url
        self._servers = {}

    def _server(self, key):
        if key not in self._servers:
            kf, cf = key_path(key)
            conf = IdPConfig()
            conf.load({
                "entityid": self.entity_id,
                "xmlsec_binary": XMLSEC,
                "key_file": kf,
                "cert_file": cf,
                "metadata": {"inline": [
                    sp_metadata(self.sp_entity_id, self.acs_url)]},
                "service": {"idp": {
                    "endpoints": {"single_sign_on_service": [
                        (self.sso_url, BINDING_HTTP_REDIRECT),
                        (self.sso_url, BINDING_HTTP_POST)]},
                    "policy": {"default": {
                        "lifetime": {"minutes": 5},
                        "name_form": NAME_FORMAT_URI,
                        "attribute_restrictions": None}},
                    "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                }},
            })
            self._servers[key] = Server(config=conf)
        return self._servers[key]

    def response(self, attrs, name_id, in_response_to=None,
                 sign_response=True, sign_assertion=False, key="idp1",
                 sign_alg=RSA_SHA256, digest_alg=SHA256,
                 session_not_on_or_after=None, destination=None,
                 audience=None):
        """A signed samlp:Response as an XML string. attrs maps attribute
        Name to a list of values; names pysaml2 knows no mapping for are
        sent exactly as given."""
        srv = self._server(key)
        kwargs = {}
        if session_not_on_or_after is not None:
            kwargs["session_not_on_or_after"] = session_not_on_or_after
        xml = srv.create_authn_response(
            attrs, in_response_to, destination or self.acs_url,
            audience or self.sp_entity_id,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name_id),
            sign_response=sign_response, sign_assertion=sign_assertion,
            sign_alg=sign_alg, digest_alg=digest_alg,
            authn={"class_ref":
                   "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            **kwargs)
        return str(xml)


def b64(xml):
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    return base64.b64encode(xml).decode("ascii")


def decode_redirect(location):
    """(AuthnRequest XML, query dict) from an HTTP-Redirect Location."""
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query,
                              keep_blank_values=True)
    q = {k: v[0] for k, v in q.items()}
    raw = base64.b64decode(q["SAMLRequest"])
    return zlib.decompress(raw, -15).decode("utf-8"), q


def verify_redirect_signature(location, cert_name):
    """True when the SigAlg/Signature of an HTTP-Redirect URL verify with
    the named certificate (SAML Bindings 3.4.4.1: signed over the raw
    query parameters in order SAMLRequest, RelayState, SigAlg)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    query = urllib.parse.urlsplit(location).query
    parts = dict(p.split("=", 1) for p in query.split("&"))
    signed = "&".join("%s=%s" % (k, parts[k])
                      for k in ("SAMLRequest", "RelayState", "SigAlg")
                      if k in parts)
    sig = base64.b64decode(urllib.parse.unquote(parts["Signature"]))
    with open(key_path(cert_name)[1], "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    try:
        cert.public_key().verify(sig, signed.encode(), padding.PKCS1v15(),
                                 hashes.SHA256())
        return True
    except Exception:
        return False


def verify_xml_signature(xml, cert_name, node="urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"):
    """True when xmlsec1 verifies the enveloped signature of xml with the
    named certificate alone."""
    import subprocess
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
        path = f.name
    try:
        r = subprocess.run(
            [XMLSEC, "--verify", "--pubkey-cert-pem", key_path(cert_name)[1],
             "--id-attr:ID", node, path], capture_output=True)
        return r.returncode == 0
    finally:
        os.unlink(path)
