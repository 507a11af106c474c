"""If-Match on SCIM /Groups (RFC 7644 3.14), through the real httpd and
redis: a stale ETag on PUT, PATCH or DELETE is refused with 412 and changes
nothing, beside the same request with the current ETag, which succeeds.

The ETag check and the write are one compare-and-set in Redis, so two
clients holding the same ETag cannot both win. A RESP proxy between
httpd and redis-server (t/lib/respproxy.py) holds one request's write to
the group record while the other request runs from start to end: the
interleaving that loses an update is then certain, not a matter of luck.
A trial loop fires the two requests together, as two SCIM clients
would."""
import concurrent.futures
import threading
import uuid

import pytest

from harness import record
from respproxy import RespProxy
from scimclient import (GROUP, Scim, scim_error, scim_location, sha256,
                        write_tokens)

TOKEN = "g-etag-" + uuid.uuid4().hex + uuid.uuid4().hex
STALE = 'W/"0000000000000000"'


@pytest.fixture(scope="module")
def proxy(redis):
    p = RespProxy(redis.port)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def site(proxy, servers, workdir):
    tokens = write_tokens(workdir, sha256(TOKEN))
    return servers.start(redis=proxy, extra=scim_location(tokens))


@pytest.fixture
def scim(site):
    return Scim(site, TOKEN)


def new_group(scim, *members):
    r = scim.post("/Groups", {"schemas": [GROUP],
                              "displayName": "g-%s" % uuid.uuid4().hex[:10],
                              "members": [{"value": m["id"]}
                                          for m in members]})
    assert r.status_code == 201, r.text
    return r.json()


def state(scim, redis, g, *users):
    """What a client and a login would see of g: the resource, its ETag,
    and the groups field of each user's record."""
    r = scim.get("/Groups/" + g["id"])
    return (r.status_code, r.text, r.headers.get("ETag"),
            [record(redis, u["userName"])["groups"] for u in users])


def refused_412(site, r):
    doc = scim_error(r, 412)
    lines = [l for l in site.log() if "QSSO6020" in l]
    assert len(lines) == 1, site.log()[-5:]
    return doc, lines[0]


def if_match(version):
    return {"If-Match": version}


PATCH_NAME = [{"op": "replace", "path": "externalId", "value": "ext-new"}]


def put_body(g, **changes):
    body = {"schemas": [GROUP], "displayName": g["displayName"],
            "members": g.get("members", [])}
    body.update(changes)
    return body


# ---- a stale If-Match is refused, the current one accepted -----------------

def test_group_patch_with_a_stale_etag_is_412_and_changes_nothing(
        site, scim, redis):
    a, b = scim.create(), scim.create()
    g = new_group(scim, a)
    before = state(scim, redis, g, a, b)
    r = scim.patch("/Groups/" + g["id"], PATCH_NAME + [
        {"op": "add", "path": "members", "value": [{"value": b["id"]}]},
        {"op": "remove", "path": 'members[value eq "%s"]' % a["id"]}],
        headers=if_match(STALE))
    doc, line = refused_412(site, r)
    assert g["meta"]["version"] in doc["detail"]
    assert "PATCH" in line and g["id"] in line
    assert state(scim, redis, g, a, b) == before


def test_group_patch_with_the_current_etag_succeeds(scim, redis):
    a, b = scim.create(), scim.create()
    g = new_group(scim, a)
    r = scim.patch("/Groups/" + g["id"], PATCH_NAME + [
        {"op": "add", "path": "members", "value": [{"value": b["id"]}]},
        {"op": "remove", "path": 'members[value eq "%s"]' % a["id"]}],
        headers=if_match(g["meta"]["version"]))
    assert r.status_code == 200, r.text
    assert r.json()["externalId"] == "ext-new"
    assert r.headers["ETag"] != g["meta"]["version"]
    assert r.headers["ETag"] == r.json()["meta"]["version"]
    assert record(redis, a["userName"])["groups"] == []
    assert record(redis, b["userName"])["groups"] == [g["displayName"]]


def test_group_put_with_a_stale_etag_is_412_and_changes_nothing(
        site, scim, redis):
    a, b = scim.create(), scim.create()
    g = new_group(scim, a)
    before = state(scim, redis, g, a, b)
    r = scim.put("/Groups/" + g["id"], put_body(
        g, displayName=g["displayName"] + " renamed",
        members=[{"value": b["id"]}]), headers=if_match(STALE))
    refused_412(site, r)
    assert state(scim, redis, g, a, b) == before
    # The new name was not taken either.
    assert redis.cli("EXISTS", "qsso:group-name:" +
                     (g["displayName"] + " renamed").lower()) == "0"


def test_group_put_with_the_current_etag_succeeds(scim, redis):
    a, b = scim.create(), scim.create()
    g = new_group(scim, a)
    name = g["displayName"] + " renamed"
    r = scim.put("/Groups/" + g["id"], put_body(
        g, displayName=name, members=[{"value": b["id"]}]),
        headers=if_match(g["meta"]["version"]))
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == name
    assert record(redis, a["userName"])["groups"] == []
    assert record(redis, b["userName"])["groups"] == [name]
    assert redis.cli("EXISTS", "qsso:group-name:" +
                     g["displayName"].lower()) == "0"


def test_group_delete_with_a_stale_etag_is_412_and_changes_nothing(
        site, scim, redis):
    a = scim.create()
    g = new_group(scim, a)
    before = state(scim, redis, g, a)
    r = scim.delete("/Groups/" + g["id"], headers=if_match(STALE))
    refused_412(site, r)
    assert state(scim, redis, g, a) == before


def test_group_delete_with_the_current_etag_succeeds(scim, redis):
    a = scim.create()
    g = new_group(scim, a)
    r = scim.delete("/Groups/" + g["id"],
                    headers=if_match(g["meta"]["version"]))
    assert r.status_code == 204, r.text
    scim_error(scim.get("/Groups/" + g["id"]), 404)
    assert record(redis, a["userName"])["groups"] == []


@pytest.mark.parametrize("tag", ["*", "strong", "list"])
def test_group_patch_accepts_every_form_of_a_matching_if_match(scim, tag):
    g = new_group(scim)
    v = g["meta"]["version"]
    header = {"*": "*", "strong": v[2:],
              "list": '%s, %s' % (STALE, v)}[tag]
    r = scim.patch("/Groups/" + g["id"], PATCH_NAME,
                   headers=if_match(header))
    assert r.status_code == 200, r.text


def test_users_refuse_a_stale_etag_through_the_same_path(site, scim):
    u = scim.create()
    ops = [{"op": "replace", "path": "userType", "value": "B"}]
    refused_412(site, scim.patch("/Users/" + u["id"], ops,
                                 headers=if_match(STALE)))
    r = scim.patch("/Users/" + u["id"], ops,
                   headers=if_match(u["meta"]["version"]))
    assert r.status_code == 200 and r.json()["userType"] == "B"


# ---- two clients holding the same ETag ------------------------------------

def test_the_second_patch_with_the_same_etag_is_412(site, scim):
    g = new_group(scim)
    v = g["meta"]["version"]
    first = scim.patch("/Groups/" + g["id"], PATCH_NAME,
                       headers=if_match(v))
    assert first.status_code == 200, first.text
    second = scim.patch("/Groups/" + g["id"], [
        {"op": "replace", "path": "externalId", "value": "ext-other"}],
        headers=if_match(v))
    refused_412(site, second)
    assert scim.get("/Groups/" + g["id"]).json()["externalId"] == "ext-new"


def race(proxy, g, held, other, key=None):
    """Runs held() with its write to g's record (or to key) stopped on the
    way to Redis, other() from start to end meanwhile, then lets held()
    go on."""
    gate = proxy.hold(key or "qsso:group:" + g["id"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        later = pool.submit(held)
        try:
            assert gate.held.wait(10), "the held request never wrote"
            now = other()
        finally:
            gate.release()
        return later.result(20), now


def test_a_patch_that_lost_the_race_to_the_same_etag_is_412(
        site, scim, redis, proxy):
    """A removes z and adds x; B, with the same ETag, writes first."""
    x, z = scim.create(), scim.create()
    g = new_group(scim, z)
    v = g["meta"]["version"]
    held, other = race(proxy, g, lambda: scim.patch("/Groups/" + g["id"], [
        {"op": "add", "path": "members", "value": [{"value": x["id"]}]},
        {"op": "remove", "path": 'members[value eq "%s"]' % z["id"]}],
        headers=if_match(v)), lambda: scim.patch(
            "/Groups/" + g["id"], PATCH_NAME, headers=if_match(v)))
    assert other.status_code == 200, other.text
    doc, _ = refused_412(site, held)
    assert "changed" in doc["detail"]
    now = scim.get("/Groups/" + g["id"]).json()
    assert now["externalId"] == "ext-new"
    assert [m["value"] for m in now["members"]] == [z["id"]]
    # The loser's membership change reached no user record.
    assert record(redis, z["userName"])["groups"] == [g["displayName"]]
    assert record(redis, x["userName"])["groups"] == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_a_put_or_delete_that_lost_the_race_to_the_same_etag_is_412(
        site, scim, redis, proxy, method):
    z = scim.create()
    g = new_group(scim, z)
    v = g["meta"]["version"]
    if method == "PUT":
        def held():
            return scim.put("/Groups/" + g["id"], put_body(
                g, displayName=g["displayName"] + " v2", members=[]),
                headers=if_match(v))
    else:
        def held():
            return scim.delete("/Groups/" + g["id"], headers=if_match(v))
    held, other = race(proxy, g, held, lambda: scim.patch(
        "/Groups/" + g["id"], PATCH_NAME, headers=if_match(v)))
    assert other.status_code == 200, other.text
    refused_412(site, held)
    now = scim.get("/Groups/" + g["id"])
    assert now.status_code == 200, now.text
    assert now.json()["displayName"] == g["displayName"]
    assert now.json()["externalId"] == "ext-new"
    assert record(redis, z["userName"])["groups"] == [g["displayName"]]
    assert redis.cli("EXISTS", "qsso:group-name:" +
                     (g["displayName"] + " v2").lower()) == "0"


def test_patches_without_if_match_both_take_effect(scim, redis, proxy):
    """No precondition: the slower write is applied again to what the
    faster one stored, rather than overwriting it."""
    x, y = scim.create(), scim.create()
    g = new_group(scim)

    def add(u):
        return lambda: scim.patch("/Groups/" + g["id"], [
            {"op": "add", "path": "members", "value": [{"value": u["id"]}]}])
    held, other = race(proxy, g, add(x), add(y))
    assert (held.status_code, other.status_code) == (200, 200), held.text
    members = {m["value"] for m in scim.get("/Groups/" + g["id"])
               .json()["members"]}
    assert members == {x["id"], y["id"]}
    assert record(redis, x["userName"])["groups"] == [g["displayName"]]
    assert record(redis, y["userName"])["groups"] == [g["displayName"]]


def test_a_user_deleted_during_a_group_patch_stays_out_of_the_group(
        scim, redis, proxy):
    """DELETE /Users takes the user out of its groups by the same
    compare-and-set, so a group PATCH in flight does not put it back."""
    u, x = scim.create(), scim.create()
    g = new_group(scim, u)
    held, other = race(proxy, g, lambda: scim.patch("/Groups/" + g["id"], [
        {"op": "add", "path": "members", "value": [{"value": x["id"]}]}]),
        lambda: scim.delete("/Users/" + u["id"]))
    assert (held.status_code, other.status_code) == (200, 204), held.text
    members = [m["value"] for m in scim.get("/Groups/" + g["id"])
               .json()["members"]]
    assert members == [x["id"]]
    assert record(redis, x["userName"])["groups"] == [g["displayName"]]


def test_a_late_membership_write_does_not_outlive_a_removal(
        scim, redis, proxy):
    """A adds u, and its write of u's record is held until B, which
    removes u again, has finished: u must not keep the group."""
    u = scim.create()
    g = new_group(scim)

    def edit(op, path):
        return lambda: scim.patch("/Groups/" + g["id"], [
            {"op": op, "path": path, "value": [{"value": u["id"]}]}])
    held, other = race(proxy, g, edit("add", "members"),
                       edit("remove", "members"),
                       key="qsso:user:" + u["userName"].lower())
    assert (held.status_code, other.status_code) == (200, 200), held.text
    assert scim.get("/Groups/" + g["id"]).json()["members"] == []
    assert record(redis, u["userName"])["groups"] == []


def test_a_late_membership_write_does_not_outlive_a_rename(
        scim, redis, proxy):
    u = scim.create()
    g = new_group(scim)
    name = g["displayName"] + " renamed"
    held, other = race(proxy, g, lambda: scim.patch(
        "/Groups/" + g["id"], [{"op": "add", "path": "members",
                                "value": [{"value": u["id"]}]}]),
        lambda: scim.patch("/Groups/" + g["id"], [
            {"op": "replace", "path": "displayName", "value": name}]),
        key="qsso:user:" + u["userName"].lower())
    assert (held.status_code, other.status_code) == (200, 200), held.text
    now = scim.get("/Groups/" + g["id"]).json()
    assert now["displayName"] == name
    assert [m["value"] for m in now["members"]] == [u["id"]]
    # The old name is gone from u; the new one may be missing until the
    # next write of the group (never the other way round).
    assert g["displayName"] not in record(redis, u["userName"])["groups"]
    assert scim.patch("/Groups/" + g["id"], PATCH_NAME).status_code == 200
    assert record(redis, u["userName"])["groups"] == [name]


def test_concurrent_patches_with_one_etag_never_both_win(site, scim, log):
    """Two clients, one ETag, fired together: in every trial exactly one
    2xx and one 412, and the group holds the winner's change."""
    log.expect("QSSO6020")
    trials, wrong = 40, []
    start = threading.Barrier(2)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for _ in range(trials):
            g = new_group(scim)
            v = g["meta"]["version"]

            def send(value):
                start.wait(10)
                return scim.patch("/Groups/" + g["id"], [
                    {"op": "replace", "path": "externalId",
                     "value": value}], headers=if_match(v))
            a, b = pool.submit(send, "a"), pool.submit(send, "b")
            a, b = a.result(20), b.result(20)
            codes = sorted([a.status_code, b.status_code])
            stored = scim.get("/Groups/" + g["id"]).json()["externalId"]
            won = "a" if a.status_code == 200 else "b"
            if codes != [200, 412] or stored != won:
                wrong.append((codes, stored))
    assert not wrong, "%d of %d trials: %r" % (len(wrong), trials, wrong[:5])
