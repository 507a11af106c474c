"""qssoctl, the admin tool, against a real Redis and a real httpd: every
subcommand, what it prints, and its exit status (0 ok, 1 failed or refused,
2 usage, 3 store unreachable, 4 no such user). User changes made with
qssoctl take effect on the running site at once: a deactivated user's old
cookie stops working and the next login is refused with QSSO4009."""
import csv
import hashlib
import io
import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid

import pytest

import harness
import samlidp
from harness import EMAIL, Browser

def who():
    return "u%s@example.org" % uuid.uuid4().hex[:10]


def sign_in(h, email):
    b = Browser(h)
    r = b.login(email=email)
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert b.get("/dash/").status_code == 200
    return b


def record(redis, username):
    raw = redis.cli("--raw", "GET", "qsso:user:" + username.lower())
    return json.loads(raw) if raw else None


def put_user(redis, username, email, **fields):
    """A record as the module writes it (see test_identity_policy.py)."""
    rec = {"id": uuid.uuid4().hex, "userName": username, "email": email,
           "firstName": "Old", "lastName": "Name", "userType": "Standard",
           "division": "", "groups": [], "uniqueId": "", "externalId": "",
           "source": "scim", "idp": "", "active": True, "deleted": False,
           "ssoLinked": False, "created": 1000, "updated": 1000,
           "lastLogin": 0}
    rec.update(fields)
    redis.cli("SET", "qsso:user:" + username.lower(), json.dumps(rec))
    redis.cli("SADD", "qsso:user-email:" + email.lower(), username.lower())
    return rec


def rows(out):
    return list(csv.DictReader(io.StringIO(out, newline="")))


@pytest.fixture(scope="module")
def notify_site(servers):
    """A site that records user.created events (QSSONotifyUserCreation)."""
    return servers.start(qsso={"QSSONotifyUserCreation": "On"})


# ---- users list / show ----------------------------------------------------

def test_users_list_shows_users_who_signed_in(notify_site, ctl):
    email = who()
    sign_in(notify_site, email)
    r = ctl("users", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"USERNAME\s+EMAIL\s+USER TYPE\s+SOURCE\s+STATUS\s+"
                    r"CREATED\s+LAST LOGIN$", lines[0]), lines[0]
    mine = [l for l in lines if l.startswith(email + " ")]
    assert len(mine) == 1, r.stdout
    assert re.search(r"\bStandard\s+jit\s+active\s+\d{4}-\d\d-\d\dT\S+Z\s+"
                     r"\d{4}-\d\d-\d\dT\S+Z$", mine[0]), mine[0]
    # The columns line up: every row has its STATUS where the header has it.
    col = lines[0].index("STATUS")
    assert all(l[col:col + 8].strip() in ("active", "inactive", "deleted")
               for l in lines[1:]), r.stdout


def test_users_list_csv_parses_with_the_csv_module(notify_site, ctl):
    email = who()
    sign_in(notify_site, email)
    r = ctl("users", "list", "--csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("username,email,user_type,source,status,"
                               "created,last_login\r\n")
    row = {x["username"]: x for x in rows(r.stdout)}[email]
    assert row["email"] == email and row["status"] == "active"
    assert row["source"] == "jit" and row["last_login"] != "never"


def test_users_show_prints_the_record_and_its_live_sessions(notify_site,
                                                             ctl, redis):
    email = who()
    sign_in(notify_site, email)
    r = ctl("users", "show", email.upper())     # usernames ignore case
    assert r.returncode == 0, r.stderr
    f = dict(re.match(r"(.+?):\s+(.*)$", l).groups()
             for l in r.stdout.splitlines())
    rec = record(redis, email)
    assert f["username"] == email and f["id"] == rec["id"]
    assert f["status"] == "active" and f["source"] == "jit"
    assert f["IdP"] == harness.IDP_ENTITY and f["SSO linked"] == "yes"
    assert f["sessions"] == "1 live"


def test_users_show_of_an_unknown_user_exits_4(ctl):
    r = ctl("users", "show", "nobody-%s" % uuid.uuid4().hex)
    assert r.returncode == 4 and "no user" in r.stderr, r
    assert r.stdout == ""


# ---- deactivate / activate / delete --------------------------------------

def test_deactivate_ends_the_session_at_once_and_refuses_the_next_login(
        notify_site, ctl, redis, log):
    email = who()
    b = sign_in(notify_site, email)
    r = ctl("users", "deactivate", email)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "user %s deactivated; 1 session ended\n" % email
    assert record(redis, email)["active"] is False
    # The old cookie is dead now: the very next request starts a login...
    assert b.get("/dash/").status_code == 302
    # ... which the module refuses with "account deactivated".
    log.expect("QSSO4009")
    r = b.login(email=email)
    assert r.status_code == 403 and "QSSO4009" in r.text, r.text[:300]
    assert b.get("/dash/").status_code == 302


def test_activate_lets_a_deactivated_user_sign_in_again(notify_site, ctl,
                                                        redis, log):
    email = who()
    sign_in(notify_site, email)
    assert ctl("users", "deactivate", email).returncode == 0
    log.expect("QSSO4009")
    assert Browser(notify_site).login(email=email).status_code == 403
    r = ctl("users", "activate", email)
    assert r.returncode == 0, r.stderr
    assert "activated" in r.stdout
    assert record(redis, email)["active"] is True
    sign_in(notify_site, email)


def test_delete_keeps_an_inactive_tombstone_that_cannot_sign_in(
        notify_site, ctl, redis, log):
    email = who()
    b = sign_in(notify_site, email)
    r = ctl("users", "delete", email)
    assert r.returncode == 0, r.stderr
    assert "deleted" in r.stdout and "1 session ended" in r.stdout
    rec = record(redis, email)
    assert rec["deleted"] is True and rec["active"] is False
    assert b.get("/dash/").status_code == 302
    log.expect("QSSO4009")
    assert b.login(email=email).status_code == 403
    listed = {x["username"]: x for x in rows(ctl("users", "list",
                                                 "--csv").stdout)}
    assert listed[email]["status"] == "deleted"


@pytest.mark.parametrize("verb", ["deactivate", "activate", "delete"])
def test_switching_an_unknown_user_exits_4_and_writes_nothing(ctl, redis,
                                                              verb):
    name = "ghost-%s" % uuid.uuid4().hex
    r = ctl("users", verb, name)
    assert r.returncode == 4 and "no user" in r.stderr, r
    assert record(redis, name) is None


# ---- sessions -------------------------------------------------------------

def test_sessions_list_shows_two_logins_and_revoke_ends_both(notify_site,
                                                             ctl):
    email = who()
    b1, b2 = sign_in(notify_site, email), sign_in(notify_site, email)
    r = ctl("sessions", "list", email)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"SESSION\s+EXPIRES\s+LEFT\s+IDP\s+SP\s+NAMEID$",
                    lines[0])
    assert len(lines) == 3, r.stdout
    # Each session names the SP it was issued for (and only opens that).
    assert all(" %s " % notify_site.sp_entity in l for l in lines[1:]), \
        r.stdout
    # Never a session ID: not the cookie, not even the whole store key.
    for b in (b1, b2):
        cookie = b.cookie[1]
        key = hashlib.sha256(cookie.encode()).hexdigest()
        assert cookie not in r.stdout and key not in r.stdout
        assert any(l.startswith(key[:12] + "...") for l in lines), r.stdout
    assert all(harness.IDP_ENTITY in l and email in l for l in lines[1:])

    r = ctl("sessions", "revoke", email)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2 sessions of %s ended\n" % email
    assert b1.get("/dash/").status_code == 302
    assert b2.get("/dash/").status_code == 302
    assert ctl("sessions", "list", email).stdout == \
        "no live sessions for %s\n" % email
    # Revoking is not deactivating: the user signs in again.
    sign_in(notify_site, email)


def test_sessions_of_an_unknown_user_exit_4(ctl):
    name = "ghost-%s" % uuid.uuid4().hex
    assert ctl("sessions", "list", name).returncode == 4
    assert ctl("sessions", "revoke", name).returncode == 4


# ---- events ---------------------------------------------------------------

def event_lines(out, kind, user):
    return [l for l in out.splitlines()
            if re.match(r"\d{4}-\d\d-\d\dT\S+Z\s+%s\s" % re.escape(kind), l)
            and "user=%s" % user in l]


def test_events_show_user_created_and_deactivated_by_qssoctl(notify_site,
                                                             ctl):
    email = who()
    sign_in(notify_site, email)
    assert ctl("users", "deactivate", email).returncode == 0
    r = ctl("events", "--count", "10000")
    assert r.returncode == 0, r.stderr
    created = event_lines(r.stdout, "user.created", email)
    assert len(created) == 1 and "source=jit" in created[0], r.stdout
    assert "idp=%s" % harness.IDP_ENTITY in created[0]
    gone = event_lines(r.stdout, "user.deactivated", email)
    assert len(gone) == 1 and "actor=qssoctl" in gone[0], r.stdout
    assert "sessions=1" in gone[0]
    # Oldest first, and --count keeps the newest.
    out = r.stdout.splitlines()
    assert out.index(created[0]) < out.index(gone[0])
    last = ctl("events", "--count", "1").stdout.splitlines()
    assert last == [out[-1]]


def test_events_follow_prints_new_events_and_stops_on_sigterm(qssoctl,
                                                              redis, ctl):
    marker = "start-%s" % uuid.uuid4().hex
    redis.cli("XADD", "qsso:events", "*", "type", "test.marker", "user",
              marker)
    p = subprocess.Popen([qssoctl, "--store", redis.url, "events",
                          "--follow", "--count", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in p.stdout],
                     daemon=True).start()
    try:
        first = lines.get(timeout=10)
        assert "test.marker" in first and marker in first, first
        name = "follow-%s" % uuid.uuid4().hex
        put_user(redis, name, name + "@example.org")
        assert ctl("users", "deactivate", name).returncode == 0
        line = lines.get(timeout=10)
        assert "user.deactivated" in line and "user=%s" % name in line
        assert "actor=qssoctl" in line
    finally:
        p.terminate()
        rc = p.wait(timeout=10)
    assert rc == 0, p.stderr.read()


# ---- review ---------------------------------------------------------------

def test_review_lists_idle_and_never_signed_in_users(ctl, redis):
    tag = uuid.uuid4().hex[:8]
    day = 86400
    now = int(time.time())
    recent = put_user(redis, "recent-" + tag, "r-%s@example.org" % tag,
                      lastLogin=now - 2 * day)
    idle = put_user(redis, "idle-" + tag, "i-%s@example.org" % tag,
                    lastLogin=now - 100 * day, userType="Contractor")
    never = put_user(redis, "never-" + tag, "n-%s@example.org" % tag,
                     lastLogin=0, active=False)
    put_user(redis, "gone-" + tag, "g-%s@example.org" % tag,
             lastLogin=now - 100 * day, active=False, deleted=True)
    r = ctl("review", "--inactive-days", "30")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.match(r"USERNAME\s+EMAIL\s+USER TYPE\s+SOURCE\s+ACTIVE\s+"
                    r"CREATED\s+LAST LOGIN$", lines[0]), lines[0]
    names = [l.split()[0] for l in lines[1:] if l.strip()]
    assert idle["userName"] in names and never["userName"] in names
    assert recent["userName"] not in names
    assert "gone-" + tag not in names           # tombstones hold no access
    # Never signed in comes first, then the longest idle.
    assert names.index(never["userName"]) < names.index(idle["userName"])
    assert re.search(r"\d+ of \d+ users have not signed in for 30 days "
                     r"\(\d+ never signed in\)", r.stdout)

    r = ctl("review", "--inactive-days", "1", "--csv")
    assert r.returncode == 0, r.stderr
    got = {x["username"]: x for x in rows(r.stdout)}
    assert set(got[idle["userName"]]) == {
        "username", "email", "user_type", "source", "active", "created",
        "last_login"}
    assert got[recent["userName"]]["last_login"].endswith("Z")
    assert got[never["userName"]]["last_login"] == "never"
    assert got[never["userName"]]["active"] == "no"
    assert got[idle["userName"]]["user_type"] == "Contractor"


def test_review_csv_quotes_per_rfc4180_and_defuses_formulas(ctl, redis):
    tag = uuid.uuid4().hex[:8]
    odd = put_user(redis, "odd-" + tag, "=HYPERLINK(\"x\")@example.org",
                   userType='Contractor, "external"\nline two')
    r = ctl("review", "--inactive-days", "0", "--csv")
    assert r.returncode == 0, r.stderr
    row = {x["username"]: x for x in rows(r.stdout)}[odd["userName"]]
    assert row["user_type"] == odd["userType"]
    # A spreadsheet must not run a user-supplied formula.
    assert row["email"] == "'" + odd["email"]
    # The table keeps one line per user whatever the values hold.
    table = ctl("review", "--inactive-days", "0").stdout
    assert "line two" in [l for l in table.splitlines()
                          if l.startswith(odd["userName"])][0]


# ---- check-config / check-metadata ----------------------------------------

def test_check_config_accepts_a_good_config(ctl, workdir, redis):
    h = harness.Httpd(workdir, redis)
    r = ctl("check-config", h.conf, store=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("configuration OK")


def test_check_config_explains_a_bad_directive(ctl, workdir, redis):
    h = harness.Httpd(workdir, redis, qsso={"QSSOClockSkew": "9x"})
    r = ctl("check-config", h.conf, store=False)
    assert r.returncode == 1, r.stdout
    assert r.stdout.startswith("configuration REFUSED")
    wrong = r.stdout.split("what is wrong:\n")[1].split("\n\n")[0]
    assert "QSSOClockSkew: '9x' is not a number of seconds" in wrong
    assert "Syntax error on line" in wrong and h.conf in wrong


def test_check_config_gives_the_module_check_and_its_code(ctl, workdir,
                                                          redis):
    h = harness.Httpd(workdir, redis, qsso={"QSSOEmailAttribute": None})
    r = ctl("check-config", h.conf, store=False)
    assert r.returncode == 1, r.stdout
    assert re.search(r"QSSO1001: AuthType qsso in <Location /dash/> .*"
                     r"QSSOEmailAttribute is not set", r.stdout), r.stdout


def test_check_config_without_httpd_fails(ctl, workdir, redis):
    h = harness.Httpd(workdir, redis)
    r = ctl("check-config", h.conf, store=False,
            env={"APACHE2": "/nonexistent/apache2"})
    assert r.returncode == 1 and "cannot run" in r.stderr, r


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_metadata_shows_endpoints_and_certificates(ctl, workdir):
    md = write(workdir, "ctl-idp.xml", samlidp.idp_metadata(
        harness.IDP_ENTITY, harness.IDP_SSO, ("idp1", "idp2"),
        harness.IDP_SSO_POST))
    r = ctl("check-metadata", md, store=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"entity ID:\s+%s$" % re.escape(harness.IDP_ENTITY),
                     r.stdout, re.M)
    assert re.search(r"HTTP-Redirect\):\s+%s$" % re.escape(harness.IDP_SSO),
                     r.stdout, re.M)
    assert re.search(r"HTTP-POST\):\s+%s$" % re.escape(harness.IDP_SSO_POST),
                     r.stdout, re.M)
    assert re.search(r"^signing certificates:\s+2$", r.stdout, re.M)
    for name in ("idp1", "idp2"):
        assert "subject:    CN=qsso-test-%s" % name in r.stdout
    assert len(re.findall(r"not after:\s+\d{4}-\d\d-\d\dT\S+Z \(\d+ days "
                          r"left\)", r.stdout)) == 2, r.stdout


def test_check_metadata_refuses_sp_metadata_and_says_why(ctl, workdir):
    sp = write(workdir, "ctl-sp.xml", samlidp.sp_metadata(
        "https://sp.example.org", "https://sp.example.org/acs"))
    r = ctl("check-metadata", sp, store=False)
    assert r.returncode == 1, r.stdout
    assert "metadata REFUSED" in r.stdout
    assert "IDPSSODescriptor" in r.stdout and "SP's metadata" in r.stdout


def test_check_metadata_of_a_missing_file_fails(ctl):
    r = ctl("check-metadata", "/nonexistent/idp.xml", store=False)
    assert r.returncode == 1 and "cannot open" in r.stdout, r


# ---- decode ---------------------------------------------------------------

SP = "https://portal.example.org/qsso"
ACS = SP + "/acs"
GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"


@pytest.fixture(scope="module")
def captured(workdir):
    """A pysaml2-signed response, the IdP metadata, and the response saved
    the three ways a sysadmin captures one."""
    idp = samlidp.IdP(harness.IDP_ENTITY, harness.IDP_SSO, SP, ACS)
    xml = idp.response({EMAIL: ["ana@example.org"], GROUPS: ["a", "b"]},
                       "ana@example.org", in_response_to="id-req-42")
    b64 = samlidp.b64(xml)
    import urllib.parse
    files = {
        "base64": write(workdir, "resp.b64", b64 + "\n"),
        "form": write(workdir, "resp.form", "SAMLResponse=%s&RelayState=r1"
                      % urllib.parse.quote_plus(b64)),
        "xml": write(workdir, "resp.xml", xml),
    }
    md = write(workdir, "decode-idp.xml", samlidp.idp_metadata(
        harness.IDP_ENTITY, harness.IDP_SSO))
    return {"xml": xml, "files": files, "metadata": md}


def verify(ctl, path, md, audience=SP, *extra):
    return ctl("decode", path, "--metadata", md, "--sp-entity-id", audience,
               "--acs-url", ACS, *extra, store=False)


@pytest.mark.parametrize("form", ["base64", "form", "xml"])
def test_decode_shows_the_key_fields_of_every_capture_format(ctl, captured,
                                                             form):
    r = ctl("decode", captured["files"][form], store=False)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "NOT verified" in out.splitlines()[0]
    for label, value in [("Issuer", harness.IDP_ENTITY),
                         ("Destination", ACS), ("InResponseTo", "id-req-42"),
                         ("Audience", SP), ("Recipient", ACS)]:
        assert re.search(r"^\s+%s:\s+%s$" % (label, re.escape(value)), out,
                         re.M), (label, out)
    assert re.search(r"NameID:\s+ana@example.org \(urn:oasis:", out)
    assert re.search(r"NotBefore:\s+\d{4}-\d\d-\d\dT\S+Z$", out, re.M)
    assert re.search(r"NotOnOrAfter:\s+\d{4}-\d\d-\d\dT\S+Z$", out, re.M)
    assert "%s (1 value)" % EMAIL in out and "%s (2 values)" % GROUPS in out
    # The pretty-printed XML follows, indented.
    assert "\n  <ns1:Issuer" in out or "\n  <saml:Issuer" in out, out
    # Signature values and certificates are never shown in full.
    for tag in ("SignatureValue", "X509Certificate"):
        full = re.search(r"<ds:%s>([^<]+)</ds:%s>" % (tag, tag),
                         captured["xml"]) or re.search(
            r"<ns\d:%s>([^<]+)</ns\d:%s>" % (tag, tag), captured["xml"])
        value = re.sub(r"\s", "", full.group(1))
        assert value not in re.sub(r"\s", "", out)
        assert value[:16] + "... (%d characters)" % len(value) in out


def test_decode_of_something_that_is_no_response_fails(ctl, workdir):
    path = write(workdir, "junk.txt", "hello, this is not SAML\n")
    r = ctl("decode", path, store=False)
    assert r.returncode == 1 and "cannot decode" in r.stdout, r


@pytest.mark.parametrize("form", ["base64", "form", "xml"])
def test_decode_accepts_the_response_with_matching_parameters(ctl, captured,
                                                              form):
    r = verify(ctl, captured["files"][form], captured["metadata"])
    assert r.returncode == 0, r.stdout + r.stderr
    checks = r.stdout.split("Checks (")[1]
    assert "FAIL" not in checks
    assert len(re.findall(r"^  pass  ", checks, re.M)) == 12, checks
    assert "result: ACCEPTED for NameID ana@example.org" in r.stdout
    assert "\nXML (" not in r.stdout     # only with --xml once verifying


def test_decode_refuses_a_response_for_another_audience_with_2104(
        ctl, captured):
    r = verify(ctl, captured["files"]["base64"], captured["metadata"],
               "https://other.example.org/qsso")
    assert r.returncode == 1, r.stdout
    assert re.search(r"^  FAIL  Audience is the SP entity ID\n"
                     r"        QSSO2104: Audience \"%s\" is not this SP "
                     r"\(\"https://other.example.org/qsso\"\)\n"
                     r"        fix: set the Audience at the IdP"
                     % re.escape(SP), r.stdout, re.M), r.stdout
    # Checks before it passed, the one after was not reached.
    assert "  pass  signature: present" in r.stdout
    assert re.search(r"^  -     bearer SubjectConfirmation.*\(not reached\)",
                     r.stdout, re.M)
    assert "result: REFUSED with QSSO2104" in r.stdout


def test_decode_refuses_a_tampered_response_with_2111(ctl, captured,
                                                      workdir):
    xml = captured["xml"].replace(">ana@example.org</", ">eve@example.org</",
                                  1)
    assert xml != captured["xml"]
    path = write(workdir, "tampered.xml", xml)
    r = verify(ctl, path, captured["metadata"])
    assert r.returncode == 1, r.stdout
    assert re.search(r"^  FAIL  signature: .*\n        QSSO2111: the "
                     r"signature on <Response> does not verify", r.stdout,
                     re.M), r.stdout
    assert "result: REFUSED with QSSO2111" in r.stdout


def test_decode_verifies_at_a_given_clock(ctl, captured):
    late = verify(ctl, captured["files"]["xml"], captured["metadata"], SP,
                  "--now", "2099-01-01T00:00:00Z")
    assert late.returncode == 1 and "QSSO2120" in late.stdout, late.stdout
    # A response captured long ago verifies at the time it was issued.
    issued = verify(ctl, captured["files"]["xml"], captured["metadata"], SP,
                    "--at-issue-instant", "--xml")
    assert issued.returncode == 0, issued.stdout
    assert "\nXML (" in issued.stdout


def test_decode_with_other_idp_metadata_fails_the_signature(ctl, captured,
                                                            workdir):
    md = write(workdir, "decode-idp2.xml", samlidp.idp_metadata(
        harness.IDP_ENTITY, harness.IDP_SSO, ("idp2",)))
    r = verify(ctl, captured["files"]["base64"], md)
    assert r.returncode == 1 and "QSSO2111" in r.stdout


# ---- usage, store, exit statuses -----------------------------------------

@pytest.mark.parametrize("args", [
    [], ["bogus"], ["--bogus", "users", "list"], ["users"],
    ["users", "frobnicate"], ["users", "show"], ["users", "show", "a", "b"],
    ["users", "list", "--tsv"], ["sessions"], ["sessions", "list"],
    ["sessions", "drop", "x"], ["events", "--count", "x"],
    ["events", "--count"], ["events", "--follow", "--later"],
    ["review"], ["review", "--inactive-days", "-3"],
    ["review", "--inactive-days", "soon"], ["check-config"],
    ["check-metadata", "a", "b"], ["decode"],
    ["decode", "resp", "--metadata", "md.xml"],
    ["decode", "resp", "--acs-url", "https://x/acs"],
    ["decode", "resp", "--skew", "9x", "--metadata", "m",
     "--sp-entity-id", "s", "--acs-url", "a"],
    ["--store", "http://127.0.0.1:6379", "users", "list"],
    ["--store", "shm", "users", "list"],
])
def test_bad_arguments_print_usage_on_stderr_and_exit_2(ctl, args):
    r = ctl(*args, store=False)
    assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("qssoctl: ") and "\nusage: qssoctl" in r.stderr


def test_help_goes_to_stdout_and_exits_0(ctl):
    r = ctl("--help", store=False)
    assert r.returncode == 0 and r.stdout.startswith("usage: qssoctl")
    for cmd in ("users list", "sessions revoke", "events", "review",
                "check-config", "check-metadata", "decode"):
        assert cmd in r.stdout
    assert "3 store unreachable" in r.stdout


@pytest.mark.parametrize("args", [["users", "list"], ["events"],
                                  ["review", "--inactive-days", "9"],
                                  ["users", "deactivate", "ana"]])
def test_unreachable_store_exits_3(ctl, args):
    url = "redis://127.0.0.1:%d/0" % harness.free_port()
    r = ctl(*args, store=url)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "cannot reach the store %s" % url in r.stderr
    assert r.stdout == ""


def test_store_password_is_never_echoed(ctl):
    url = "redis://admin:s3cret@127.0.0.1:%d/0" % harness.free_port()
    r = ctl("users", "list", store=url)
    assert r.returncode == 3 and "s3cret" not in r.stderr, r.stderr
    assert "redis://admin:***@127.0.0.1" in r.stderr


def test_store_comes_from_qsso_store_when_not_given(ctl, redis):
    r = ctl("users", "list", store=False, env={"QSSO_STORE": redis.url})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("USERNAME")


def test_decode_decrypts_with_the_sp_key(ctl, workdir):
    """An encrypted capture is refused as 2109 without the SP key and
    accepted with --sp-key, by the ACS's own decryption."""
    import samlenc
    idp = samlidp.IdP(harness.IDP_ENTITY, harness.IDP_SSO, SP, ACS)
    xml = idp.response({EMAIL: ["ana@example.org"]}, "ana@example.org",
                       in_response_to="id-req-43", sign_response=False,
                       sign_assertion=True)
    enc = samlenc.encrypt_response(xml)
    assert "EncryptedAssertion" in enc
    path = write(workdir, "enc.b64", samlidp.b64(enc))
    md = write(workdir, "decode-idp-enc.xml", samlidp.idp_metadata(
        harness.IDP_ENTITY, harness.IDP_SSO))
    r = verify(ctl, path, md)
    assert r.returncode == 1 and "QSSO2109" in r.stdout, r.stdout
    r = verify(ctl, path, md, SP, "--sp-key", samlidp.key_path("sp")[0])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "result: ACCEPTED for NameID ana@example.org" in r.stdout
    r = verify(ctl, path, md, SP, "--sp-key",
               samlidp.key_path("attacker")[0])
    assert r.returncode == 1 and "QSSO2128" in r.stdout, r.stdout
