#!/usr/bin/python3
"""Drives one full demo login, as a browser would, and says PASS or FAIL.

    check.py --sp http://127.0.0.1:8080 --idp http://127.0.0.1:8081 [--user ana]

GET /dashboard/ -> 302 to the IdP (HTTP-Redirect AuthnRequest) -> the IdP's
login page -> POST the chosen user -> the auto-submitting form -> POST
SAMLResponse + RelayState to the ACS -> 303 + session cookie -> GET
/dashboard/ shows the user's email. Then logout, and the dashboard asks for
a login again. Run by `bash demo/run.sh --check`; exit status 0 on PASS.
"""
import html
import re
import argparse
import html.parser
import sys
import urllib.parse

import requests


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""),
                               "method": (a.get("method") or "get").lower(),
                               "inputs": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))


def forms(text):
    p = Forms()
    p.feed(text)
    return p.forms


class Fail(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Fail(what)


def step(msg):
    print("check: " + msg, flush=True)


def run(sp, idp, user_id, email):
    s = requests.Session()
    s.headers["User-Agent"] = "qsso-demo-check"
    dash = sp + "/dashboard/"

    r = s.get(dash, allow_redirects=False, timeout=10)
    expect(r.status_code == 302, "GET /dashboard/ without a session: expected "
           "302 to the IdP, got %d %s" % (r.status_code, r.text[:300]))
    loc = r.headers.get("Location", "")
    expect(loc.startswith(idp + "/sso?"), "302 Location is not the IdP SSO "
           "URL %s/sso: %r" % (idp, loc))
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    expect("SAMLRequest" in q and "RelayState" in q,
           "302 Location lacks SAMLRequest or RelayState: %r" % loc)
    step("GET /dashboard/ -> 302 to the IdP with an AuthnRequest")

    r = s.get(loc, timeout=10)
    expect(r.status_code == 200, "IdP login page: %d %s"
           % (r.status_code, r.text[:500]))
    f = [f for f in forms(r.text) if f["action"] == "/login"]
    expect(f, "IdP login page has no login form")
    f = f[0]
    expect(("user", user_id) in f["buttons"], "IdP login page does not offer "
           "user %r: %r" % (user_id, f["buttons"]))
    step("IdP login page offers %s" % ", ".join(v for _, v in f["buttons"]))

    data = dict(f["inputs"], user=user_id)
    r = s.post(urllib.parse.urljoin(r.url, f["action"]), data=data,
               timeout=30)
    expect(r.status_code == 200, "IdP login: %d %s"
           % (r.status_code, r.text[:500]))
    f = forms(r.text)
    expect(len(f) == 1 and "SAMLResponse" in f[0]["inputs"],
           "IdP did not answer with a SAMLResponse form: %s" % r.text[:500])
    f = f[0]
    expect(f["action"] == sp + "/qsso/acs", "the form posts to %r, not the "
           "ACS %s/qsso/acs" % (f["action"], sp))
    step("IdP signed a Response for %s, form posts to %s"
         % (email, f["action"]))

    r = s.post(f["action"], data=f["inputs"], allow_redirects=False,
               timeout=10)
    expect(r.status_code == 303, "POST ACS: expected 303, got %d (see "
           "demo/.state/logs/error.log): %s" % (r.status_code, r.text[:500]))
    cookie = r.headers.get("Set-Cookie", "")
    expect(cookie.startswith("qsso_session=") and "HttpOnly" in cookie,
           "ACS set no qsso_session cookie: %r" % cookie)
    target = urllib.parse.urljoin(f["action"], r.headers.get("Location", ""))
    expect(target == dash, "ACS redirects to %r, not back to %s"
           % (target, dash))
    step("POST /qsso/acs -> 303 to /dashboard/ with %s"
         % cookie.split(";")[0].split("=")[0])

    r = s.get(target, allow_redirects=False, timeout=10)
    expect(r.status_code == 200, "GET /dashboard/ with the session: %d %s"
           % (r.status_code, r.text[:500]))
    expect('id="qsso-email">%s<' % email in r.text,
           "the dashboard does not show QSSO_EMAIL %s:\n%s" % (email, r.text))
    expect('id="remote-user">%s<' % user_id in r.text,
           "the dashboard does not show REMOTE_USER %s" % user_id)
    step("GET /dashboard/ -> 200, shows REMOTE_USER=%s QSSO_EMAIL=%s"
         % (user_id, email))
    expect('id="qsso-user-type">Standard<' in r.text,
           "the dashboard does not show the mapped user type Standard")
    t = s.get(sp + "/dashboard/team/", allow_redirects=False, timeout=10)
    expect(t.status_code == 403 and "QSSO5001" in t.text,
           "an Analyst (Standard) must get 403 QSSO5001 at the managers' "
           "report, got %d" % t.status_code)
    step("user type Analyst mapped to Standard; /dashboard/team/ "
         "(managers only) -> 403 QSSO5001")

    # The sign-out link carries the session's logout token (no logout
    # CSRF): a bare /qsso/logout only asks for confirmation.
    m = re.search(r'id="logout" href="([^"]+)"', r.text)
    expect(m is not None, "the dashboard has no sign-out link")
    r = s.get(sp + "/qsso/logout?return=/", allow_redirects=False,
              timeout=10)
    expect(r.status_code == 200 and "Sign out?" in r.text,
           "logout without its token must ask to confirm, got %d"
           % r.status_code)
    r = s.get(sp + html.unescape(m.group(1)), allow_redirects=False,
              timeout=10)
    expect(r.status_code == 303, "logout: expected 303, got %d"
           % r.status_code)
    r = s.get(dash, allow_redirects=False, timeout=10)
    expect(r.status_code == 302, "after logout GET /dashboard/ should "
           "redirect to the IdP, got %d" % r.status_code)
    step("logout -> 303; the dashboard asks for a login again")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sp", default="http://127.0.0.1:8080")
    ap.add_argument("--idp", default="http://127.0.0.1:8081")
    ap.add_argument("--user", default="ana")
    ap.add_argument("--email", default=None)
    a = ap.parse_args()
    email = a.email or a.user + "@example.org"
    try:
        run(a.sp.rstrip("/"), a.idp.rstrip("/"), a.user, email)
    except Fail as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    except requests.RequestException as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    print("PASS: demo login as %s works end to end" % email, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
