"""Return targets that try to leave the site: the login `return`, the
IdP-initiated RelayState and the logout `return`. Each is refused (login:
400 QSSO2001) or becomes a same-origin path; a plain local target is
honoured exactly. Real httpd + mod_qsso + redis-server, responses signed by
pysaml2.

Every payload is sent two ways: "exact" (percent-encoded, so the module
sees exactly the payload) and "as-typed" (put into the query or form body
as it is, the way a crafted link carries it, so its own %-escapes, '+'
and '&' are decoded by the module once)."""
import os
import re
import urllib.parse

import pytest
import requests

import samlidp
from harness import EMAIL, IDP_ENTITY, IDP_SSO, ROOT, Browser, env_of, ref_of

CORPUS = os.path.join(ROOT, "..", "shared", "testdata",
                      "open-redirect-payloads.txt")
LOCAL = "/dash/?a=1"
USER = "ana@example.org"
ENCODINGS = ["exact", "as-typed"]
_IDPS = {}

OWN = [
    "//evil.example", "//evil.example/dash/", "///evil.example",
    "////evil.example", "/\\evil.example", "\\/evil.example",
    "/\\/evil.example", "\\\\evil.example", "/.//evil.example?",
    "/./\\evil.example", "https:evil.example", "https:/evil.example",
    "http://evil.example/", "https://evil.example/dash/",
    "HTTPS://EVIL.EXAMPLE", "//evil.example@127.0.0.1/",
    "%2F%2Fevil.example", "/%2F/evil.example", "/%2f%2fevil.example",
    "%2f%2fevil.example", "/%5cevil.example", "%5C%5Cevil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r/evil.example",
    "/\r\n/evil.example", "/dash/\r\nLocation: http://evil.example/",
    "/%0d%0aSet-Cookie:%20qsso_session=x", "\t//evil.example",
    " //evil.example", " /dash/", "/dash/ ", "\x00//evil.example",
    "/\x00/evil.example", "/\x7f/evil.example", "/\x0b/evil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "/javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "evil.example", "@evil.example", ".evil.example", "",
    "/\u2215\u2215evil.example", "\uff0f\uff0fevil.example",
    "/\uff0f\uff0fevil.example", "\u3002evil.example",
    "/\u2044evil.example", "//evil\u3002example", "/\u200b/evil.example",
    "\u2028//evil.example", "/..//evil.example", "/%2e%2e//evil.example",
    "/dash/../../evil.example", "#//evil.example", "?//evil.example",
]


# ---------------------------------------------------------------- helpers

def idp_for(site):
    key = (site.sp_entity, site.acs_url)
    if key not in _IDPS:
        _IDPS[key] = samlidp.IdP(IDP_ENTITY, IDP_SSO, site.sp_entity,
                                 site.acs_url)
    return _IDPS[key]


def browser(site):
    b = Browser(site)
    b.idp = idp_for(site)
    return b


def unsafe(site, loc):
    """Why the Location loc could leave the site, or None when it is a
    same-origin path: exactly one "/" then neither "/" nor "\\" (or just
    "/"), no control character, backslash or raw non-ASCII byte, and
    resolved against the site it stays on the site."""
    if loc is None:
        return "no Location"
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in loc):
        return "control character"
    if "\\" in loc:
        return "backslash"
    if any(ord(c) > 0x7e for c in loc):
        return "raw non-ASCII"
    if loc != "/" and not (loc.startswith("/") and loc[1] not in "/\\"):
        return "not a single-slash path"
    u = urllib.parse.urlsplit(urllib.parse.urljoin(site.base + "/", loc))
    if (u.scheme, u.netloc) != ("http", "127.0.0.1:%d" % site.port):
        return "resolves to %s://%s" % (u.scheme, u.netloc)
    return None


def assert_same_origin(site, loc, what):
    why = unsafe(site, loc)
    assert why is None, "%s: Location %r: %s" % (what, loc, why)


def arg(payload, enc):
    return urllib.parse.quote(payload, safe="") if enc == "exact" \
        else payload


def login_path(payload, enc):
    return "/qsso/login?return=" + arg(payload, enc)


def logout_path(payload, enc):
    return "/qsso/logout?return=" + arg(payload, enc)


def form(saml_xml, relay, enc):
    """An ACS form body with RelayState=relay, as bytes."""
    body = "SAMLResponse=" + urllib.parse.quote(samlidp.b64(saml_xml),
                                                safe="")
    return (body + "&RelayState=" + arg(relay, enc)).encode("utf-8")


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def post_form(http, site, body):
    return http.post(site.acs_url, data=body, headers=FORM,
                     allow_redirects=False, timeout=10)


def finish_login(site, b, r):
    """b got r, the 302 to the IdP: sign in there and post the answer."""
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"].startswith(IDP_SSO + "?")
    xml, q = samlidp.decode_redirect(r.headers["Location"])
    resp = b.idp.response({EMAIL: [USER]}, USER,
                          in_response_to=Browser.request_id(xml))
    return b.post_acs(resp, q["RelayState"])


def unsolicited(site):
    return idp_for(site).response({EMAIL: [USER]}, USER, in_response_to=None)


def load_corpus():
    # A prerequisite, not an option: CI has ../shared beside the clone, and
    # a developer copies it there (a missing corpus fails, never skips).
    if not os.path.exists(CORPUS):
        pytest.fail("open-redirect corpus missing: %s (../shared/testdata "
                    "beside the clone)" % os.path.normpath(CORPUS),
                    pytrace=False)
    with open(CORPUS, encoding="utf-8") as f:
        payloads = [l for l in f.read().split("\n") if l != ""]
    assert len(payloads) >= 800, len(payloads)
    return payloads


def refs_logged_once(site, code, refs):
    """Each refusal page's reference is in exactly one `code` log line,
    and there are no other such lines."""
    lines = [l for l in site.log() if "] QSSO%d: " % code in l]
    logged = [m.group(1) for m in (re.search(r"ref=([A-Z0-9]+)", l)
                                   for l in lines) if m]
    assert sorted(logged) == sorted(refs), (len(logged), len(refs))


def check_login_answer(site, r, what):
    """A login answer to a return target: (refused?, reference)."""
    if r.status_code == 400:
        assert "QSSO2001" in r.text, (what, r.text[:300])
        ref = ref_of(r.text)
        assert ref, (what, r.text[:300])
        return True, ref
    return False, None


# ------------------------------------------------ the untampered twins

@pytest.mark.parametrize("enc", ENCODINGS)
def test_login_honours_plain_local_return(site, enc):
    b = browser(site)
    r = finish_login(site, b, b.get(login_path(LOCAL, enc)))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL
    assert env_of(b.get("/dash/").text)["QSSO_EMAIL"] == USER
    # Signed in already: straight to the target.
    r = b.get(login_path(LOCAL, enc))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL


@pytest.mark.parametrize("enc", ENCODINGS)
def test_logout_honours_plain_local_return(site, enc):
    b = browser(site)
    assert finish_login(site, b, b.get("/dash/")).status_code == 303
    r = b.get(b.logout_url(arg(LOCAL, enc)))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL
    b.take_cookie(r)
    assert b.get("/dash/").status_code == 302       # session gone


@pytest.mark.parametrize("enc", ENCODINGS)
def test_idp_initiated_honours_plain_local_relay_state(site, enc):
    b = browser(site)
    r = post_form(b.http, site, form(unsolicited(site), LOCAL, enc))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL
    b.take_cookie(r)
    assert b.get("/dash/").status_code == 200


# ------------------------------------------------- our own tricky list

@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("payload", OWN, ids=[ascii(p) for p in OWN])
def test_return_target_leaving_the_site_is_refused_or_kept_local(
        site, refusal, payload, enc):
    """Login: 400 QSSO2001, or the Location after the login completes is
    a same-origin path. Logout and IdP-initiated RelayState: a
    same-origin Location."""
    b = browser(site)
    r = b.get(login_path(payload, enc))
    if r.status_code == 400:
        refusal(site, r, 400, 2001)
    else:
        r = finish_login(site, b, r)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        assert_same_origin(site, r.headers["Location"], "login")
    url = b.logout_url(arg(payload, enc)) if b.cookie \
        else logout_path(payload, enc)
    r = b.get(url)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert_same_origin(site, r.headers["Location"], "logout")
    r = post_form(requests, site, form(unsolicited(site), payload, enc))
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert_same_origin(site, r.headers["Location"], "RelayState")
    # The twin, in the same test: a plain local return is honoured.
    r = post_form(requests, site, form(unsolicited(site), LOCAL, enc))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL


# --------------------------------------------------- the shared corpus

def test_corpus_login_return_refused_or_kept_local(site, log):
    """Every corpus line as /qsso/login?return=, both encodings, signed
    out (refused, or the login is completed and its 303 checked) and
    signed in (refused, or the immediate 303 checked)."""
    payloads = load_corpus()
    log.expect(r"\] QSSO2001: ")
    signed_in = browser(site)
    assert finish_login(site, signed_in,
                        signed_in.get(login_path(LOCAL, "exact"))
                        ).headers["Location"] == LOCAL
    anon = requests.Session()
    refs, started, accepted = [], [], 0
    for enc in ENCODINGS:
        for p in payloads:
            what = "%s %r" % (enc, p)
            r = anon.get(site.url(login_path(p, enc)),
                         allow_redirects=False, timeout=10)
            bad, ref = check_login_answer(site, r, what)
            if bad:
                refs.append(ref)
            else:
                assert r.status_code == 302, (what, r.status_code)
                started.append((what, r))
            r = signed_in.get(login_path(p, enc))
            bad, ref = check_login_answer(site, r, what)
            if bad:
                refs.append(ref)
            else:
                assert r.status_code == 303, (what, r.status_code)
                assert_same_origin(site, r.headers.get("Location"), what)
                accepted += 1
    assert len(started) == accepted
    # Complete every login the module started and check where it lands.
    b = browser(site)
    for what, r in started:
        b.cookie = None
        r = finish_login(site, b, r)
        assert r.status_code == 303, (what, r.status_code, r.text[:300])
        assert_same_origin(site, r.headers.get("Location"), what)
    refs_logged_once(site, 2001, refs)
    # Most lines are refused outright; the rest became local paths.
    assert len(refs) > len(payloads)


def test_corpus_logout_return_kept_local(site):
    payloads = load_corpus()
    b = browser(site)
    assert finish_login(site, b, b.get("/dash/")).status_code == 303
    r = b.get(b.logout_url(arg(LOCAL, "exact")))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL
    http = requests.Session()
    for enc in ENCODINGS:
        for p in payloads:
            r = http.get(site.url(logout_path(p, enc)),
                         allow_redirects=False, timeout=10)
            what = "%s %r" % (enc, p)
            assert r.status_code == 303, (what, r.status_code)
            assert_same_origin(site, r.headers.get("Location"), what)


def test_corpus_idp_initiated_relay_state_kept_local(fresh):
    """Every corpus line as the RelayState of an IdP-initiated response,
    both encodings. Replay prevention is off on this server only so that
    one signed response serves every RelayState (RelayState is not
    signed; the landing does not depend on replay prevention)."""
    payloads = load_corpus()
    h = fresh.start(qsso={"QSSOReplayPrevention": "Off"})
    xml = unsolicited(h)
    http = requests.Session()
    r = post_form(http, h, form(xml, LOCAL, "exact"))
    assert r.status_code == 303 and r.headers["Location"] == LOCAL
    for enc in ENCODINGS:
        for p in payloads:
            r = post_form(http, h, form(xml, p, enc))
            what = "%s %r" % (enc, p)
            assert r.status_code == 303, (what, r.status_code, r.text[:200])
            assert_same_origin(h, r.headers.get("Location"), what)


def test_corpus_idp_initiated_sample_with_replay_prevention(site):
    """The default site (replay prevention on), one freshly signed
    response per RelayState: every 8th corpus line plus every line the
    login endpoint takes as a local path, exact encoding."""
    payloads = load_corpus()
    local = [p for p in payloads if p.startswith("/") and not
             p.startswith("//") and not re.search(r"[\x00-\x20\x7f\\]", p)]
    sample = sorted(set(payloads[::8]) | set(local))
    http = requests.Session()
    for p in [LOCAL] + sample:
        r = post_form(http, site, form(unsolicited(site), p, "exact"))
        assert r.status_code == 303, (p, r.status_code, r.text[:200])
        assert_same_origin(site, r.headers.get("Location"), repr(p))
        if p == LOCAL:
            assert r.headers["Location"] == LOCAL
