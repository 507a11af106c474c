"""SP-initiated and IdP-initiated login end to end: real httpd + mod_qsso,
real redis-server, responses signed by pysaml2 and checked by xmlsec1."""
import re
import time
import urllib.parse

import pytest
from lxml import etree

import harness
import samlidp
from harness import EMAIL, IDP_SSO, IDP_SSO_POST, Browser, env_of

NS = samlidp.NS


def authn_request(xml):
    return etree.fromstring(xml.encode())


def test_protected_get_without_session_redirects_to_idp(site, redis):
    b = Browser(site)
    xml, relay, r = b.start_login("/dash/?tab=2")
    req = authn_request(xml)
    assert req.tag == "{%s}AuthnRequest" % NS["samlp"]
    assert req.get("Destination") == IDP_SSO
    assert req.get("AssertionConsumerServiceURL") == site.acs_url
    assert req.get("ProtocolBinding") == \
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    assert req.get("ForceAuthn") in (None, "false")
    assert req.find("{%s}Issuer" % NS["saml"]).text == site.sp_entity
    assert "Signature" not in r.headers["Location"]
    assert r.headers["Cache-Control"] == "no-store"
    # RelayState is an opaque key, never the URL we came from.
    assert relay and "dash" not in relay and "/" not in relay
    key = "qsso:req:" + req.get("ID")
    assert key in redis.keys("qsso:req:*")
    assert 170 <= int(redis.cli("TTL", key)) <= 180   # QSSO_PENDING_TTL


def test_each_login_gets_a_unique_request_id(site):
    ids = {Browser.request_id(Browser(site).start_login()[0])
           for _ in range(20)}
    assert len(ids) == 20


def test_head_without_session_redirects_too(site):
    r = Browser(site).request("HEAD", "/dash/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(IDP_SSO + "?SAMLRequest=")


@pytest.mark.parametrize("method,headers", [
    ("POST", {}),
    ("PUT", {}),
    ("GET", {"X-Requested-With": "XMLHttpRequest"}),
    ("GET", {"Sec-Fetch-Mode": "cors"}),
])
def test_script_and_non_get_requests_get_401(site, refusal, method, headers):
    r = Browser(site).request(method, "/dash/", headers=headers)
    refusal(site, r, 401, 2002)


def test_browser_navigation_with_sec_fetch_mode_navigate_redirects(site):
    r = Browser(site).get("/dash/", headers={"Sec-Fetch-Mode": "navigate"})
    assert r.status_code == 302


def test_sp_initiated_login_returns_to_the_page_and_exports_identity(site,
                                                                     redis):
    b = Browser(site)
    xml, relay, _ = b.start_login("/dash/?tab=2")
    resp = b.idp.response({EMAIL: ["ana@example.org"]}, "ana.nameid@idp",
                          in_response_to=b.request_id(xml))
    r = b.post_acs(resp, relay)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/dash/?tab=2"
    sc = r.headers["Set-Cookie"]
    assert re.match(r"qsso_session=[A-Za-z0-9_-]{43}; ", sc), sc
    assert "HttpOnly" in sc and "Path=/" in sc and "SameSite=Lax" in sc
    assert "Secure" not in sc           # QSSOCookieSecure Off on this site
    # The pending request is consumed.
    assert not redis.keys("qsso:req:" + b.request_id(xml))
    r = b.get("/dash/")
    assert r.status_code == 200
    env = env_of(r.text)
    assert env["REMOTE_USER"] == "ana@example.org"
    assert env["QSSO_USERNAME"] == "ana@example.org"
    assert env["QSSO_EMAIL"] == "ana@example.org"
    assert env["QSSO_NAMEID"] == "ana.nameid@idp"
    assert env["QSSO_IDP"] == harness.IDP_ENTITY
    assert env["AUTH_TYPE"] == "qsso"
    expires = int(env["QSSO_SESSION_EXPIRES"])
    assert abs(expires - (time.time() + 28800)) < 60


def test_username_attribute_when_configured(fresh):
    h = fresh.start(qsso={"QSSOUsernameAttribute": harness.UPN})
    b = Browser(h)
    r = b.login(attrs={EMAIL: ["ana@example.org"], harness.UPN: ["ana"]})
    assert r.status_code == 303
    env = env_of(b.get("/dash/").text)
    assert env["REMOTE_USER"] == "ana" and env["QSSO_USERNAME"] == "ana"
    assert env["QSSO_EMAIL"] == "ana@example.org"


def test_missing_username_attribute_is_refused_with_its_code(fresh, refusal):
    h = fresh.start(qsso={"QSSOUsernameAttribute": harness.UPN})
    r = Browser(h).login(attrs={EMAIL: ["ana@example.org"]})
    line = refusal(h, r, 403, 4002)
    assert harness.UPN in line and EMAIL in line   # wanted, and what came


def test_missing_email_attribute_is_refused_and_names_what_came(site,
                                                                refusal):
    given = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
    r = Browser(site).login(attrs={given: ["Ana"]})
    line = refusal(site, r, 403, 4001)
    assert EMAIL in line and given in line


def test_response_signed_and_assertion_signed_are_both_accepted(site):
    for kw in ({"sign_response": True, "sign_assertion": False},
               {"sign_response": False, "sign_assertion": True},
               {"sign_response": True, "sign_assertion": True}):
        b = Browser(site)
        assert b.login(**kw).status_code == 303, kw
        assert b.get("/dash/").status_code == 200


def test_other_cookies_around_the_session_cookie_are_ignored(site):
    b = Browser(site)
    b.login()
    name, value = b.cookie
    r = site and b.http.get(site.url("/dash/"), allow_redirects=False,
                            headers={"Cookie": "a=1; %s=%s; b=2"
                                     % (name, value)})
    assert r.status_code == 200


def test_forged_or_unknown_session_cookie_starts_a_login(site):
    b = Browser(site)
    b.cookie = ("qsso_session", "A" * 43)
    assert b.get("/dash/").status_code == 302
    b.cookie = ("qsso_session", "../../etc/passwd")
    assert b.get("/dash/").status_code == 302


def test_unprotected_location_needs_no_session(site):
    r = Browser(site).get("/public/")
    assert r.status_code == 200
    assert env_of(r.text)["REMOTE_USER"] == "(none)"


def test_client_sent_x_qsso_headers_are_removed(site):
    b = Browser(site)
    for name in ("X-QSSO-Email", "x-qsso-email", "X_QSSO_EMAIL"):
        r = b.get("/public/", headers={name: "mallory@evil.example"})
        assert env_of(r.text)["HTTP_X_QSSO_EMAIL"] == "(none)", name
    # Untampered twin: an ordinary header reaches the page.
    r = b.get("/public/", headers={"X-Other": "1"})
    assert r.status_code == 200


def test_logout_deletes_the_session_everywhere(site, redis):
    b = Browser(site)
    b.login()
    old = b.cookie
    sessions = redis.keys("qsso:sess:*")
    assert sessions
    r = b.get(b.logout_url("/public/"))
    assert r.status_code == 303 and r.headers["Location"] == "/public/"
    assert "Max-Age=0" in r.headers["Set-Cookie"] or \
        "Expires=Thu, 01 Jan 1970" in r.headers["Set-Cookie"]
    assert len(redis.keys("qsso:sess:*")) == len(sessions) - 1
    b.cookie = old                      # a copied cookie is dead too
    assert b.get("/dash/").status_code == 302


def test_explicit_login_endpoint_honours_a_local_return(site):
    b = Browser(site)
    r = b.get("/qsso/login?return=%2Fdash%2F%3Fx%3D1")
    assert r.status_code == 302
    xml, q = samlidp.decode_redirect(r.headers["Location"])
    resp = b.idp.response({EMAIL: ["ana@example.org"]}, "ana@example.org",
                          in_response_to=b.request_id(xml))
    r = b.post_acs(resp, q["RelayState"])
    assert r.status_code == 303 and r.headers["Location"] == "/dash/?x=1"
    # Signed in: the login endpoint goes straight back.
    r = b.get("/qsso/login?return=/dash/")
    assert r.status_code == 303 and r.headers["Location"] == "/dash/"


def test_idp_initiated_login_lands_on_relay_state_or_default(site):
    b = Browser(site)
    resp = b.idp.response({EMAIL: ["ana@example.org"]}, "ana@example.org")
    r = b.post_acs(resp, "/dash/?from=idp")
    assert r.status_code == 303 and r.headers["Location"] == "/dash/?from=idp"
    b2 = Browser(site)
    resp = b2.idp.response({EMAIL: ["ben@example.org"]}, "ben@example.org")
    r = b2.post_acs(resp)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert env_of(b2.get("/dash/").text)["QSSO_EMAIL"] == "ben@example.org"


def test_default_relay_state_directive(fresh):
    h = fresh.start(qsso={"QSSODefaultRelayState": "/dash/"})
    b = Browser(h)
    r = b.post_acs(b.idp.response({EMAIL: ["a@example.org"]}, "a@example.org"))
    assert r.status_code == 303 and r.headers["Location"] == "/dash/"


def test_session_lifetime_expires_the_session(fresh):
    h = fresh.start(qsso={"QSSOSessionLifetime": "2"})
    b = Browser(h)
    assert b.login().status_code == 303
    assert b.get("/dash/").status_code == 200
    time.sleep(3.1)
    assert b.get("/dash/").status_code == 302


def test_session_not_on_or_after_caps_the_session(site):
    b = Browser(site)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    assert b.login(session_not_on_or_after=soon).status_code == 303
    env = env_of(b.get("/dash/").text)
    assert int(env["QSSO_SESSION_EXPIRES"]) <= time.time() + 3
    time.sleep(3.1)
    assert b.get("/dash/").status_code == 302


def test_redirect_binding_with_signed_request(fresh):
    h = fresh.start(qsso={"QSSOSignRequest": "On", "QSSOForceAuthn": "On"})
    b = Browser(h)
    xml, relay, r = b.start_login()
    loc = r.headers["Location"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert q["SigAlg"] == [samlidp.RSA_SHA256]
    assert samlidp.verify_redirect_signature(loc, "sp")
    assert not samlidp.verify_redirect_signature(loc, "idp1")
    # Tampering with the signed query breaks the signature.
    assert not samlidp.verify_redirect_signature(
        loc.replace("RelayState=", "RelayState=x"), "sp")
    assert authn_request(xml).get("ForceAuthn") == "true"
    resp = b.idp.response({EMAIL: ["ana@example.org"]}, "ana@example.org",
                          in_response_to=b.request_id(xml))
    assert b.post_acs(resp, relay).status_code == 303


def post_form(text):
    action = re.search(r'<form[^>]*action="([^"]+)"', text).group(1)
    fields = dict(re.findall(
        r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', text))
    return action, fields


@pytest.mark.parametrize("signed", [False, True])
def test_post_binding_sends_an_auto_submitting_form(fresh, signed):
    import html
    h = fresh.start(qsso={"QSSOSSOBinding": "post",
                          "QSSOSignRequest": "On" if signed else "Off"})
    b = Browser(h)
    r = b.get("/dash/")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    action, fields = post_form(r.text)
    assert html.unescape(action) == IDP_SSO_POST
    xml = samlidp.base64.b64decode(html.unescape(
        fields["SAMLRequest"])).decode()
    req = authn_request(xml)
    assert req.get("Destination") == IDP_SSO_POST
    has_sig = req.find("{%s}Signature" % NS["ds"]) is not None
    assert has_sig == signed
    if signed:
        assert samlidp.verify_xml_signature(xml, "sp")
        assert not samlidp.verify_xml_signature(xml, "idp1")
        assert not samlidp.verify_xml_signature(
            xml.replace(h.acs_url, h.acs_url + "x"), "sp")
    resp = b.idp.response({EMAIL: ["ana@example.org"]}, "ana@example.org",
                          in_response_to=req.get("ID"))
    r = b.post_acs(resp, html.unescape(fields["RelayState"]))
    assert r.status_code == 303 and r.headers["Location"] == "/dash/"


def test_second_idp_certificate_may_sign(fresh, refusal):
    h = fresh.start(certs=("idp1", "idp2"))
    for key in ("idp1", "idp2"):
        b = Browser(h)
        assert b.login(key=key).status_code == 303, key
        assert b.get("/dash/").status_code == 200


def test_cookie_secure_and_samesite_directives(fresh):
    h = fresh.start(qsso={"QSSOCookieSecure": "On",
                          "QSSOCookieSameSite": "Strict",
                          "QSSOCookieName": "portal_sso"})
    r = Browser(h).login()
    sc = r.headers["Set-Cookie"]
    assert sc.startswith("portal_sso=")
    assert "; Secure" in sc and "SameSite=Strict" in sc


def test_logout_without_its_token_only_asks_to_confirm(site, redis):
    """A link or image on another site cannot sign the user out (logout
    CSRF): without the session's token GET logout shows a form."""
    b = Browser(site)
    b.login()
    for bad in ("/qsso/logout?return=/public/",
                "/qsso/logout?token=" + "0" * 32,
                b.logout_url("/x").replace("token=", "token=1")):
        r = b.get(bad)
        assert r.status_code == 200 and "Sign out?" in r.text
        assert "Set-Cookie" not in r.headers
        assert r.headers["X-Frame-Options"] == "DENY"
        assert b.get("/dash/").status_code == 200      # still signed in
    # The confirmation form posts the token: that signs out.
    token = re.search(r'name="token" value="([0-9a-f]{32})"', r.text).group(1)
    action = re.search(r'action="([^"]+)"', r.text).group(1)
    import html
    r = b.request("POST", html.unescape(action), data={"token": token})
    assert r.status_code == 303 and r.headers["Location"] == "/x"
    assert b.get("/dash/").status_code == 302


def test_logout_token_belongs_to_one_session(site):
    a, c = Browser(site), Browser(site)
    a.login()
    c.login(email="ben@example.org")
    stolen = a.logout_url()
    r = c.get(stolen)                       # a's token, c's session
    assert r.status_code == 200 and "Sign out?" in r.text
    assert c.get("/dash/").status_code == 200
    assert a.get(stolen).status_code == 303


def test_a_new_session_id_at_every_login(site):
    """No session fixation: a login never keeps a cookie the browser
    brought, and a second login gets another ID."""
    b = Browser(site)
    b.cookie = ("qsso_session", "F" * 43)        # planted by an attacker
    b.login()
    first = b.cookie[1]
    assert first != "F" * 43
    # Signing in again (here IdP-initiated) gives another ID.
    b.post_acs(b.idp.response({EMAIL: ["ana@example.org"]},
                              "ana@example.org"))
    assert b.cookie[1] != first
