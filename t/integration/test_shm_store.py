"""QSSOStore shm: sessions, pending requests and the replay cache in
Apache's shared memory, for a single host without Redis."""
import signal
import time

import requests

import harness
from harness import Browser, env_of, statuses

SHMCB = "LoadModule socache_shmcb_module %s/mod_socache_shmcb.so" % \
    harness.MODDIR


class Shm:
    def __init__(self, url="shm"):
        self.url = url


def test_configtest_checks_the_shm_store(workdir):
    h = harness.Httpd(workdir, Shm(), extra=SHMCB)
    rc, out = h.configtest()
    assert rc == 0, out
    # Without mod_socache_shmcb: say what to load.
    rc, out = harness.Httpd(workdir, Shm()).configtest()
    assert rc != 0 and "socache_shmcb" in out, out
    rc, out = harness.Httpd(workdir, Shm("shm:123"), extra=SHMCB).configtest()
    assert rc != 0 and "QSSOStore" in out and "65536" in out, out
    rc, out = harness.Httpd(workdir, Shm("shm:2097152"),
                            extra=SHMCB).configtest()
    assert rc == 0, out
    rc, out = harness.Httpd(workdir, Shm("shm:1073741825"),
                            extra=SHMCB).configtest()
    assert rc != 0 and "1073741824" in out, out
    # What needs the user directory says that it needs Redis.
    rc, out = harness.Httpd(workdir, Shm(), extra=SHMCB,
                            qsso={"QSSOJITProvisioning": "Off"}).configtest()
    assert rc != 0 and "QSSOJITProvisioning Off" in out and "Redis" in out


def test_login_and_sessions_in_shared_memory(fresh, refusal):
    h = fresh.start(redis=Shm(), extra=SHMCB)
    b = Browser(h)
    xml, relay, _ = b.start_login("/dash/?x=1")
    resp = b.idp.response({harness.EMAIL: ["ana@example.org"]},
                          "ana@example.org",
                          in_response_to=b.request_id(xml))
    r = b.post_acs(resp, relay)
    assert r.status_code == 303 and r.headers["Location"] == "/dash/?x=1"
    # Two child processes serve these: the session is shared memory.
    for _ in range(40):
        r = b.get("/dash/")
        assert r.status_code == 200
        assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"
    # The pending request was taken once; the assertion is a replay.
    refusal(h, Browser(h).post_acs(resp, relay), 403, 2117)
    idp_init = b.idp.response({harness.EMAIL: ["ben@example.org"]},
                              "ben@example.org")
    assert Browser(h).post_acs(idp_init).status_code == 303
    refusal(h, Browser(h).post_acs(idp_init), 403, 2124)
    # Logout ends the session.
    old = b.cookie
    assert b.get(b.logout_url()).status_code == 303
    b.cookie = old
    assert b.get("/dash/").status_code == 302


def test_graceful_restart_starts_an_empty_shared_memory(fresh):
    """Like mod_ssl's session cache, the shared memory belongs to one
    configuration generation: after a restart users sign in again (a
    redirect, never an error), and the server keeps running."""
    h = fresh.start(redis=Shm(), extra=SHMCB)
    b = Browser(h)
    assert b.login().status_code == 303
    assert b.get("/dash/").status_code == 200
    h.mark()
    h.proc.send_signal(signal.SIGUSR1)
    deadline = time.time() + 10
    while time.time() < deadline:
        time.sleep(0.3)
        if any("resuming normal operations" in l for l in h.log()):
            break
    status = None
    for _ in range(20):          # until a child of the new generation answers
        b.http.close()
        try:
            status = b.get("/dash/").status_code
            break
        except requests.ConnectionError:
            time.sleep(0.25)
    assert status == 302
    b2 = Browser(h)
    assert b2.login(email="ben@example.org").status_code == 303
    assert env_of(b2.get("/dash/").text)["QSSO_EMAIL"] == "ben@example.org"
    assert not [l for l in h.log() if "Segmentation" in l]
    h.proc.send_signal(signal.SIGTERM)
    assert h.proc.wait(10) == 0          # a clean stop: no stale cleanups


def test_logout_is_seen_by_every_child_despite_their_copies(fresh):
    """With QSSOSessionCache (default On) each child keeps the sessions it
    read; a logout served by one child must end the session on all, on the
    very next request. New connections spread the requests over both.
    8 MiB: the 20 requests after the logout each start a login, more
    than the 7 per address the default 1 MiB honours (QSSO2012)."""
    h = fresh.start(redis=Shm("shm:8388608"), extra=SHMCB)
    ana, ben = Browser(h), Browser(h)
    assert ana.login().status_code == 303
    assert ben.login("ben@example.org").status_code == 303
    for b in (ana, ben):
        assert statuses(h, b.cookie, 40) == [200] * 40
    old = ana.cookie
    assert ana.get(ana.logout_url()).status_code == 303
    assert statuses(h, old, 20) == [302] * 20
    # Others' sessions are not affected (their copies are re-read).
    assert statuses(h, ben.cookie, 20) == [200] * 20
