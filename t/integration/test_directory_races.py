"""The user directory under concurrent writers: a login racing a
deactivation or a SCIM push (issue 9, finding 2), the sessions of a name a
record no longer has (finding 6), and merge links whose record is gone or
given to someone else (finding 7).

To land a deactivation exactly between a login's read and its write, the
httpd under test talks to Redis through a RESP proxy (t/lib/respproxy.py):
it forwards every command, except that, when armed, it holds the first
write of one user's record until the test has run its deactivation (or
SCIM push) directly against Redis or SCIM, and then lets it through."""
import random
import threading
import time
import uuid

import pytest

import harness
from harness import EMAIL, UPN, Browser, env_of, record, refused, who
from respproxy import RespProxy
from scimclient import GROUP, Scim, scim_location, sha256, write_tokens

# The SCIM token of the sites here (linked_site: test_review_attacks.py).
TOKEN = "dir-" + uuid.uuid4().hex + uuid.uuid4().hex

SSI = """REMOTE_USER=<!--#echo var="REMOTE_USER" -->
QSSO_EMAIL=<!--#echo var="QSSO_EMAIL" -->
QSSO_GROUPS=<!--#echo var="QSSO_GROUPS" -->
"""
# What a login's write to a record looks like: the SET of the old code,
# the compare-and-set script (EVAL) of the new one.
LOGIN_WRITES = (b"SET", b"EVAL", b"EVALSHA")
# Below QSSO_REDIS_COMMAND_MS (1 s): a longer hold would time the held
# command out and the module would retry it on a fresh connection.
HOLD_MAX = 0.8


@pytest.fixture
def proxy(redis):
    p = RespProxy(redis.port)
    yield p
    p.stop()


def hold_write(proxy, key):
    """Holds the next write of key (at most HOLD_MAX)."""
    return proxy.hold(key, commands=LOGIN_WRITES, max_wait=HOLD_MAX)


def site_with_scim(fresh, workdir, store, **qsso):
    tokens = write_tokens(workdir, sha256(TOKEN))
    h = fresh.start(redis=store, qsso=qsso, extra=scim_location(tokens))
    with open(h.docroot + "/dash/index.shtml", "w") as f:
        f.write(SSI)
    return h


def held_login(proxy, b, email, during, attrs=None):
    """b signs in as email while the proxy holds the write of the record;
    during() runs while it is held. Returns the ACS response."""
    xml, relay, _ = b.start_login("/dash/")
    resp = b.idp.response(attrs or {EMAIL: [email]}, email,
                          in_response_to=Browser.request_id(xml))
    return held_call(proxy, "qsso:user:" + email.lower(),
                     lambda: b.post_acs(resp, relay), during)


def held_call(proxy, key, call, during):
    """call() (a login's ACS post, a SCIM request) runs while its write of
    key is held and during() runs; returns call()'s response."""
    out = []
    gate = hold_write(proxy, key)
    t = threading.Thread(target=lambda: out.append(call()))
    t.start()
    assert gate.held.wait(5), "the call never wrote %s" % key
    t0 = time.monotonic()
    during()
    assert time.monotonic() - t0 < HOLD_MAX, "took too long to hold"
    gate.release()
    t.join(15)
    assert out, "the call did not answer"
    return out[0]


# ---- finding 2: a deactivation between a login's read and its write ------

def test_deactivation_between_the_logins_read_and_write_wins(
        fresh, workdir, redis, proxy, ctl, refusal):
    h = site_with_scim(fresh, workdir, proxy)
    email = who("racer")
    first = Browser(h)
    assert first.login(email=email).status_code == 303   # JIT
    assert first.get("/dash/").status_code == 200

    def deactivate():
        r = ctl("users", "deactivate", email)
        assert r.returncode == 0, r.stderr

    b = Browser(h)
    r = held_login(proxy, b, email, deactivate)
    refused(refusal, h, b, r, 403, 4009)
    assert record(redis, email)["active"] is False
    assert first.get("/dash/").status_code == 302
    # And it stays so: the next login is refused too.
    h.mark()
    again = Browser(h)
    refused(refusal, h, again, again.login(email=email), 403, 4009)
    assert record(redis, email)["active"] is False


def test_scim_deactivation_between_the_logins_read_and_write_wins(
        fresh, workdir, redis, proxy, refusal):
    h = site_with_scim(fresh, workdir, proxy)
    s = Scim(h, TOKEN)
    email = who("scimracer")
    u = s.create(name=email)
    b = Browser(h)

    def deactivate():
        # Straight to the site (its own commands pass the proxy).
        r = s.patch("/Users/" + u["id"],
                    [{"op": "replace", "value": {"active": False}}])
        assert r.status_code == 200 and r.json()["active"] is False, r.text

    r = held_login(proxy, b, email, deactivate)
    refused(refusal, h, b, r, 403, 4009)
    assert record(redis, email)["active"] is False
    assert s.get("/Users/" + u["id"]).json()["active"] is False


def test_a_held_login_without_a_deactivation_signs_in(fresh, workdir, redis,
                                                      proxy):
    h = site_with_scim(fresh, workdir, proxy)
    email = who("twin")
    assert Browser(h).login(email=email).status_code == 303
    b = Browser(h)
    r = held_login(proxy, b, email, lambda: None)
    assert r.status_code == 303, r.text
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == email
    assert record(redis, email)["active"] is True


def test_scim_pushes_during_a_login_are_not_reverted(fresh, workdir, redis,
                                                     proxy):
    h = site_with_scim(fresh, workdir, proxy)
    s = Scim(h, TOKEN)
    email = who("pushed")
    u = s.create(name=email)
    group = "Auditors %s" % uuid.uuid4().hex[:6]
    b = Browser(h)

    def push():
        r = s.patch("/Users/" + u["id"], [
            {"op": "replace", "path": "externalId", "value": "EXT-77"},
            {"op": "replace", "path": "userType", "value": "Auditor"}])
        assert r.status_code == 200, r.text
        r = s.post("/Groups", {"schemas": [GROUP], "displayName": group,
                               "members": [{"value": u["id"]}]})
        assert r.status_code == 201, r.text

    r = held_login(proxy, b, email, push)
    assert r.status_code == 303, r.text
    rec = record(redis, email)
    assert rec["externalId"] == "EXT-77"
    assert rec["userType"] == "Auditor"
    assert rec["groups"] == [group]
    assert rec["lastLogin"] > 0 and rec["ssoLinked"] is True
    # The session was made from the record as the push left it.
    assert env_of(b.get("/dash/").text)["QSSO_GROUPS"] == group


def test_two_groups_marking_one_user_at_once_both_stay(fresh, workdir,
                                                      redis, proxy):
    """Group A's PATCH adding u is held at its write of u's record while
    group B's PATCH adds u too: the held write, finding the record
    changed, adds only its own name, so u ends in both groups (a copy of
    its whole list would take B away again)."""
    h = site_with_scim(fresh, workdir, proxy)
    s = Scim(h, TOKEN)
    email = who("member")
    u = s.create(name=email)
    a, b = ("Group %s %s" % (n, uuid.uuid4().hex[:6]) for n in "AB")
    ga = s.post("/Groups", {"schemas": [GROUP], "displayName": a}).json()
    gb = s.post("/Groups", {"schemas": [GROUP], "displayName": b}).json()
    add = [{"op": "add", "path": "members", "value": [{"value": u["id"]}]}]
    out = []
    gate = hold_write(proxy, "qsso:user:" + email.lower())
    t = threading.Thread(target=lambda: out.append(
        s.patch("/Groups/" + ga["id"], add)))
    t.start()
    assert gate.held.wait(5), "group A never wrote the user record"
    r = s.patch("/Groups/" + gb["id"], add)
    assert r.status_code == 200, r.text
    gate.release()
    t.join(15)
    assert out and out[0].status_code == 200, out and out[0].text
    assert sorted(record(redis, email)["groups"]) == sorted([a, b])


def test_one_group_marking_a_user_alone_gives_that_group(fresh, workdir,
                                                         redis):
    h = site_with_scim(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("member")
    u = s.create(name=email)
    a = "Group A %s" % uuid.uuid4().hex[:6]
    ga = s.post("/Groups", {"schemas": [GROUP], "displayName": a}).json()
    r = s.patch("/Groups/" + ga["id"], [
        {"op": "add", "path": "members", "value": [{"value": u["id"]}]}])
    assert r.status_code == 200, r.text
    assert record(redis, email)["groups"] == [a]


def test_many_logins_fired_with_a_deactivation_never_survive(
        fresh, workdir, redis, ctl):
    h = site_with_scim(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("storm")
    u = s.create(name=email)
    idp = harness.idp_for(h)
    trials, survived, reactivated, t_end = 200, [], [], time.time() + 240
    signed_in = 0
    for i in range(trials):
        assert time.time() < t_end, "race test over its time budget"
        if i:
            r = s.patch("/Users/" + u["id"],
                        [{"op": "replace", "value": {"active": True}}])
            assert r.status_code == 200, r.text
        b = Browser(h)
        b.idp = idp
        xml, relay, _ = b.start_login("/dash/")
        resp = idp.response({EMAIL: [email]}, email,
                            in_response_to=Browser.request_id(xml))
        gate, out = threading.Barrier(2), {}

        def login():
            gate.wait()
            out["login"] = b.post_acs(resp, relay)

        def deactivate():
            gate.wait()
            # Every other trial spreads the deactivation over the login's
            # few milliseconds, so the trials cover every order of their
            # Redis commands (at once, the SCIM call tends to win).
            if i % 2:
                time.sleep(random.uniform(0, 0.004))
            out["scim"] = s.patch("/Users/" + u["id"], [
                {"op": "replace", "value": {"active": False}}])

        ts = [threading.Thread(target=login),
              threading.Thread(target=deactivate)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(15)
        assert out["scim"].status_code == 200, out["scim"].text
        assert out["login"].status_code in (303, 403), out["login"].text
        if record(redis, email)["active"] is not False:
            reactivated.append(i)
        if b.cookie and b.get("/dash/").status_code == 200:
            survived.append(i)
        signed_in += out["login"].status_code == 303
    print("\n%d trials: the login got its 303 first in %d, was refused in "
          "%d" % (trials, signed_in, trials - signed_in))
    assert reactivated == [], "re-activated in trials %r" % reactivated
    assert survived == [], "a session survived in trials %r" % survived


# ---- finding 6: the sessions of a renamed record's old name --------------

def test_rename_at_login_ends_the_old_names_sessions(fresh, workdir, redis,
                                                     ctl):
    """A session under the bare name, the record renamed to name#acme at
    an SSO login: the old name's session is revoked at the rename (and a
    deactivation of the renamed user reaches its new sessions); the new
    name's session, the twin, opens pages until the deactivation."""
    bare = fresh.start()
    email = who("renamed")
    old = Browser(bare)
    assert old.login(email=email).status_code == 303
    assert old.get("/dash/").status_code == 200       # under the bare name
    branded = site_with_scim(fresh, workdir, redis, QSSOBrandID="acme",
                             QSSOModifyExistingUsername="On")
    b = Browser(branded)
    assert b.login(email=email).status_code == 303
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == email + "#acme"
    assert old.get("/dash/").status_code == 302       # revoked at rename
    assert b.get("/dash/").status_code == 200         # the twin
    rec = record(redis, email + "#acme")
    assert rec["formerNames"] == [email.lower()]
    assert record(redis, email) is None
    shown = ctl("users", "show", email + "#acme").stdout
    assert "former names: " + email.lower() in shown, shown
    r = Scim(branded, TOKEN).patch("/Users/" + rec["id"], [
        {"op": "replace", "value": {"active": False}}])
    assert r.status_code == 200, r.text
    assert b.get("/dash/").status_code == 302
    assert old.get("/dash/").status_code == 302


def test_scim_rename_ends_the_old_names_sessions(fresh, workdir, redis):
    h = site_with_scim(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("scimrename")
    u = s.create(name=email)
    b = Browser(h)
    assert b.login(email=email).status_code == 303
    assert b.get("/dash/").status_code == 200
    r = s.patch("/Users/" + u["id"], [
        {"op": "replace", "path": "userName", "value": "new-" + email}])
    assert r.status_code == 200, r.text
    assert b.get("/dash/").status_code == 302
    assert record(redis, "new-" + email)["formerNames"] == [email.lower()]


# ---- finding 7: merge links and reused usernames ---------------------------

def linked_site(fresh, workdir, redis, **qsso):
    conf = {"QSSOJITProvisioning": "Off", "QSSOUsernameAttribute": UPN}
    conf.update(qsso)
    return site_with_scim(fresh, workdir, redis, **conf)


def sso_login(h, idp_user, email):
    b = Browser(h)
    return b, b.login(email=email, attrs={EMAIL: [email], UPN: [idp_user]})


def test_a_valid_link_signs_in_as_the_linked_record(fresh, workdir, redis):
    h = linked_site(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("linked")
    legacy = "legacy-" + uuid.uuid4().hex[:8]
    u = s.create(name=legacy, email=email)
    for _ in range(2):                  # the link, then following it
        b, r = sso_login(h, "sso-" + legacy, email)
        assert r.status_code == 303, r.text
        assert env_of(b.get("/dash/").text)["REMOTE_USER"] == legacy
    assert record(redis, legacy)["id"] == u["id"]


def test_a_stale_link_does_not_sign_in_the_new_owner_of_a_name(
        fresh, workdir, redis, refusal):
    h = linked_site(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("departed")
    legacy = "legacy-" + uuid.uuid4().hex[:8]
    old = s.create(name=legacy, email=email)
    b, r = sso_login(h, "sso-" + legacy, email)
    assert r.status_code == 303, r.text
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == legacy
    assert s.delete("/Users/" + old["id"]).status_code == 204
    # The tombstone keeps its link: the departed user stays out as deleted.
    b, r = sso_login(h, "sso-" + legacy, email)
    refused(refusal, h, b, r, 403, 4009)
    # The name goes to someone else; the tombstone's id, and its links, go.
    new = s.create(name=legacy, email=who("newcomer"))
    assert new["id"] != old["id"]
    assert redis.keys("qsso:user-aliases:" + old["id"]) == []
    b, r = sso_login(h, "sso-" + legacy, email)
    refused(refusal, h, b, r, 403, 4008)    # JIT is off: not in directory
    rec = record(redis, legacy)
    assert rec["id"] == new["id"] and rec["ssoLinked"] is False
    assert redis.keys("qsso:user-alias:sso-" + legacy) == []


def test_a_stale_link_with_jit_on_creates_a_separate_user(fresh, workdir,
                                                           redis):
    h = linked_site(fresh, workdir, redis, QSSOJITProvisioning="On",
                    QSSOMergeExistingUser="On")
    s = Scim(h, TOKEN)
    email = who("departed-jit")
    legacy = "legacy-" + uuid.uuid4().hex[:8]
    old = s.create(name=legacy, email=email)
    b, r = sso_login(h, "sso-" + legacy, email)
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == legacy
    assert s.delete("/Users/" + old["id"]).status_code == 204
    s.create(name=legacy, email=who("newcomer"))
    b, r = sso_login(h, "sso-" + legacy, email)
    assert r.status_code == 303, r.text
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == "sso-" + legacy
    assert record(redis, legacy)["ssoLinked"] is False


def test_a_link_whose_record_changed_email_is_refused(fresh, workdir, redis,
                                                      refusal):
    h = linked_site(fresh, workdir, redis)
    s = Scim(h, TOKEN)
    email = who("moved")
    legacy = "legacy-" + uuid.uuid4().hex[:8]
    u = s.create(name=legacy, email=email)
    b, r = sso_login(h, "sso-" + legacy, email)
    assert r.status_code == 303, r.text
    other = who("someone")
    r = s.patch("/Users/" + u["id"], [
        {"op": "replace", "path": "emails", "value": [
            {"value": other, "primary": True}]}])
    assert r.status_code == 200, r.text
    b, r = sso_login(h, "sso-" + legacy, email)
    line = refused(refusal, h, b, r, 403, 4020)
    assert other in line and email in line


def test_two_idp_users_linking_one_record_at_once_get_one_link(
        fresh, workdir, redis, proxy, refusal):
    """Two IdP usernames with the record's email sign in for the first
    time together: the second link lands while the first is held. One of
    them gets the record; the other is refused (4010), never both."""
    h = linked_site(fresh, workdir, proxy)
    s = Scim(h, TOKEN)
    email = who("shared")
    legacy = "legacy-" + uuid.uuid4().hex[:8]
    s.create(name=legacy, email=email)
    second = {}

    def other_links():
        b2, r2 = sso_login(h, "second-" + legacy, email)
        second["b"], second["r"] = b2, r2

    b = Browser(h)
    r = held_login(proxy, b, legacy, other_links,
                   attrs={EMAIL: [email], UPN: ["first-" + legacy]})
    assert second["r"].status_code == 303, second["r"].text
    assert env_of(second["b"].get("/dash/").text)["REMOTE_USER"] == legacy
    line = refused(refusal, h, b, r, 403, 4010)
    assert "first-" + legacy in line
    assert redis.keys("qsso:user-alias:first-" + legacy) == []


def test_deactivation_follows_a_rename_that_lands_before_its_write(
        fresh, workdir, redis, proxy, ctl):
    """qssoctl reads "name", the login renames it to "name#acme" before
    qssoctl writes: the deactivation follows the record (by id) to its
    new name and ends the session the renaming login made."""
    email = who("moving")
    bare = fresh.start()
    assert Browser(bare).login(email=email).status_code == 303
    branded = site_with_scim(fresh, workdir, redis, QSSOBrandID="acme",
                             QSSOModifyExistingUsername="On")
    gate = hold_write(proxy, "qsso:user:" + email.lower())
    out = {}
    t = threading.Thread(target=lambda: out.update(
        r=ctl("users", "deactivate", email, store=proxy.url)))
    t.start()
    assert gate.held.wait(10), "qssoctl never wrote the record"
    b = Browser(branded)
    t0 = time.monotonic()
    assert b.login(email=email).status_code == 303      # the rename
    assert time.monotonic() - t0 < HOLD_MAX, "took too long to hold"
    gate.release()
    t.join(15)
    assert out["r"].returncode == 0, out["r"].stderr
    rec = record(redis, email + "#acme")
    assert rec["active"] is False and rec["formerNames"] == [email.lower()]
    assert record(redis, email) is None          # no resurrected copy
    assert b.get("/dash/").status_code == 302


@pytest.mark.parametrize("if_match", [True, False])
def test_a_scim_patch_does_not_revert_a_login_between_its_read_and_write(
        fresh, workdir, redis, proxy, if_match):
    """With If-Match the PATCH, decided on a version that a login changed
    before the write, is 412 (RFC 7644 3.14) and changes nothing; without,
    it is applied onto the record as the login left it. Either way the
    login's write stays."""
    h = site_with_scim(fresh, workdir, proxy)
    s = Scim(h, TOKEN)
    email = who("patched")
    u = s.create(name=email)
    etag = s.get("/Users/" + u["id"]).headers["ETag"]
    ops = [{"op": "replace", "path": "externalId", "value": "EXT-9"}]

    def patch():
        return s.patch("/Users/" + u["id"], ops,
                       headers={"If-Match": etag} if if_match else None)

    def login():
        assert Browser(h).login(email=email).status_code == 303

    r = held_call(proxy, "qsso:user:" + email.lower(), patch, login)
    rec = record(redis, email)
    assert rec["lastLogin"] > 0 and rec["ssoLinked"] is True
    if if_match:
        assert r.status_code == 412, r.text
        assert rec["externalId"] == ""
    else:
        assert r.status_code == 200, r.text
        assert rec["externalId"] == "EXT-9"
