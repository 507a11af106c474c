"""QSSOStore redis+sentinel://: a primary, a replica and three sentinels
on loopback. Sign in, kill the primary, and the session must still be
valid after the failover, with no request ever granted without it."""
import os
import signal
import subprocess
import tempfile
import time

import pytest

import harness
from harness import Browser, env_of


class Server:
    """One redis-server (or sentinel) from a config file, stopped by PID."""

    def __init__(self, workdir, lines, sentinel=False):
        self.dir = tempfile.mkdtemp(prefix="sentinel-", dir=workdir)
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "redis.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\nsave \"\"\n"
                    "logfile %s/log\n" % (self.port, self.dir, self.dir))
            f.write("\n".join(lines) + "\n")
        cmd = ["redis-server", self.conf] + (["--sentinel"] if sentinel
                                             else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        harness.wait_port(self.port, self.proc, "redis-server")

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port)] +
                              list(args), capture_output=True, text=True,
                              timeout=10).stdout.strip()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        harness.stop_pid(self.proc)


class SentinelStore:
    """What harness.Httpd needs of a store: its URL."""

    def __init__(self, sentinels, master):
        self.url = "redis+sentinel://%s/%s" % (
            ",".join("127.0.0.1:%d" % s.port for s in sentinels), master)


@pytest.fixture
def cluster(workdir):
    primary = Server(workdir, [])
    replica = Server(workdir, ["replicaof 127.0.0.1 %d" % primary.port])
    sentinels = [Server(workdir, [
        "sentinel monitor qmaster 127.0.0.1 %d 2" % primary.port,
        "sentinel down-after-milliseconds qmaster 1000",
        "sentinel failover-timeout qmaster 5000",
        "sentinel parallel-syncs qmaster 1"], sentinel=True)
        for _ in range(3)]
    deadline = time.time() + 15
    while "master_link_status:up" not in replica.cli("INFO", "replication"):
        assert time.time() < deadline, "replica did not sync"
        time.sleep(0.1)
    yield primary, replica, sentinels
    for s in sentinels + [replica, primary]:
        s.stop()


def test_session_survives_a_failover(cluster, fresh, log):
    primary, replica, sentinels = cluster
    h = fresh.start(redis=SentinelStore(sentinels, "qmaster"))
    b = Browser(h)
    assert b.login().status_code == 303
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == "ana@example.org"
    # The session reached the replica before the primary dies.
    assert primary.cli("WAIT", "1", "2000") == "1"
    primary.kill()
    killed = time.time()
    log.expect("QSSO3001")          # the failover window: 503, logged
    statuses, first_error, back = [], None, None
    while time.time() - killed < 40:
        r = b.get("/dash/")
        statuses.append(r.status_code)
        if r.status_code == 200:
            # Granted only with the session: the page shows its user.
            assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"
            if first_error is not None:
                back = time.time()
                break
        else:
            # Never a login (the session was not lost), never the page.
            assert r.status_code == 503, (r.status_code, r.text[:200])
            assert "QSSO3001" in r.text
            if first_error is None:
                first_error = time.time()
        time.sleep(0.1)
    assert back is not None, "no recovery after failover: %r" % statuses[-5:]
    window = back - first_error
    print("failover: error window %.1f s (%d requests refused with 503, "
          "none granted without a session)" % (window, statuses.count(503)))
    # The replica is the new master, and new logins work too.
    assert "role:master" in replica.cli("INFO", "replication")
    b2 = Browser(h)
    assert b2.login(email="ben@example.org").status_code == 303
    assert env_of(b2.get("/dash/").text)["QSSO_EMAIL"] == "ben@example.org"


def test_sentinel_store_url_is_checked_at_configtest(workdir):
    for bad, why in [("redis+sentinel://127.0.0.1:1", "master name"),
                     ("redis+sentinel://127.0.0.1/m", "port"),
                     ("redis+sentinel://h:1,h2/m", "port"),
                     ("redis+sentinel://h:1/m!x", "master name")]:
        h = harness.Httpd(workdir, SentinelStoreURL(bad))
        rc, out = h.configtest()
        assert rc != 0 and "QSSOStore" in out and why in out, out
    h = harness.Httpd(workdir, SentinelStoreURL(
        "redis+sentinel://u:p@127.0.0.1:1,127.0.0.1:2/m/3"))
    rc, out = h.configtest()
    assert rc == 0, out


class SentinelStoreURL:
    def __init__(self, url):
        self.url = url
