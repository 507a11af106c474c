"""The session cookie: its __Host- name on HTTPS sites, and a request with
several session cookies. Browsers send the cookie of the longest Path
first (RFC 6265 5.4), so a cookie another application on the host sets
for its sub-path comes before the user's own: every session cookie is
tried (at most 4), so such a shadow no longer signs the user out, beside
its twin (the real cookie alone). On an https:// QSSOSPBaseURL with
Secure cookies the default name is __Host-qsso_session (Secure, Path=/,
no Domain: the browser takes it from no other host or path)."""
import hashlib
import os
import time
import urllib.parse

import pytest
import requests

import harness
import samlidp
from harness import EMAIL, Browser, env_of, set_cookies

BOGUS = "B" * 43


def key_of(value):
    return "qsso:sess:" + hashlib.sha256(value.encode()).hexdigest()


# ---- several session cookies -------------------------------------------------

def test_real_cookie_alone_opens_the_page(site):
    b = Browser(site)
    b.login()
    assert b.get("/dash/").status_code == 200


def test_a_shadowing_cookie_before_the_real_one_does_not_sign_out(site):
    """Another application's qsso_session, sent first (old code: the
    first one won, and the user was sent to sign in)."""
    b = Browser(site)
    b.login()
    b.before = [("qsso_session", BOGUS)]
    r = b.get("/dash/")
    assert r.status_code == 200, r.status_code
    assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"


def test_a_stale_session_before_the_real_one_does_not_sign_out(site):
    """A cookie of an ended session (logged out elsewhere) is skipped
    too."""
    old = Browser(site)
    old.login(email="ben@example.org")
    stale = old.cookie
    old.get(old.logout_url())
    b = Browser(site)
    b.login()
    b.before = [stale]
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == "ana@example.org"


def test_more_session_cookies_than_are_tried(site):
    """Four are tried, in the order sent; the rest are ignored, and a
    header full of them is no crash (the log fixture fails on one)."""
    b = Browser(site)
    b.login()
    bogus = [("qsso_session", "%039d%s" % (i, "Bxyz")) for i in range(100)]
    b.before = bogus[:3]
    assert b.get("/dash/").status_code == 200          # the 4th is tried
    b.before = bogus[:4]
    assert b.get("/dash/").status_code == 302          # the 5th is not
    b.before = bogus
    assert b.get("/dash/").status_code == 302
    b.before = []
    assert b.get("/dash/").status_code == 200


def test_logout_ends_the_real_session_behind_a_shadow(site, redis):
    b = Browser(site)
    b.login()
    url = b.logout_url()
    b.before = [("qsso_session", BOGUS)]
    real = b.cookie
    r = b.get(url)
    assert r.status_code == 303
    assert redis.cli("EXISTS", key_of(real[1])) == "0"
    b.before, b.cookie = [], real
    assert b.get("/dash/").status_code == 302


# ---- the __Host- name on HTTPS sites ----------------------------------------

class HttpsSite:
    """An httpd whose QSSOSPBaseURL is https:// (TLS ends in front of it,
    as behind a load balancer); the tests talk plain HTTP to its port."""

    def __init__(self, fresh, **qsso):
        port = harness.free_port()
        self.public = "https://127.0.0.1:%d" % port
        conf = {"QSSOSPBaseURL": self.public, "QSSOCookieSecure": "On"}
        conf.update(qsso)
        self.h = fresh.start(port=port, qsso=conf)
        self.idp = samlidp.IdP(harness.IDP_ENTITY, harness.IDP_SSO,
                               self.h.sp_entity, self.public + "/qsso/acs")

    def login(self, email="ana@example.org"):
        b = Browser(self.h)
        b.idp = self.idp
        xml, relay, _ = b.start_login()
        resp = self.idp.response({EMAIL: [email]}, email,
                                 in_response_to=Browser.request_id(xml))
        r = requests.post(self.h.acs_url, data={
            "SAMLResponse": samlidp.b64(resp), "RelayState": relay},
            allow_redirects=False, timeout=10)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        b.take_cookie(r)
        return b, r


def test_https_site_sets_a_host_prefixed_cookie(fresh):
    site = HttpsSite(fresh)
    b, r = site.login()
    (name, value, attrs), = set_cookies(r)
    assert name == "__Host-qsso_session"
    assert "secure" in attrs and attrs["path"] == "/"
    assert "domain" not in attrs
    assert b.cookie == (name, value)
    assert b.get("/dash/").status_code == 200
    # logout expires the same cookie
    r = b.get(b.logout_url())
    (name, value, attrs), = set_cookies(r)
    assert (name, value, attrs["max-age"]) == ("__Host-qsso_session", "",
                                               "0")


def test_https_site_keeps_qsso_session_for_plain_http_and_explicit_names(
        fresh):
    """Plain HTTP keeps qsso_session (the harness sites); an explicit
    QSSOCookieName is used as given."""
    site = HttpsSite(fresh, QSSOCookieName="portal_sso")
    b, r = site.login()
    assert set_cookies(r)[0][0] == "portal_sso"
    assert b.get("/dash/").status_code == 200
    b, r = Browser(fresh.start()), None
    r = b.login()
    assert set_cookies(r)[0][0] == "qsso_session"


def test_https_site_refuses_its_session_under_the_old_name(fresh):
    """A session of this version travels only as __Host-: the same ID
    under the old, unprefixed name (which any path or subdomain could
    set) opens nothing."""
    site = HttpsSite(fresh)
    b, _ = site.login()
    site.h.mark()
    b.cookie = ("qsso_session", b.cookie[1])
    assert b.get("/dash/").status_code == 302
    assert any("QSSO3010:" in l and "before __Host-" in l
               for l in site.h.log())


def put_old_record(redis, user="old@example.org"):
    """A session as a front end of the previous version wrote it (format
    qsso2, cookie qsso_session); returns the cookie value."""
    value = "Q" * 30 + os.urandom(7).hex()[:13]
    q = lambda v: urllib.parse.quote(v, safe="")
    rec = "\n".join(["qsso2", str(int(time.time()) + 600), q(user), q(user),
                     q(user), q(harness.IDP_ENTITY), "Old", "Record",
                     "Standard", "", "", "", ""]) + "\n"
    redis.cli("SET", key_of(value), rec, "EX", "600")
    return value


def test_https_site_reads_an_old_front_ends_cookie_during_the_upgrade(
        fresh, redis):
    site = HttpsSite(fresh, QSSOAcceptPreviousSessions="On")
    b = Browser(site.h)
    b.cookie = ("qsso_session", put_old_record(redis))
    r = b.get("/dash/")
    assert r.status_code == 200, r.status_code
    assert env_of(r.text)["REMOTE_USER"] == "old@example.org"
    # and a new login replaces it with a __Host- session
    b2, r = site.login(email="old@example.org")
    assert b2.cookie[0] == "__Host-qsso_session"


def test_host_prefixed_name_without_secure_fails_configtest(workdir, redis):
    h = harness.Httpd(workdir, redis, qsso={
        "QSSOCookieName": "__Host-portal", "QSSOCookieSecure": "Off"})
    rc, out = h.configtest()
    assert rc != 0
    assert "QSSOCookieName __Host-portal needs QSSOCookieSecure On" in out
    h = harness.Httpd(workdir, redis, qsso={
        "QSSOCookieName": "__Host-portal", "QSSOCookieSecure": "On"})
    rc, out = h.configtest()
    assert rc == 0, out


def test_logout_during_the_upgrade_ends_the_old_session_too(fresh, redis):
    """A user with an old front end's session (qsso_session) who signed in
    again (__Host-) is signed out of both by one logout."""
    site = HttpsSite(fresh, QSSOAcceptPreviousSessions="On")
    b, _ = site.login(email="old@example.org")
    old = put_old_record(redis)
    url = b.logout_url()                    # the __Host- session's token
    new = b.cookie
    r = b.request("GET", url, headers={"Cookie": "%s=%s; qsso_session=%s"
                                       % (new[0], new[1], old)})
    assert r.status_code == 303
    expired = sorted(n for n, v, a in set_cookies(r)
                     if v == "" and a.get("max-age") == "0")
    assert expired == ["__Host-qsso_session", "qsso_session"]
    assert redis.cli("EXISTS", key_of(new[1])) == "0"
    assert redis.cli("EXISTS", key_of(old)) == "0"
    for cookie in (new, ("qsso_session", old)):
        b.before, b.cookie = [], cookie
        assert b.get("/dash/").status_code == 302
