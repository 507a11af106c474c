"""QSSOStore shm under pressure. Unauthenticated requests write pending
logins only, into a region of their own: a flood of them cannot evict the
sessions or the replay cache. The replay cache never evicts: when it is
full, a new login is refused (QSSO3030), never accepted unchecked."""
import http.client
import threading

import pytest

import harness
from harness import Browser, env_of

SHMCB = "LoadModule socache_shmcb_module %s/mod_socache_shmcb.so" % \
    harness.MODDIR
# The per-address cap of pending logins is a separate defence (see
# test_pending_limits.py); off here, so that the flood really writes.
NO_CAP = {"QSSOPendingLoginsPerAddress": "0"}


class Shm:
    def __init__(self, url="shm"):
        self.url = url


def flood(h, n, threads=4):
    """n unauthenticated navigation GETs of a protected page, each of
    which starts a login (a pending record); their statuses."""
    out = []
    lock = threading.Lock()

    def run(count):
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
        got = []
        for i in range(count):
            c.request("GET", "/dash/?flood=%d" % i)
            r = c.getresponse()
            r.read()
            got.append(r.status)
        c.close()
        with lock:
            out.extend(got)

    ts = [threading.Thread(target=run, args=(n // threads,))
          for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


@pytest.mark.parametrize("gets", [0, 4000], ids=["no_flood", "flood"])
def test_flood_of_unauthenticated_gets_keeps_sessions_and_replay_cache(
        fresh, refusal, gets):
    h = fresh.start(redis=Shm(), extra=SHMCB, qsso=NO_CAP)
    ana = Browser(h)
    assert ana.login().status_code == 303
    assert ana.get("/dash/").status_code == 200
    ben = Browser(h)
    captured = ben.idp.response({harness.EMAIL: ["ben@example.org"]},
                                "ben@example.org")
    assert ben.post_acs(captured).status_code == 303
    assert flood(h, gets) == [302] * gets
    # The session made before the flood still opens the page ...
    r = ana.get("/dash/")
    assert r.status_code == 200
    assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"
    # ... and the captured IdP-initiated response is still a replay.
    refusal(h, Browser(h).post_acs(captured), 403, 2124)


def test_full_replay_cache_refuses_the_next_login(fresh, refusal):
    """shm:65536 keeps 8192 bytes for the replay cache: 153 assertion IDs
    (each kept at least a minute). The 154th login is refused with
    QSSO3030 while the 153 are still refused as replays: nothing was
    evicted to make room."""
    h = fresh.start(redis=Shm("shm:65536"), extra=SHMCB)
    b = Browser(h)
    sent = []
    for i in range(153):
        email = "user%03d@example.org" % i
        resp = b.idp.response({harness.EMAIL: [email]}, email)
        r = Browser(h).post_acs(resp)
        assert r.status_code == 303, (i, r.status_code, r.text[:300])
        sent.append(resp)
    last = b.idp.response({harness.EMAIL: ["last@example.org"]},
                          "last@example.org")
    line = refusal(h, Browser(h).post_acs(last), 503, 3030)
    assert "153 assertion IDs" in line, line
    for resp in (sent[0], sent[76], sent[-1]):
        h.mark()
        refusal(h, Browser(h).post_acs(resp), 403, 2124)


def test_pending_logins_are_capped_per_address_with_shm(fresh, refusal):
    h = fresh.start(redis=Shm(), extra=SHMCB,
                    qsso={"QSSOPendingLoginsPerAddress": "3"})
    for _ in range(3):
        assert Browser(h).get("/dash/").status_code == 302
    r = Browser(h).get("/dash/")
    refusal(h, r, 429, 2010)
    assert 1 <= int(r.headers["Retry-After"]) <= 180


def test_largest_size_starts_and_serves_logins(fresh):
    """shm:1073741824, shared out in three regions, still starts."""
    h = fresh.start(redis=Shm("shm:1073741824"), extra=SHMCB)
    b = Browser(h)
    assert b.login().status_code == 303
    assert b.get("/dash/").status_code == 200
