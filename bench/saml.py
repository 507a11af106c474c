"""SAML for the bench, through the test IdP (t/lib/samlidp.py, pysaml2):
one real SP-initiated sign-in to get a session cookie, and pre-signed
IdP-initiated responses for the ACS runs.

Signing with pysaml2 runs the xmlsec1 binary once per response (tens of
milliseconds), so responses are signed ahead of time on both cores and
cached in bench/results/acs-cache/, keyed by SP entity, ACS URL, IdP and
key. They are signed with a 7-day lifetime (instead of the test IdP's 5
minutes) so a cache outlives one run; every run starts an empty Redis, so
each response is still accepted exactly once per run.
"""
import base64
import hashlib
import json
import multiprocessing
import os
import re
import time
import urllib.parse

import requests

from servers import EMAIL, IDP_ENTITY, IDP_SSO, samlidp

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "results", "acs-cache")
LIFETIME = {"days": 7}
LIFETIME_S = 7 * 86400
MIN_LEFT_S = 3600       # regenerate a cache with less than this left
FORMAT = 1              # bump when the bodies change shape


class BenchIdP(samlidp.IdP):
    """The test IdP with a longer assertion lifetime, for this bench only
    (the tests keep samlidp's 5 minutes)."""

    def _server(self, key):
        srv = super()._server(key)
        pol = srv.config.getattr("policy", "idp")
        # pysaml2 keeps the compiled policy here; only "default" is set.
        pol._restrictions["default"]["lifetime"] = dict(LIFETIME)
        return srv


def user(i):
    return "bench-%05d@example.org" % i


# --- one real sign-in ---------------------------------------------------

def login_qsso(h):
    """Signs in through the real SP-initiated flow of mod_qsso; returns the
    Cookie header value."""
    http = requests.Session()
    r = http.get(h.url("/dash/1k.html"), allow_redirects=False, timeout=10)
    if r.status_code != 302:
        raise RuntimeError("protected GET gave %d, not a redirect to the "
                           "IdP" % r.status_code)
    xml, q = samlidp.decode_redirect(r.headers["Location"])
    req_id = re.search(r'\bID="([^"]+)"', xml).group(1)
    idp = BenchIdP(IDP_ENTITY, IDP_SSO, h.sp_entity, h.acs_url)
    resp = idp.response({EMAIL: [user(0)]}, user(0), in_response_to=req_id)
    r = http.post(h.url(h.acs_path),
                  data={"SAMLResponse": samlidp.b64(resp),
                        "RelayState": q.get("RelayState", "")},
                  allow_redirects=False, timeout=10)
    return check_cookie(h, r, "qsso_session")


def login_mellon(h):
    """Signs in to mod_auth_mellon the same way; returns the Cookie header
    value."""
    http = requests.Session()
    r = http.get(h.url("/dash/1k.html"), allow_redirects=False, timeout=10)
    if r.status_code not in (302, 303):
        raise RuntimeError("protected GET gave %d, not a redirect to the "
                           "IdP" % r.status_code)
    loc = r.headers["Location"]
    if not loc.startswith(IDP_SSO):
        # mellon first sends the browser to its own login endpoint.
        path = urllib.parse.urlsplit(loc)
        r = http.get(h.url(path.path + "?" + path.query),
                     allow_redirects=False, timeout=10)
        loc = r.headers.get("Location", "")
        if not loc.startswith(IDP_SSO):
            raise RuntimeError("mellon's login endpoint gave %d, not a "
                               "redirect to the IdP" % r.status_code)
    xml, q = samlidp.decode_redirect(loc)
    req_id = re.search(r'\bID="([^"]+)"', xml).group(1)
    idp = BenchIdP(IDP_ENTITY, IDP_SSO, h.sp_entity, h.acs_url)
    resp = idp.response({EMAIL: [user(0)]}, user(0), in_response_to=req_id)
    r = http.post(h.url(h.acs_path),
                  data={"SAMLResponse": samlidp.b64(resp),
                        "RelayState": q.get("RelayState", "")},
                  headers={"Cookie": "mellon-cookie=cookietest"},
                  allow_redirects=False, timeout=10)
    return check_cookie(h, r, "mellon-cookie")


def check_cookie(h, r, name):
    sc = r.headers.get("Set-Cookie", "")
    m = re.search(r"(?:^|[ ,])%s=([^;]+)" % re.escape(name), sc)
    if r.status_code not in (302, 303) or not m or m.group(1) == "cookietest":
        raise RuntimeError("the ACS answered %d%s" % (
            r.status_code, (" without a %s cookie" % name)
            if r.status_code in (302, 303) else ": " + short(r.text)))
    cookie = "%s=%s" % (name, m.group(1))
    g = requests.get(h.url("/dash/1k.html"), headers={"Cookie": cookie},
                     allow_redirects=False, timeout=10)
    if g.status_code != 200:
        raise RuntimeError("the new session gave %d on the protected file"
                           % g.status_code)
    return cookie


def short(text):
    text = re.sub(r"<[^>]+>", " ", text or "")
    return " ".join(text.split())[:200]


# --- pre-signed IdP-initiated responses ---------------------------------

def _sign_range(args):
    sp_entity, acs_url, start, stop = args
    idp = BenchIdP(IDP_ENTITY, IDP_SSO, sp_entity, acs_url)
    return [samlidp.b64(idp.response({EMAIL: [user(i)]}, user(i)))
            for i in range(start, stop)]


def cache_path(sp_entity, acs_url):
    key = "|".join([str(FORMAT), sp_entity, acs_url, IDP_ENTITY,
                    samlidp.cert_b64("idp1"), json.dumps(LIFETIME)])
    return os.path.join(CACHE, hashlib.sha256(key.encode()).hexdigest()[:16]
                        + ".json")


def signed_responses(sp_entity, acs_url, n, log=print):
    """n distinct signed Responses (base64), users bench-00001.. in order,
    from the cache when it holds enough that are still valid."""
    path = cache_path(sp_entity, acs_url)
    now = time.time()
    try:
        with open(path) as f:
            c = json.load(f)
        if c["expires"] - now > MIN_LEFT_S and len(c["bodies"]) >= n:
            return c["bodies"][:n]
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.time()
    workers = max(1, min(os.cpu_count() or 1, 4))
    step = (n + workers * 4 - 1) // (workers * 4)
    parts = [(sp_entity, acs_url, s + 1, min(s + step, n) + 1)
             for s in range(0, n, step)]
    log("  signing %d responses for %s with pysaml2 (cached for next "
        "runs)..." % (n, acs_url))
    with multiprocessing.Pool(workers) as pool:
        bodies = [b for part in pool.map(_sign_range, parts) for b in part]
    check_lifetime(bodies[0])
    os.makedirs(CACHE, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"sp_entity": sp_entity, "acs_url": acs_url,
                   "expires": t0 + LIFETIME_S, "bodies": bodies}, f)
    os.replace(tmp, path)
    log("  signed %d responses in %.0f s" % (n, time.time() - t0))
    return bodies


def check_lifetime(b64):
    xml = base64.b64decode(b64).decode()
    m = re.search(r'NotOnOrAfter="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)', xml)
    t = time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) \
        - time.timezone if m else 0
    if t - time.time() < LIFETIME_S / 2:
        raise RuntimeError("pysaml2 ignored the bench lifetime; responses "
                           "would expire during the run")


def form_body(b64, relay):
    return ("SAMLResponse=%s&RelayState=%s" % (
        urllib.parse.quote(b64, safe=""),
        urllib.parse.quote(relay, safe=""))).encode()

