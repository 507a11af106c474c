"""SP metadata, the Redis store under failure, sessions shared by two
front ends, and the identity reaching a proxied backend."""
import http.server
import json
import threading
import time

import pytest
from lxml import etree

import harness
import samlidp
from harness import Browser, env_of

NS = samlidp.NS


def test_sp_metadata_is_schema_valid_and_describes_this_sp(site):
    from saml2.xml.schema import schema_saml_metadata
    r = Browser(site).get("/qsso/metadata")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/samlmetadata+xml")
    schema_saml_metadata.validate(r.text)          # raises when invalid
    root = etree.fromstring(r.content)
    assert root.get("entityID") == site.sp_entity
    sp = root.find("{%s}SPSSODescriptor" % NS["md"])
    assert sp.get("AuthnRequestsSigned") in ("false", "0")
    acs = sp.find("{%s}AssertionConsumerService" % NS["md"])
    assert acs.get("Location") == site.acs_url
    assert acs.get("Binding") == \
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    cert = root.find(".//{%s}X509Certificate" % NS["ds"]).text
    assert "".join(cert.split()) == samlidp.cert_b64("sp")


def test_sp_metadata_says_requests_are_signed_when_they_are(fresh):
    h = fresh.start(qsso={"QSSOSignRequest": "On"})
    root = etree.fromstring(Browser(h).get("/qsso/metadata").content)
    sp = root.find("{%s}SPSSODescriptor" % NS["md"])
    assert sp.get("AuthnRequestsSigned") in ("true", "1")


def test_sp_base_url_is_used_behind_a_tls_proxy(fresh):
    """Apache sees http://127.0.0.1:PORT; browsers and the IdP see
    https://portal.example.org. Destination and Recipient must match the
    public URL."""
    public = "https://portal.example.org"
    h = fresh.start(qsso={"QSSOSPBaseURL": public,
                          "QSSOSPEntityID": public + "/qsso"})
    root = etree.fromstring(Browser(h).get("/qsso/metadata").content)
    acs = root.find(".//{%s}AssertionConsumerService" % NS["md"])
    assert acs.get("Location") == public + "/qsso/acs"
    b = Browser(h)
    b.idp = samlidp.IdP(harness.IDP_ENTITY, harness.IDP_SSO,
                        public + "/qsso", public + "/qsso/acs")
    xml, relay, _ = b.start_login()
    assert 'AssertionConsumerServiceURL="%s/qsso/acs"' % public in xml
    resp = b.idp.response({harness.EMAIL: ["ana@example.org"]},
                          "ana@example.org", in_response_to=b.request_id(xml))
    assert b.post_acs(resp, relay).status_code == 303


def test_redis_down_gives_503_and_recovers(workdir, fresh, refusal, log):
    own = harness.Redis(workdir).start()
    h = fresh.start(redis=own)
    b = Browser(h)
    assert b.login().status_code == 303
    assert b.get("/dash/").status_code == 200
    port = own.port
    own.stop()
    try:
        r = b.get("/dash/")
        refusal(h, r, 503, 3001)
        assert "REMOTE_USER" not in r.text      # never the protected page
        r = Browser(h).get("/dash/")            # no session: cannot start
        assert r.status_code == 503
        log.expect("QSSO3001")
    finally:
        own.port = port
        own.start()
    try:
        # A new Redis has no sessions: the old cookie now starts a login,
        # and a new login works without restarting Apache.
        assert b.get("/dash/").status_code == 302
        b2 = Browser(h)
        assert b2.login().status_code == 303
        assert b2.get("/dash/").status_code == 200
    finally:
        # Started again above, so stopped here: the leftover redis-server
        # of every integration pass (issue 9).
        own.stop()


def test_two_front_ends_share_sessions_and_the_replay_cache(servers, log,
                                                            refusal):
    a = servers.start()
    # Behind one load balancer both answer for the same public site.
    b_site = servers.start(qsso={"QSSOSPBaseURL": a.base,
                                 "QSSOSPEntityID": a.sp_entity})
    ba = Browser(a)
    assert ba.login().status_code == 303
    other = Browser(b_site)
    other.cookie = ba.cookie
    r = other.get("/dash/")
    assert r.status_code == 200
    assert env_of(r.text)["QSSO_EMAIL"] == "ana@example.org"
    # An unsolicited response accepted by one front end is a replay on the
    # other: the seen-assertion cache is shared.
    resp = ba.idp.response({harness.EMAIL: ["ben@example.org"]},
                           "ben@example.org")
    assert Browser(a).post_acs(resp).status_code == 303
    refusal(b_site, Browser(b_site).post_acs(resp), 403, 2124)


def test_many_protected_requests_reuse_connections(site, redis):
    b = Browser(site)
    b.login()
    before = int(redis.cli("INFO", "stats").split(
        "total_connections_received:")[1].split()[0])
    for _ in range(200):
        assert b.get("/dash/").status_code == 200
    after = int(redis.cli("INFO", "stats").split(
        "total_connections_received:")[1].split()[0])
    # One connection per worker thread at most, not one per request.
    assert after - before <= 16, (before, after)


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def backend():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


def test_proxied_backend_receives_identity_and_never_spoofed_headers(
        fresh, backend):
    extra = """LoadModule proxy_module %(m)s/mod_proxy.so
LoadModule proxy_http_module %(m)s/mod_proxy_http.so
<Location /app/>
    AuthType qsso
    Require valid-user
    RequestHeader set X-Remote-User "expr=%%{reqenv:QSSO_USERNAME}"
    RequestHeader set X-Email "expr=%%{reqenv:QSSO_EMAIL}"
    ProxyPass http://127.0.0.1:%(p)d/
</Location>""" % {"m": harness.MODDIR, "p": backend}
    h = fresh.start(extra=extra)
    b = Browser(h)
    assert b.login(path="/app/").status_code == 303
    r = b.get("/app/", headers={"X-QSSO-Username": "mallory",
                                "X-Remote-User": "mallory"})
    assert r.status_code == 200
    got = {k.lower(): v for k, v in r.json().items()}
    assert got["x-remote-user"] == "ana@example.org"
    assert got["x-email"] == "ana@example.org"
    assert "x-qsso-username" not in got


def test_graceful_restart_keeps_sessions_and_logins_working(fresh):
    """apachectl -k graceful re-reads the config (metadata, keys, xmlsec)
    in the same parent process: sessions survive and new logins verify."""
    import signal
    h = fresh.start(qsso={"QSSOSignRequest": "On"})
    b = Browser(h)
    assert b.login().status_code == 303
    for _ in range(2):
        h.mark()
        h.proc.send_signal(signal.SIGUSR1)         # graceful
        deadline = time.time() + 10
        while time.time() < deadline:
            time.sleep(0.3)
            if any("resuming normal operations" in l for l in h.log()):
                break
        h.mark()
        assert h.proc.poll() is None
        b.http.close()          # idle keep-alive connections were closed
        assert b.get("/dash/").status_code == 200
        b2 = Browser(h)
        assert b2.login().status_code == 303
        assert b2.get("/dash/").status_code == 200
