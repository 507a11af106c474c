"""Three Apache front ends sharing one Redis, as behind a load balancer:
a session made on one works on the others, a response accepted by one is
a replay on another, a wrk run spread over all three sees only 2xx, and a
graceful restart during load fails no request. Load here is bounded and
checks errors only; throughput is measured by bench/, not by tests."""
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
# counts as a read error although a browser would retry.
def wrk(url, cookie, seconds=3, connections=4, extra=()):
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", "%ds" % seconds,
         "-H", "Cookie: %s=%s" % cookie] + list(extra) + [url],
        capture_output=True, text=True, timeout=seconds + 30).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+),"
                     r" timeout (\d+)", out)
    return total, int(bad.group(1)) if bad else 0, \
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


def test_graceful_restart_during_load_fails_no_request(trio):
    b = Browser(trio[0])
    b.login()
    h = trio[1]
    result = {}

    def run():
        # New connection per request: a graceful restart closes idle
        # keep-alive connections, which clients retry; here every request
        # must get its answer.
        result["r"] = wrk(h.url("/dash/"), b.cookie, seconds=4,
                          extra=["-H", "Connection: close"])
    t = threading.Thread(target=run)
    t.start()
    time.sleep(1.0)
    h.proc.send_signal(signal.SIGUSR1)          # apachectl -k graceful
    t.join()
    total, bad, sock, out = result["r"]
    assert total > 100, out
    assert bad == 0 and sock == 0, out
    assert h.proc.poll() is None
    assert any("resuming normal operations" in l for l in h.log())
