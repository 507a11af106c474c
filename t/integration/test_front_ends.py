"""Three Apache front ends sharing one Redis, as behind a load balancer:
a session made on one works on the others, a response accepted by one is
a replay on another, a wrk run spread over all three sees only 2xx, and a
graceful restart during load fails no request. Load here is bounded and
checks errors only; throughput is measured by bench/, not by tests."""
import http.client
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import harness
from harness import Browser, env_of


@pytest.fixture(scope="module")
def trio(servers):
    a = servers.start()
    same = {"QSSOSPBaseURL": a.base, "QSSOSPEntityID": a.sp_entity}
    return [a, servers.start(qsso=same), servers.start(qsso=same)]


# Fewer connections than one child has threads: the event MPM closes idle
# keep-alive connections when every worker of a child is busy, which wrk
# counts as a read error although a browser would retry. wrk's default 2 s
# timeout counts a slow answer as an error; on a loaded CI machine that is
# noise, so the timeout is 10 s (longer than the run: a request that never
# gets its answer still shows as a run with fewer requests, never as 2xx).
NON200 = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "non200.lua")


def wrk(url, cookie, seconds=3, connections=4, extra=()):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % seconds,
         "--timeout", "10s", "-s", NON200, "-H", "Cookie: %s=%s" % cookie]
        + list(extra) + [url],
        capture_output=True, text=True, timeout=seconds + 30).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"non-200 answers: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+),"
                     r" timeout (\d+)", out)
    return total, int(bad.group(1)), \
        sum(int(x) for x in sock.groups()) if sock else 0, out


def test_session_from_one_front_end_works_on_the_others(trio):
    b = Browser(trio[0])
    assert b.login().status_code == 303
    for h in trio:
        other = Browser(h)
        other.cookie = b.cookie
        r = other.get("/dash/")
        assert r.status_code == 200
        assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"


def test_response_accepted_by_one_is_a_replay_on_another(trio, refusal):
    b = Browser(trio[0])
    resp = b.idp.response({harness.EMAIL: ["cho@example.org"]},
                          "cho@example.org")
    assert Browser(trio[1]).post_acs(resp).status_code == 303
    refusal(trio[2], Browser(trio[2]).post_acs(resp), 403, 2124)


def test_load_over_three_front_ends_sees_only_success(trio):
    b = Browser(trio[0])
    b.login()
    results = [None] * 3

    def run(i):
        results[i] = wrk(trio[i].url("/dash/"), b.cookie)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for total, bad, sock, out in results:
        assert total > 100, out
        assert bad == 0 and sock == 0, out


def hammer(h, cookie, stop, clients=4):
    """Requests on a new connection each, from `clients` threads, until
    `stop` is set; every request runs to its answer (a 20 s socket timeout
    is a failure). Returns (count, failures, slowest seconds). Unlike wrk,
    which stops with requests in flight and counts any request slower than
    2 s as an error, this tells a lost request from a slow one: a graceful
    restart leaves nobody accepting for about a second while the parent
    starts the new generation."""
    lock = threading.Lock()
    stats = {"n": 0, "fail": [], "slowest": 0.0}

    def client():
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=20)
                c.request("GET", "/dash/", headers={
                    "Cookie": "%s=%s" % cookie, "Connection": "close"})
                r = c.getresponse()
                r.read()
                c.close()
                err = None if r.status == 200 else "status %d" % r.status
            except (OSError, http.client.HTTPException) as e:
                err = repr(e)
            with lock:
                stats["n"] += 1
                stats["slowest"] = max(stats["slowest"], time.monotonic() - t0)
                if err:
                    stats["fail"].append(err)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    return threads, stats


def resumptions(h):
    return sum("resuming normal operations" in l for l in h.log())


def test_graceful_restart_during_load_fails_no_request(trio):
    b = Browser(trio[0])
    b.login()
    h = trio[1]
    stop = threading.Event()
    threads, stats = hammer(h, b.cookie, stop)
    time.sleep(1.0)
    before = stats["n"]
    resumed = resumptions(h)
    h.proc.send_signal(signal.SIGUSR1)          # apachectl -k graceful
    deadline = time.monotonic() + 30
    while resumptions(h) == resumed:
        assert time.monotonic() < deadline, "no graceful restart logged"
        time.sleep(0.1)
    # Keep the load on until the new generation has answered for a while.
    mark = stats["n"]
    while stats["n"] < mark + 200:
        assert time.monotonic() < deadline, stats
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert before > 20, stats
    assert stats["fail"] == [], stats
    assert h.proc.poll() is None
