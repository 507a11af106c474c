"""Encrypted assertions for tests, made by implementations independent of
mod_qsso: the xmlsec1 command-line tool (XML Encryption, one template per
algorithm pair) over an assertion that pysaml2 built and signed, and
pysaml2's own encrypt_assertion path. Also re-signing with xmlsec1 under a
changed signature template (other canonicalizations and transforms), so a
policy refusal is tested on a signature that would otherwise verify.

Used by t/unit/fixtures/make.py and t/integration (test_encryption.py,
test_algorithms.py). Nothing here knows mod_qsso's internals.
"""
import copy
import os
import subprocess
import tempfile

from lxml import etree

import samlidp

XMLSEC = samlidp.XMLSEC
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS = dict(samlidp.NS, xenc=XENC)
SAML = "{%s}" % NS["saml"]
DS = "{%s}" % NS["ds"]
XE = "{%s}" % XENC
RESPONSE = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"

# Key transport: name -> Algorithm URI
TRANSPORT = {
    "rsa-oaep-mgf1p": XENC + "rsa-oaep-mgf1p",
    "rsa-1_5": XENC + "rsa-1_5",
}
# Content: name -> (Algorithm URI, xmlsec1 --session-key)
CONTENT = {
    "aes128-cbc": (XENC + "aes128-cbc", "aes-128"),
    "aes256-cbc": (XENC + "aes256-cbc", "aes-256"),
    "aes128-gcm": (XENC11 + "aes128-gcm", "aes-128"),
    "aes256-gcm": (XENC11 + "aes256-gcm", "aes-256"),
    "aes192-cbc": (XENC + "aes192-cbc", "aes-192"),
    "tripledes-cbc": (XENC + "tripledes-cbc", "des-192"),
}
# What mod_qsso accepts by default, for the matrix tests.
DEFAULT_PAIRS = [(t, c) for t in ("rsa-oaep-mgf1p",)
                 for c in ("aes128-cbc", "aes256-cbc", "aes128-gcm",
                           "aes256-gcm")]
ALL_PAIRS = [(t, c) for t in ("rsa-oaep-mgf1p", "rsa-1_5")
             for c in ("aes128-cbc", "aes256-cbc", "aes128-gcm",
                       "aes256-gcm")]

C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_INCL = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_INCL_WC = C14N_INCL + "#WithComments"
C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"


def _run(args, cwd):
    r = subprocess.run([XMLSEC] + args, cwd=cwd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("xmlsec1 %s failed: %s" % (
            " ".join(args), r.stderr.decode("utf-8", "replace")[-2000:]))


def template(transport, content, key_info=True, recipient=None):
    """An xenc:EncryptedData template (Type Element) with the EncryptedKey
    inside its KeyInfo, for xmlsec1 --encrypt."""
    t_uri = TRANSPORT.get(transport, transport)
    c_uri = CONTENT[content][0] if content in CONTENT else content
    digest = ('<ds:DigestMethod Algorithm='
              '"http://www.w3.org/2000/09/xmldsig#sha1"/>'
              if "oaep" in t_uri else "")
    ek_ki = ("<ds:KeyInfo><ds:KeyName>sp</ds:KeyName></ds:KeyInfo>"
             if key_info else "")
    rcpt = ' Recipient="%s"' % recipient if recipient else ""
    return (
        '<xenc:EncryptedData xmlns:xenc="%(xenc)s" xmlns:ds="%(ds)s" '
        'Id="ED1" Type="%(xenc)sElement">'
        '<xenc:EncryptionMethod Algorithm="%(c)s"/>'
        '<ds:KeyInfo><xenc:EncryptedKey Id="EK1"%(rcpt)s>'
        '<xenc:EncryptionMethod Algorithm="%(t)s">%(digest)s'
        '</xenc:EncryptionMethod>%(ekki)s'
        '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>'
        '</xenc:EncryptedKey></ds:KeyInfo>'
        '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData>'
        '</xenc:EncryptedData>'
        % {"xenc": XENC, "ds": NS["ds"], "c": c_uri, "t": t_uri,
           "digest": digest, "ekki": ek_ki, "rcpt": rcpt})


def encrypt_xml(data, transport="rsa-oaep-mgf1p", content="aes128-cbc",
                cert="sp", recipient=None, binary=False):
    """xenc:EncryptedData (an lxml element) of the XML document `data`
    (bytes), encrypted with xmlsec1 to t/keys/CERT.crt. With binary, data
    is encrypted as it is, whatever it holds (still typed Element)."""
    session = CONTENT[content][1] if content in CONTENT else "aes-128"
    with tempfile.TemporaryDirectory(prefix="samlenc-") as d:
        with open(os.path.join(d, "data.xml"), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "tmpl.xml"), "w") as f:
            f.write(template(transport, content, recipient=recipient))
        _run(["--encrypt", "--pubkey-cert-pem", samlidp.key_path(cert)[1],
              "--session-key", session,
              "--binary-data" if binary else "--xml-data", "data.xml",
              "--output", "out.xml", "tmpl.xml"], d)
        with open(os.path.join(d, "out.xml"), "rb") as f:
            return etree.fromstring(f.read())


def encrypted_assertion(assertion, transport="rsa-oaep-mgf1p",
                        content="aes128-cbc", cert="sp", shape="inline",
                        recipient=None):
    """A saml:EncryptedAssertion (lxml) holding `assertion` (an lxml
    element, serialized on its own with the namespaces it uses).
    shape "sibling" puts the EncryptedKey next to the EncryptedData, with a
    same-document RetrievalMethod to it (as Shibboleth does)."""
    data = etree.tostring(assertion)
    ed = encrypt_xml(data, transport, content, cert, recipient)
    ea = etree.Element(SAML + "EncryptedAssertion",
                       nsmap={"saml": NS["saml"]})
    ea.append(ed)
    if shape == "sibling":
        ki = ed.find("ds:KeyInfo", NS)
        ek = ki.find("xenc:EncryptedKey", NS)
        ki.remove(ek)
        etree.SubElement(ki, DS + "RetrievalMethod", URI="#EK1",
                         Type=XENC + "EncryptedKey")
        ea.append(ek)
    return ea


def _text(root):
    return etree.tostring(root, xml_declaration=True,
                          encoding="UTF-8").decode("utf-8")


def encrypt_response(xml, resign_with=None, **kw):
    """The samlp:Response `xml` (str) with its Assertion replaced by an
    EncryptedAssertion (keyword arguments as for encrypted_assertion).
    When the Response is signed, pass resign_with (a pysaml2 Server, or a
    samlidp.IdP and key name as a tuple) to sign it again over the
    encrypted form."""
    root = etree.fromstring(xml.encode("utf-8"))
    a = root.find("saml:Assertion", NS)
    assert a is not None, "no top-level Assertion"
    root.replace(a, encrypted_assertion(a, **kw))
    text = _text(root)
    if root.find("ds:Signature", NS) is not None:
        assert resign_with is not None, "the Response signature must be made again"
        text = resign(resign_with, text)
    return text


def _server(signer):
    if isinstance(signer, tuple):
        idp, key = signer
        return idp._server(key)
    return signer


def resign(signer, xml, node=RESPONSE, node_id=None):
    """Signs again, with pysaml2 (xmlsec1), the Signature template of the
    element `node` whose ID is node_id (the root's by default): values are
    emptied and computed afresh."""
    root = etree.fromstring(xml.encode("utf-8"))
    if node_id is None:
        node_id = root.get("ID")
    target = root if root.get("ID") == node_id else root.find(
        ".//*[@ID='%s']" % node_id)
    sig = target.find("ds:Signature", NS)
    for v in sig.iter(DS + "DigestValue", DS + "SignatureValue"):
        v.text = ""
    return _server(signer).sec.sign_statement(_text(root), node,
                                              node_id=node_id)


def resign_with_template(signer, xml, edit, node=RESPONSE, node_id=None):
    """Applies edit(signature_element) to the ds:Signature of the element
    with ID node_id (the root by default) and signs again with xmlsec1, so
    the message carries a valid signature made with the edited template
    (another canonicalization, extra transforms)."""
    root = etree.fromstring(xml.encode("utf-8"))
    if node_id is None:
        node_id = root.get("ID")
    target = root if root.get("ID") == node_id else root.find(
        ".//*[@ID='%s']" % node_id)
    edit(target.find("ds:Signature", NS))
    return resign(signer, _text(root), node, node_id)


def set_c14n(uri):
    """An edit for resign_with_template: the CanonicalizationMethod."""
    def edit(sig):
        sig.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).set(
            "Algorithm", uri)
    return edit


def set_transforms(*transforms):
    """An edit for resign_with_template: the Reference's Transforms, each
    a URI or a (URI, child element) pair."""
    def edit(sig):
        ts = sig.find("ds:SignedInfo/ds:Reference/ds:Transforms", NS)
        for t in list(ts):
            ts.remove(t)
        for t in transforms:
            uri, child = t if isinstance(t, tuple) else (t, None)
            e = etree.SubElement(ts, DS + "Transform", Algorithm=uri)
            if child is not None:
                e.append(copy.deepcopy(child))
    return edit


def pysaml2_encrypt(signer, xml, content=None, transport=None,
                    session_key=None, cert="sp"):
    """pysaml2's own path (SecurityContext.encrypt_assertion with its
    pre_encryption_part template). Its defaults are 3DES content and
    RSA-OAEP; content/transport/session_key choose others."""
    from saml2 import samlp
    from saml2.sigver import pre_encryption_part
    kw = {"encrypt_cert": samlidp.cert_b64(cert)}
    if content:
        kw["msg_enc"] = CONTENT[content][0]
    if transport:
        kw["key_enc"] = TRANSPORT[transport]
    resp = samlp.response_from_string(xml)
    sec = _server(signer).sec
    args = {}
    if session_key or content:
        args["key_type"] = session_key or CONTENT[content][1]
    return sec.encrypt_assertion(resp, samlidp.key_path(cert)[1],
                                 pre_encryption_part(**kw), **args)
