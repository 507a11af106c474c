"""A SCIM 2.0 client for the integration tests, and what a test needs to
give an httpd a SCIM endpoint: the bearer token file and the <Location>
that serves it."""
import hashlib
import json
import os
import uuid

import requests

SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCHOP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LISTRESP = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def write_tokens(workdir, *lines):
    path = os.path.join(workdir, "scim-tokens-%s" % uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        f.write("# SCIM client tokens (SHA-256), one per line\n")
        for line in lines:
            f.write(line + "\n")
    os.chmod(path, 0o644)
    return path


def scim_location(token_file, inner=""):
    return """<Location %s>
    SetHandler qsso-scim
    QSSOSCIMTokenFile %s
%s</Location>""" % (SCIM, token_file, inner)


class Scim:
    """A SCIM client holding a bearer token."""

    def __init__(self, httpd, token):
        self.httpd = httpd
        self.token = token

    def request(self, method, path, body=None, token=None, headers=None,
                data=None):
        h = {}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/scim+json"
        if headers:
            h.update(headers)
        return requests.request(method, self.httpd.url(SCIM + path),
                                data=data, headers=h, timeout=10,
                                allow_redirects=False)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, ops, **kw):
        return self.request("PATCH", path, {"schemas": [PATCHOP],
                                            "Operations": ops}, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def query(self, filt, **params):
        params["filter"] = filt
        return requests.get(self.httpd.url(SCIM + "/Users"), params=params,
                            headers={"Authorization": "Bearer " + self.token},
                            timeout=10)

    def create(self, name=None, **fields):
        r = self.post("/Users", user_body(name, **fields))
        assert r.status_code == 201, r.text
        return r.json()


def user_body(username=None, email=None, **extra):
    username = username or "u%s@example.org" % uuid.uuid4().hex[:10]
    body = {"schemas": [USER, ENTERPRISE], "userName": username,
            "name": {"givenName": "Ana", "familyName": "Lima"},
            "emails": [{"value": email or username, "type": "work",
                        "primary": True}],
            "active": True}
    body.update(extra)
    return body


def scim_error(r, status, scim_type=None):
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/scim+json")
    doc = r.json()
    assert doc["schemas"] == [ERROR]
    assert doc["status"] == str(status)
    if scim_type:
        assert doc.get("scimType") == scim_type, doc
    return doc
