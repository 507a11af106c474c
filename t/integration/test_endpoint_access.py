"""Who may reach the SSO endpoints (QSSOEndpointPath: acs, login,
metadata, logout). Real httpd + mod_qsso + redis-server, responses signed
by pysaml2; the proxied sites use a real HTTP backend on loopback that
records every request it gets.

Issue 9, finding 3: the endpoints answer without a session, but that is
all that is waived. `Require ip`, `Require all denied`, `Require expr` of
the section covering them apply, so a site kept to an intranet does not
show its ACS (XML, signatures), login, metadata and logout to everyone.
Each refused site has a twin whose rule is met and where a whole login
completes; no placeholder user shows in REMOTE_USER or the access log.

Finding 11: with `ProxyPass / http://backend/` and no `ProxyPass /qsso/ !`
exclusion, the endpoints are still answered by mod_qsso, whichever of
mod_qsso and mod_proxy is loaded first, and the backend never sees them;
beside it, a protected proxied path reaches the backend with the user."""
import base64
import hashlib
import http.server
import json
import os
import re
import threading
import time

import pytest

import harness
from harness import EMAIL, IDP_SSO, Browser, env_of

USER = "ana@example.org"
ENDPOINTS = ["metadata", "login", "logout", "acs"]
# %u is the user httpd ended the request with ("-" for none).
WHO_LOG = 'LogFormat "%u %m %U %>s" who\nCustomLog who.log who'
AUTHZ_HOST = "LoadModule authz_host_module %s/mod_authz_host.so" % (
    harness.MODDIR)

# Sections that cover the endpoints with a rule the test client (loopback,
# no X-Office header) does not meet.
REFUSING = {
    # The intranet site: signed-in users, and only from 10/8.
    "requireall-ip": """
<Location />
    AuthType qsso
    <RequireAll>
        Require valid-user
        Require ip 10.0.0.0/8
    </RequireAll>
</Location>""",
    # Only the endpoint path is restricted (the site keeps /dash/).
    "ip-on-endpoints": """
<Location /qsso/>
    Require ip 10.0.0.0/8
</Location>""",
    # A site protected at "/", its endpoints closed by an inner section.
    "all-denied-on-endpoints": """
<Location />
    AuthType qsso
    Require valid-user
</Location>
<Location /qsso/>
    Require all denied
</Location>""",
    "requireall-expr": """
<Location />
    AuthType qsso
    <RequireAll>
        Require valid-user
        Require expr "%{HTTP:X-Office} == 'inside'"
    </RequireAll>
</Location>""",
}

# Their twins: the same kinds of section, with a rule the client meets,
# or with only rules about the user (which the endpoints waive).
ANSWERING = {
    "requireall-loopback": REFUSING["requireall-ip"].replace(
        "10.0.0.0/8", "127.0.0.1"),
    "loopback-on-endpoints": REFUSING["ip-on-endpoints"].replace(
        "10.0.0.0/8", "127.0.0.1"),
    "site-protected-at-root": """
<Location />
    AuthType qsso
    Require valid-user
</Location>""",
    "requireall-expr-met": REFUSING["requireall-expr"],
    # RequireAny: a signed-in user may come from anywhere, so may the
    # endpoints (the user is the only thing missing).
    "requireany-ip": """
<Location />
    AuthType qsso
    Require valid-user
    Require ip 10.0.0.0/8
</Location>""",
    # A rule naming the user is a rule about the session: waived too.
    "require-user": """
<Location />
    AuthType qsso
    Require user %s
</Location>""" % USER,
    # The endpoint path in no AuthType qsso section (harness default).
    "endpoints-in-no-qsso-section": "",
}
OFFICE = {"requireall-expr-met": {"X-Office": "inside"}}

_SITES = {}


def site_for(servers, name, extra):
    if name not in _SITES:
        _SITES[name] = servers.start(
            extra="\n".join([AUTHZ_HOST, extra, WHO_LOG]))
    return _SITES[name]


@pytest.fixture(scope="module", autouse=True)
def forget_sites():
    yield
    _SITES.clear()


def browser(site, headers=None):
    b = Browser(site)
    b.idp = harness.idp_for(site)
    b.http.headers.update(headers or {})
    return b


def visit_endpoints(b):
    """One request to each endpoint, signed out: {name: response}."""
    return {
        "metadata": b.get("/qsso/metadata"),
        "login": b.get("/qsso/login?return=/dash/"),
        "logout": b.get("/qsso/logout"),
        "acs": unsolicited(b),
    }


def unsolicited(b, email=USER):
    """POSTs a signed IdP-initiated response to the ACS (the attacker's
    way in: no pending login needed)."""
    return b.post_acs(b.idp.response({EMAIL: [email]}, email))


def who_lines(site, path_prefix, last=None):
    """The who.log lines (user, method, path, status) under path_prefix;
    waits for `last` (such a line, as a list) since httpd writes the
    access log after the response."""
    end = time.time() + 5
    while True:
        with open(os.path.join(site.dir, "who.log")) as f:
            lines = [l.split() for l in f]
        if last is None or last in lines or time.time() > end:
            return [l for l in lines if l[2].startswith(path_prefix)]
        time.sleep(0.05)


# ---- finding 3: Require rules apply to the endpoints ----------------------

@pytest.mark.parametrize("name", sorted(REFUSING))
def test_endpoints_refused_by_the_require_rules_of_their_section(
        servers, log, name):
    site = site_for(servers, name, REFUSING[name])
    site.mark()
    b = browser(site)
    got = visit_endpoints(b)
    assert {k: r.status_code for k, r in got.items()} == \
        {k: 403 for k in ENDPOINTS}
    for r in got.values():
        assert "Set-Cookie" not in r.headers, r.headers
        assert "Location" not in r.headers, r.headers
    # mod_authz_core refused each one before mod_qsso read anything: no
    # SAML parsed, no login, no pending request.
    log.expect(r"AH01630: client denied by server configuration")
    lines = site.log()
    assert len([l for l in lines if "AH01630" in l]) == 4, lines
    assert not [l for l in lines if "QSSO" in l], lines
    assert b.cookie is None


@pytest.mark.parametrize("name", sorted(ANSWERING))
def test_endpoints_answer_when_the_require_rules_are_met(servers, redis,
                                                        name):
    site = site_for(servers, name, ANSWERING[name])
    b = browser(site, OFFICE.get(name))
    r = b.get("/qsso/metadata")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == "application/samlmetadata+xml"
    assert 'entityID="%s"' % site.sp_entity in r.text
    r = b.get("/qsso/login?return=/dash/")
    assert r.status_code == 302 and r.headers["Location"].startswith(
        IDP_SSO + "?"), (r.status_code, r.headers)
    # A whole SP-initiated login, then the page as the user.
    r = b.login(email=USER)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert r.headers["Location"] == "/dash/"
    page = b.get("/dash/")
    assert page.status_code == 200, page.status_code
    assert env_of(page.text)["REMOTE_USER"] == USER
    # Signed in, login returns at once; logout ends the session.
    r = b.get("/qsso/login?return=/dash/")
    assert (r.status_code, r.headers["Location"]) == (303, "/dash/")
    r = b.get(b.logout_url())
    assert r.status_code == 303, r.status_code
    b.cookie = None
    # An IdP-initiated login (on by default) is accepted too.
    r = unsolicited(b)
    assert r.status_code == 303 and b.cookie, (r.status_code, r.text[:300])
    # No placeholder user: the endpoints ran with none, even with a
    # session (it is the handler's business, not authentication's).
    lines = who_lines(site, "/qsso/", last=["-", "POST", "/qsso/acs", "303"])
    assert {l[0] for l in lines} == {"-"}, lines
    assert {l[0] for l in who_lines(site, "/dash/")
            if l[3] == "200"} == {USER}


def test_user_rules_of_the_section_still_apply_after_login(servers, log,
                                                           refusal):
    """The twin of "require-user": waiving the session at the endpoints
    lets another user sign in, not through the page's rule."""
    site = site_for(servers, "require-user", ANSWERING["require-user"])
    b = browser(site)
    r = b.login(email="bob@example.org")
    assert r.status_code == 303
    r = b.get("/dash/")
    log.expect("AH01631")       # mod_authz_core's own line
    refusal(site, r, 403, 5001)


def test_non_endpoint_under_the_endpoint_path_needs_a_session(servers):
    """Only the four endpoints are waived: another name under
    QSSOEndpointPath is an ordinary protected page."""
    site = site_for(servers, "site-protected-at-root",
                    ANSWERING["site-protected-at-root"])
    r = browser(site).get("/qsso/acs2")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(IDP_SSO + "?")


STAGING = """
LoadModule auth_basic_module %(m)s/mod_auth_basic.so
LoadModule authn_file_module %(m)s/mod_authn_file.so
<Location />
    AuthType Basic
    AuthName staging
    AuthBasicProvider file
    AuthUserFile %(users)s
    Require valid-user
</Location>
<Location /dash/>
    AuthType qsso
    Require valid-user
</Location>"""


@pytest.fixture(scope="module")
def staging(servers, workdir):
    """A site behind HTTP Basic at "/", with mod_qsso on /dash/ only."""
    users = os.path.join(workdir, "staging.htpasswd")
    with open(users, "w") as f:
        f.write("tester:{SHA}%s\n" % base64.b64encode(
            hashlib.sha1(b"pw").digest()).decode())
    os.chmod(users, 0o644)
    return servers.start(extra=STAGING % {"m": harness.MODDIR,
                                          "users": users})


def test_endpoints_under_another_authtype_need_its_user(staging):
    """The session waiver is mod_qsso's to give only under AuthType qsso
    (or none): under AuthType Basic the endpoints need the Basic user."""
    b = browser(staging)
    got = visit_endpoints(b)
    assert {k: r.status_code for k, r in got.items()} == \
        {k: 401 for k in ENDPOINTS}
    assert all("Set-Cookie" not in r.headers for r in got.values())


def test_endpoints_under_another_authtype_answer_its_user(staging):
    b = browser(staging)
    b.http.auth = ("tester", "pw")
    assert b.get("/qsso/metadata").status_code == 200
    r = b.login(email=USER)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == USER


# ---- finding 11: endpoints under ProxyPass / ------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    """A backend that answers every request with what it received."""

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.server.seen.append(self.path)
        body = json.dumps({"path": self.path,
                           "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "yes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = answer

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def backend():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.seen = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


PROTECTED_ROOT = """
<Location />
    AuthType qsso
    Require valid-user
    QSSOPassHeaders On
%s
</Location>"""
# Three ways of handing every path to the backend without an exclusion.
CLAIMS = {
    "proxypass": "ProxyPass / http://127.0.0.1:%(port)d/\n" + PROTECTED_ROOT
                 % "",
    "proxypass-in-location": PROTECTED_ROOT
                             % "    ProxyPass http://127.0.0.1:%(port)d/",
    "rewrite-p": "RewriteEngine On\n"
                 "RewriteRule ^/(.*)$ http://127.0.0.1:%(port)d/$1 [P]\n"
                 + PROTECTED_ROOT % "",
}
PROXY_MODULES = ["proxy", "proxy_http"]
# (LoadModule order, how the site is proxied)
SETUPS = [("qsso-then-proxy", "proxypass"), ("proxy-then-qsso", "proxypass"),
          ("proxy-then-qsso", "proxypass-in-location"),
          ("proxy-then-qsso", "rewrite-p")]


@pytest.fixture(scope="module", params=SETUPS,
                ids=["%s-%s" % p for p in SETUPS])
def proxied(request, servers, backend):
    """A site whose every path is proxied, with no exclusion for /qsso/;
    mod_proxy loaded after or before mod_qsso."""
    order, claim = request.param
    if order == "proxy-then-qsso":
        load, preload = "", PROXY_MODULES
    else:
        load, preload = "\n".join(
            "LoadModule %s_module %s/mod_%s.so" % (m, harness.MODDIR, m)
            for m in PROXY_MODULES), ()
    return servers.start(preload=preload, extra=load + "\n" + CLAIMS[claim]
                         % {"port": backend.server_address[1]})


def test_proxied_site_endpoints_are_answered_by_mod_qsso(proxied, backend):
    del backend.seen[:]
    b = browser(proxied)
    r = b.get("/qsso/metadata")
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert "X-Backend" not in r.headers
    assert r.headers["Content-Type"] == "application/samlmetadata+xml"
    assert 'entityID="%s"' % proxied.sp_entity in r.text
    # The ACS accepts the login started by a proxied page.
    r = b.login(email=USER, path="/app/")
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert "X-Backend" not in r.headers and b.cookie
    r = b.get("/qsso/login?return=/app/")
    assert (r.status_code, r.headers.get("Location")) == (303, "/app/")
    # Logout: the confirmation form, then its POST.
    r = b.get("/qsso/logout?return=/app/")
    assert r.status_code == 200 and "X-Backend" not in r.headers
    token = re.search(r'name="token" value="([0-9a-f]+)"', r.text).group(1)
    r = b.request("POST", "/qsso/logout?return=/app/",
                  data={"token": token})
    assert (r.status_code, r.headers.get("Location")) == (303, "/app/")
    assert b.get("/app/").status_code == 302          # signed out
    assert not [p for p in backend.seen if p.startswith("/qsso/")], \
        backend.seen


def test_proxied_protected_path_reaches_the_backend_with_the_user(
        proxied, backend):
    b = browser(proxied)
    del backend.seen[:]
    r = b.get("/app/report?x=1")
    assert r.status_code == 302          # no session: never proxied
    assert backend.seen == []
    assert b.login(email=USER, path="/app/report?x=1").status_code == 303
    r = b.get("/app/report?x=1", headers={"X-QSSO-Username": "mallory"})
    assert r.status_code == 200 and r.headers["X-Backend"] == "yes"
    got = r.json()
    assert got["path"] == "/app/report?x=1"
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["x-qsso-username"] == USER
    assert backend.seen == ["/app/report?x=1"]
