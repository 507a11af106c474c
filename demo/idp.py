#!/usr/bin/python3
"""The demo IdP: a small SAML 2.0 identity provider for `bash demo/run.sh`.

Run it with /usr/bin/python3 (it needs Debian's python3-pysaml2). The SAML
work is done by t/lib/samlidp.py (pysaml2 + xmlsec1); this file is only the
web front: a login page with demo users and the auto-submitting form that
carries the signed Response to the SP's ACS.

    idp.py metadata --port 8081 --key KEYPREFIX --out FILE
        write the IdP metadata (entity ID, SSO URL, signing certificate)
    idp.py httpd-attrs
        print the QSSO*Attribute directives that match what this IdP sends
    idp.py users
        print the demo users, one a line
    idp.py serve --port 8081 --key KEYPREFIX --sp-base http://127.0.0.1:8080
        serve the IdP on 127.0.0.1

Endpoints: GET / (home, IdP-initiated login), GET /metadata,
GET /sso (HTTP-Redirect binding), POST /sso (HTTP-POST binding),
POST /login (the user picked on the login page), POST /idp-initiated.

A demo only: there are no passwords, anyone who can reach the port can sign
in as any demo user. It listens on 127.0.0.1 and nowhere else.
"""
import argparse
import base64
import binascii
import html
import os
import shutil
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "t", "lib"))

import samlidp  # noqa: E402  (t/lib/samlidp.py)

try:
    from defusedxml.ElementTree import fromstring as parse_xml
except ImportError:  # pysaml2 depends on defusedxml, so this is a fallback
    from xml.etree.ElementTree import fromstring as parse_xml

# Attribute Names as the IdP sends them (URI style, as Microsoft Entra ID
# does). They are passed through samlidp/pysaml2 unchanged because pysaml2
# has no friendly-name mapping for them. The httpd config must name the
# same strings (see `idp.py httpd-attrs`).
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
ATTR_EMAIL = CLAIMS + "emailaddress"
ATTR_USERNAME = CLAIMS + "name"
ATTR_FIRST_NAME = CLAIMS + "givenname"
ATTR_LAST_NAME = CLAIMS + "surname"
ATTR_USER_TYPE = "http://schemas.example.org/claims/usertype"

USERS = [
    {"id": "ana", "email": "ana@example.org", "first": "Ana",
     "last": "Alvarez", "type": "Analyst"},
    {"id": "ben", "email": "ben@example.org", "first": "Ben",
     "last": "Brooks", "type": "Manager"},
    {"id": "cho", "email": "cho@example.org", "first": "Cho",
     "last": "Chen", "type": "Viewer"},
]
USERS_BY_ID = {u["id"]: u for u in USERS}

# Where IdP-initiated logins land on the SP (a local path: the module
# accepts it as RelayState of an unsolicited Response).
IDP_INITIATED_TARGET = "/dashboard/"

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"


def idp_base(port):
    return "http://127.0.0.1:%d" % port


def idp_entity_id(port):
    return idp_base(port) + "/metadata"


def sso_url(port):
    return idp_base(port) + "/sso"


def user_attributes(user):
    return {
        ATTR_EMAIL: [user["email"]],
        ATTR_USERNAME: [user["id"]],
        ATTR_FIRST_NAME: [user["first"]],
        ATTR_LAST_NAME: [user["last"]],
        ATTR_USER_TYPE: [user["type"]],
    }


# ---- pages ------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f3f1ec;
color:#222;margin:0}
header{background:#5b2a86;color:#fff;padding:14px 28px;font-weight:600;
letter-spacing:.02em}
header small{font-weight:400;opacity:.8;margin-left:10px}
main{max-width:720px;margin:28px auto;background:#fff;border-radius:10px;
padding:24px 30px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.35em;margin-top:0}
.users{display:flex;flex-direction:column;gap:10px;margin:18px 0}
button.user{display:flex;justify-content:space-between;align-items:center;
width:100%;padding:12px 16px;border:1px solid #ccc;border-radius:8px;
background:#fafafa;font-size:1em;cursor:pointer;text-align:left}
button.user:hover{background:#efe7f7;border-color:#5b2a86}
.type{font-size:.85em;background:#5b2a86;color:#fff;border-radius:12px;
padding:2px 10px}
.muted{color:#666;font-size:.9em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;
font-size:.9em}
dt{color:#666}dd{margin:0;word-break:break-all;font-family:monospace}
.err{border-left:4px solid #b00020;padding-left:12px}
"""


def page(title, body):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>%s</title><style>%s</style></head><body>"
            "<header>Demo IdP<small>SAML 2.0 identity provider for the "
            "mod_qsso demo</small></header><main>%s</main></body></html>\n"
            % (html.escape(title), CSS, body))


def user_buttons(name="user"):
    rows = []
    for u in USERS:
        rows.append(
            '<button class="user" type="submit" name="%s" value="%s">'
            "<span><strong>%s %s</strong><br><span class=\"muted\">%s</span>"
            '</span><span class="type">%s</span></button>'
            % (name, html.escape(u["id"]), html.escape(u["first"]),
               html.escape(u["last"]), html.escape(u["email"]),
               html.escape(u["type"])))
    return '<div class="users">%s</div>' % "".join(rows)


def hidden(name, value):
    return '<input type="hidden" name="%s" value="%s">' % (
        html.escape(name), html.escape(value))


# ---- the IdP ----------------------------------------------------------------

class DemoIdP:
    def __init__(self, port, key, sp_base, sp_entity_id, endpoint="/qsso"):
        self.port = port
        self.key = os.path.abspath(key)
        self.sp_base = sp_base.rstrip("/")
        self.sp_entity_id = sp_entity_id
        self.acs_url = self.sp_base + endpoint.rstrip("/") + "/acs"
        self.entity_id = idp_entity_id(port)
        self.sso_url = sso_url(port)
        self.saml = samlidp.IdP(self.entity_id, self.sso_url,
                                self.sp_entity_id, self.acs_url)
        self.lock = threading.Lock()   # pysaml2's Server is not thread-safe

    def metadata(self):
        # samlidp names keys relative to t/keys; an absolute prefix works
        # too (os.path.join drops t/keys for an absolute path).
        return samlidp.idp_metadata(self.entity_id, self.sso_url,
                                    certs=(self.key,))

    def parse_authn_request(self, xml):
        """(request ID, SP issuer, ACS URL) of an AuthnRequest; raises
        ValueError with a message for the login page when it is not one
        this IdP answers."""
        try:
            root = parse_xml(xml)
        except Exception as e:  # defusedxml refuses DTDs and entities too
            raise ValueError("the SAMLRequest is not well-formed XML (%s)" % e)
        if root.tag != "{%s}AuthnRequest" % NS_SAMLP:
            raise ValueError("the SAMLRequest is not an AuthnRequest")
        req_id = root.get("ID") or ""
        if not req_id or len(req_id) > 256:
            raise ValueError("the AuthnRequest has no usable ID")
        issuer_el = root.find("{%s}Issuer" % NS_SAML)
        issuer = (issuer_el.text or "").strip() if issuer_el is not None else ""
        if issuer != self.sp_entity_id:
            raise ValueError("unknown service provider %r (this IdP only "
                             "knows %r)" % (issuer, self.sp_entity_id))
        acs = root.get("AssertionConsumerServiceURL")
        if acs is None:
            acs = self.acs_url     # no URL asked for: the registered one
        if acs != self.acs_url:
            raise ValueError("AssertionConsumerServiceURL %r is not the "
                             "SP's registered ACS URL %r" % (acs, self.acs_url))
        return req_id, issuer, acs, root.get("ForceAuthn") == "true"

    def response(self, user, in_response_to):
        with self.lock:
            return self.saml.response(user_attributes(user), user["email"],
                                      in_response_to=in_response_to,
                                      key=self.key)

    def close(self):
        # samlidp.IdP keeps a scratch directory; remove it on the way out.
        tmp = getattr(self.saml, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


class Handler(BaseHTTPRequestHandler):
    server_version = "qsso-demo-idp/1"
    idp = None      # set by serve()

    # -- plumbing --

    def log_message(self, fmt, *args):
        sys.stderr.write("idp: %s %s\n" % (self.address_string(),
                                           fmt % args))

    def send(self, status, body, ctype="text/html; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Frame-Options", "DENY")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def refuse(self, status, why):
        self.log_message("refused: %s", why)
        self.send(status, page("Sign-in refused",
                               '<h1>Sign-in refused</h1><p class="err">%s</p>'
                               % html.escape(why)))

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 512 * 1024:
            raise ValueError("request body too large")
        body = self.rfile.read(n).decode("utf-8", "replace")
        q = urllib.parse.parse_qs(body, keep_blank_values=True)
        return {k: v[0] for k, v in q.items()}

    # -- routes --

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            return self.home()
        if path == "/metadata":
            return self.send(200, self.idp.metadata(),
                             "application/samlmetadata+xml")
        if path == "/sso":
            try:
                xml, q = samlidp.decode_redirect(self.path)
            except Exception as e:  # missing, not base64, not deflate
                return self.refuse(400, "no usable SAMLRequest in the "
                                   "HTTP-Redirect URL (%s)" % e)
            return self.login_page(xml, q.get("RelayState", ""), "HTTP-Redirect")
        self.send(404, page("Not found", "<h1>Not found</h1>"))

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            f = self.form()
        except ValueError as e:
            return self.refuse(413, str(e))
        if path == "/sso":
            try:
                xml = base64.b64decode(f.get("SAMLRequest", ""),
                                       validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as e:
                return self.refuse(400, "SAMLRequest is not base64 (%s)" % e)
            if not xml:
                return self.refuse(400, "SAMLRequest missing")
            return self.login_page(xml, f.get("RelayState", ""), "HTTP-POST")
        if path == "/login":
            return self.login(f)
        if path == "/idp-initiated":
            return self.idp_initiated(f)
        self.send(404, page("Not found", "<h1>Not found</h1>"))

    # -- pages --

    def home(self):
        sp = self.idp.sp_base
        body = (
            "<h1>Demo identity provider</h1>"
            "<p>Service provider: <a href=\"%(dash)s\">%(dash)s</a> "
            "(mod_qsso). Opening it sends you here with an AuthnRequest "
            "(SP-initiated login).</p>"
            "<h2>IdP-initiated login</h2>"
            "<p class=\"muted\">Sends an unsolicited signed Response to the "
            "SP's ACS with RelayState <code>%(target)s</code>.</p>"
            "<form method=\"post\" action=\"/idp-initiated\">%(buttons)s"
            "</form>"
            "<p class=\"muted\">Entity ID <code>%(eid)s</code> &middot; "
            "<a href=\"/metadata\">metadata</a></p>"
            % {"dash": html.escape(sp + IDP_INITIATED_TARGET),
               "target": html.escape(IDP_INITIATED_TARGET),
               "buttons": user_buttons(),
               "eid": html.escape(self.idp.entity_id)})
        self.send(200, page("Demo IdP", body))

    def login_page(self, xml, relay_state, binding):
        try:
            req_id, issuer, acs, force = self.idp.parse_authn_request(xml)
        except ValueError as e:
            return self.refuse(400, str(e))
        if len(relay_state) > 1024:
            return self.refuse(400, "RelayState too long")
        body = (
            "<h1>Sign in to %(sp)s</h1>"
            "<p>Pick a demo user. This demo IdP has no passwords: any "
            "button signs you in as that user.</p>"
            "<form method=\"post\" action=\"/login\">%(hidden)s%(buttons)s"
            "</form>"
            "<details><summary class=\"muted\">AuthnRequest received</summary>"
            "<dl><dt>binding</dt><dd>%(binding)s</dd>"
            "<dt>ID</dt><dd>%(id)s</dd><dt>Issuer</dt><dd>%(issuer)s</dd>"
            "<dt>ACS URL</dt><dd>%(acs)s</dd><dt>ForceAuthn</dt><dd>%(force)s"
            "</dd><dt>RelayState</dt><dd>%(rs)s</dd></dl></details>"
            % {"sp": html.escape(issuer),
               "hidden": hidden("in_response_to", req_id)
               + hidden("RelayState", relay_state),
               "buttons": user_buttons(),
               "binding": binding, "id": html.escape(req_id),
               "issuer": html.escape(issuer), "acs": html.escape(acs),
               "force": "true" if force else "false",
               "rs": html.escape(relay_state)})
        self.send(200, page("Sign in", body))

    def post_to_acs(self, user, in_response_to, relay_state):
        xml = self.idp.response(user, in_response_to)
        self.log_message("signed Response for %s (InResponseTo=%s)",
                         user["email"], in_response_to or "-")
        body = (
            "<h1>Signing you in as %(who)s&hellip;</h1>"
            "<form method=\"post\" action=\"%(acs)s\">%(hidden)s"
            "<noscript><button type=\"submit\">Continue</button></noscript>"
            "</form><script>document.forms[0].submit()</script>"
            % {"who": html.escape(user["email"]),
               "acs": html.escape(self.idp.acs_url),
               "hidden": hidden("SAMLResponse", samlidp.b64(xml))
               + (hidden("RelayState", relay_state) if relay_state else "")})
        self.send(200, page("Signing in", body))

    def login(self, f):
        user = USERS_BY_ID.get(f.get("user", ""))
        if user is None:
            return self.refuse(400, "unknown demo user %r" % f.get("user"))
        req_id = f.get("in_response_to", "")
        if not req_id or len(req_id) > 256:
            return self.refuse(400, "no AuthnRequest ID: start the login "
                               "from the SP")
        self.post_to_acs(user, req_id, f.get("RelayState", ""))

    def idp_initiated(self, f):
        user = USERS_BY_ID.get(f.get("user", ""))
        if user is None:
            return self.refuse(400, "unknown demo user %r" % f.get("user"))
        self.post_to_acs(user, None, IDP_INITIATED_TARGET)


# ---- command line -----------------------------------------------------------

def serve(args):
    idp = DemoIdP(args.port, args.key, args.sp_base,
                  args.sp_entity_id or args.sp_base.rstrip("/") + "/qsso",
                  args.endpoint)
    Handler.idp = idp
    # run.sh stops us with SIGTERM: leave through the finally below.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    httpd.daemon_threads = True
    sys.stderr.write("idp: serving %s (entity ID %s, SP ACS %s)\n"
                     % (idp_base(args.port), idp.entity_id, idp.acs_url))
    sys.stderr.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        idp.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("metadata", help="write the IdP metadata")
    m.add_argument("--port", type=int, default=8081)
    m.add_argument("--key", required=True,
                   help="key prefix: PREFIX.key and PREFIX.crt")
    m.add_argument("--out", required=True)

    sub.add_parser("httpd-attrs", help="print matching QSSO*Attribute lines")
    sub.add_parser("users", help="print the demo users")

    s = sub.add_parser("serve", help="serve the IdP on 127.0.0.1")
    s.add_argument("--port", type=int, default=8081)
    s.add_argument("--key", required=True,
                   help="key prefix: PREFIX.key and PREFIX.crt")
    s.add_argument("--sp-base", default="http://127.0.0.1:8080")
    s.add_argument("--sp-entity-id", default=None,
                   help="default: SP base URL + /qsso")
    s.add_argument("--endpoint", default="/qsso",
                   help="the SP's QSSOEndpointPath")

    args = ap.parse_args(argv)
    if args.cmd == "metadata":
        xml = samlidp.idp_metadata(idp_entity_id(args.port),
                                   sso_url(args.port),
                                   certs=(os.path.abspath(args.key),))
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(xml)
        os.replace(tmp, args.out)
    elif args.cmd == "httpd-attrs":
        print("QSSOEmailAttribute %s" % ATTR_EMAIL)
        print("QSSOUsernameAttribute %s" % ATTR_USERNAME)
        print("QSSOFirstNameAttribute %s" % ATTR_FIRST_NAME)
        print("QSSOLastNameAttribute %s" % ATTR_LAST_NAME)
        print("QSSOUserTypeAttribute %s" % ATTR_USER_TYPE)
        # The IdP's user types onto the portal's (QSSOUserTypeMap).
        print("QSSOUserTypeMap Analyst Standard")
        print("QSSOUserTypeMap Manager Manager")
        print("QSSOUserTypeMap Viewer Participant")
    elif args.cmd == "users":
        for u in USERS:
            print("%-16s %s %s, %s" % (u["email"], u["first"], u["last"],
                                       u["type"]))
    elif args.cmd == "serve":
        serve(args)


if __name__ == "__main__":
    main()
