#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (corpus/<target>/) from the
unit test fixtures (t/unit/fixtures, responses signed by pysaml2) and keys
(t/keys); the SCIM seeds are the requests Okta and Entra ID send, as in
t/integration/test_scim.py. Deterministic; run `make corpus` and commit
the result. Inputs named regress-* are crash regressions added by hand:
kept, never written.

`make_corpus.py --split FILE DIR` writes each line of FILE to its own file
in DIR, without the newline: `make replay` runs the open-redirect payload
list of ../shared/testdata through fuzz_redirect that way when it exists."""
import base64
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "t", "unit", "fixtures")
KEYS = os.path.join(ROOT, "t", "keys")

# The responses whose re-signed form (a '!' before the XML) is a seed: one
# per path past the signature (see fuzz_response.c).
RESIGN = ["response-signed", "response-both-signed", "response-idp-initiated",
          "response-session-end", "response-other-audience",
          "response-conditions-end-first", "response-other-recipient"]
B64 = ["response-signed", "response-both-signed", "response-unsigned",
       "response-status-responder", "response-encrypted"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def reset(target):
    """corpus/<target>/ without its generated seeds; regressions stay."""
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if not name.startswith("regress-"):
            os.remove(os.path.join(d, name))
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def response():
    d = reset("response")
    for f in sorted(os.listdir(FIX)):
        if not (f.startswith("response-") and f.endswith(".xml")):
            continue
        name = f[:-4]
        xml = read(os.path.join(FIX, f))
        write(d, "xml-" + name, xml)
        if name in RESIGN:
            write(d, "resign-" + name, b"!" + xml)
        if name in B64:
            write(d, "b64-" + name, base64.b64encode(xml))
    # as a browser posts it after URL decoding: wrapped lines
    xml = read(os.path.join(FIX, "response-signed.xml"))
    write(d, "b64-wrapped-response-signed",
          base64.encodebytes(xml).replace(b"\n", b"\r\n"))


def metadata():
    d = reset("metadata")
    for f in ("idp-metadata.xml", "idp-metadata-two-certs.xml",
              "sp-metadata.xml"):
        write(d, f[:-4], read(os.path.join(FIX, f)))
    md = read(os.path.join(FIX, "idp-metadata.xml")).decode("utf-8")
    body = md.split("?>", 1)[-1].strip()
    write(d, "entities-one-idp",
          '<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:'
          'metadata">' + body + "</md:EntitiesDescriptor>")


def codec():
    d = reset("codec")
    sp = read(os.path.join(FIX, "sp-metadata.xml"))
    # first byte: inflate's cap in 64-byte steps; the rest: raw DEFLATE
    write(d, "inflate-sp-metadata", bytes([16]) + raw_deflate(sp))
    write(d, "inflate-small-cap", bytes([1]) + raw_deflate(sp))
    pem = read(os.path.join(KEYS, "idp1.crt")).decode("ascii")
    b64 = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    write(d, "base64-certificate", b64)
    write(d, "base64-padding", "YWJjZA==")
    write(d, "url-return", "%2Fdash%2F%3Fa%3Db+c%26d%3D%C3%A9")
    write(d, "escape-markup", "<a href=\"x\">&amp;'</a>\t\x7f\xc3\xa9\\")


def cookie():
    d = reset("cookie")
    sid = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
    write(d, "header-one", "qsso_session=" + sid)
    write(d, "header-among-others",
          "theme=dark; qsso_session=%s; lang=en" % sid)
    write(d, "header-lookalike", "xqsso_session=%s;qsso_session=short" % sid)
    other = base64.urlsafe_b64encode(bytes(range(1, 33))).rstrip(b"=").decode()
    write(d, "header-shadowed", "qsso_session=%s; qsso_session=%s; "
          "qsso_session=%s" % (other, sid, other))
    write(d, "header-many", "; ".join(
        "qsso_session=%s%03d" % (sid[:40], i) for i in range(8)))
    # the current format: an SP line after the IdP, multi-values as lists
    fields = ["qsso3", "1894701900", "ana%40example.org", "ana%40example.org",
              "ana%40example.org", "https%3A%2F%2Fidp.example.org%2Fidp",
              "https%3A%2F%2Fportal.example.org%2Fqsso",
              "Ana", "Lima", "staff", "survey", "u-123",
              "staff,survey-admins",
              "costCenter=42&region=APAC,EMEA,APAC%3A%3AX&empty="]
    write(d, "record-full", "\n".join(fields) + "\n")
    fields[12] = fields[13] = fields[10] = fields[11] = ""
    write(d, "record-empty-fields", "\n".join(fields) + "\n")
    # the previous format, written by front ends not yet upgraded
    old = ["qsso2", "1894701900", "ana%40example.org", "ana%40example.org",
           "ana%40example.org", "https%3A%2F%2Fidp.example.org%2Fidp",
           "Ana", "Lima", "staff", "survey", "u-123",
           "staff,survey-admins", "costCenter=42&region=eu%2Dwest%3A%3Aapac"]
    write(d, "record-qsso2", "\n".join(old) + "\n")
    write(d, "path-local", "/dash/?x=1")
    write(d, "path-encoded", "%2Fdash%2F")


def redirect():
    d = reset("redirect")
    seeds = {
        "local": "/dash/report?id=7",
        "form-encoded": "%2Fdash%2Freport%3Fid%3D7+8",
        "scheme-relative": "//evil.example/",
        "backslash": "/\\evil.example",
        "encoded-slashes": "%2F%2Fevil.example",
        "double-encoded": "/%252F%252Fevil.example",
        "scheme": "https:evil.example",
        "absolute": "https://evil.example/",
        "javascript": "javascript:alert(1)",
        "tab": "/%09/evil.example",
        "newline": "/\n/evil.example",
        "dots": "/..//evil.example",
        "non-ascii": "/caf%C3%A9",
    }
    for name, value in seeds.items():
        write(d, name, value)


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def scim_filter():
    d = reset("scim_filter")
    seeds = {
        "username": 'userName eq "ana@example.org"',
        "external-id": 'externalId eq "00u1abcd"',
        "email-bracket": 'emails[value eq "ana@example.org"]',
        "email-dotted": 'emails.value eq "ana@example.org"',
        "and": 'userName EQ "a"  AND  active eq true and '
               'emails[type eq "work"]',
        "escapes": 'userName eq "a \\"b\\" \\u00e9 \\\\ c"',
        "null": "externalId eq null",
        "url-encoded": "displayName%20eq%20%22Sales%22",
        "path-urn": ENTERPRISE + ":division",
        "path-filter-sub": 'emails[type eq "work"].value',
        "refused-or": 'userName eq "a" or userName eq "b"',
    }
    for name, value in seeds.items():
        write(d, name, value)


def scim_body():
    d = reset("scim_body")
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        ENTERPRISE],
            "userName": "ana@example.org", "externalId": "00u1",
            "active": True, "name": {"givenName": "Ana",
                                     "familyName": "Lima"},
            "emails": [{"value": "ana@example.org", "type": "work",
                        "primary": True}],
            ENTERPRISE: {"division": "Sales", "employeeNumber": "42"}}
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
    okta = dict(patch, Operations=[
        {"op": "replace", "value": {"active": False}}])
    entra = dict(patch, Operations=[
        {"op": "Replace", "path": "name.givenName", "value": "Entra"},
        {"op": "Add", "path": 'emails[type eq "work"].value',
         "value": "e@example.org"},
        {"op": "Add", "path": ENTERPRISE + ":division", "value": "Sales"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Remove", "path": 'emails[type eq "work"]'}])
    group = dict(patch, Operations=[
        {"op": "add", "path": "members", "value": [{"value": "u-1"}]},
        {"op": "remove", "path": 'members[value eq "u-2"]'}])
    for name, doc in (("user", user), ("patch-okta", okta),
                      ("patch-entra", entra), ("patch-group", group)):
        write(d, name, json.dumps(doc, indent=1))


def split(src, dst):
    os.makedirs(dst, exist_ok=True)
    with open(src, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    for i, line in enumerate(lines):
        with open(os.path.join(dst, "line-%04d" % (i + 1)), "wb") as f:
            f.write(line)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--split":
        split(sys.argv[2], sys.argv[3])
        return
    response()
    metadata()
    codec()
    cookie()
    redirect()
    scim_filter()
    scim_body()


if __name__ == "__main__":
    main()
