"""Load generators: wrk for the GET runs, and a small threaded client that
POSTs pre-signed responses to an ACS, each body once.

wrk runs for a duration and cannot send each of a list of bodies exactly
once, so the ACS runs use this client: plain sockets, keep-alive, one thread
per connection (the GIL is released while a thread waits on httpd, and a
client request costs tens of microseconds against milliseconds of
verification in httpd).
"""
import re
import resource
import socket
import subprocess
import threading
import time

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(url, duration, threads=2, conns=32, headers=()):
    """Runs wrk --latency; returns a dict: requests, rps, p50_ms, p99_ms,
    non2xx, errors, cpu_s (wrk's own user+system CPU)."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
           "--latency", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd + [url], capture_output=True, text=True,
                         timeout=duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = out.stdout + out.stderr
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if out.returncode != 0 or m is None:
        raise RuntimeError("wrk failed: %s" % text.strip()[-300:])
    res = {"requests": int(m.group(1)),
           "rps": float(re.search(r"Requests/sec:\s+([\d.]+)",
                                  text).group(1)),
           "non2xx": 0, "errors": 0,
           "cpu_s": (after.ru_utime - before.ru_utime)
           + (after.ru_stime - before.ru_stime)}
    for pct in ("50", "99"):
        lm = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % pct, text,
                       re.M)
        res["p%s_ms" % pct] = float(lm.group(1)) * UNITS[lm.group(2)]
    nm = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if nm:
        res["non2xx"] = int(nm.group(1))
    em = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+),"
                   r" timeout (\d+)", text)
    if em:
        res["errors"] = sum(int(x) for x in em.groups())
        res["socket_errors"] = dict(zip(("connect", "read", "write",
                                         "timeout"),
                                        (int(x) for x in em.groups())))
    return res


class _Conn:
    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def request(self, raw):
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1",
                                                          self.port), 10)
                    self.sock.setsockopt(socket.IPPROTO_TCP,
                                         socket.TCP_NODELAY, 1)
                    self.buf = b""
                self.sock.sendall(raw)
                return self._response()
            except (OSError, ValueError):
                self.close()
                if attempt:
                    return 0, {}
        return 0, {}

    def _read_until(self, n=None, marker=None):
        while True:
            if marker is not None:
                i = self.buf.find(marker)
                if i >= 0:
                    return i
            elif len(self.buf) >= n:
                return n
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ValueError("closed")
            self.buf += chunk

    def _response(self):
        end = self._read_until(marker=b"\r\n\r\n")
        head = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        status = int(head[0].split()[1])
        hdrs = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), v.strip())
        n = int(hdrs.get("content-length", "0"))
        self._read_until(n=n)
        self.buf = self.buf[n:]
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def post_all(port, path, bodies, host, conns=8, cookie=None):
    """POSTs every body once over `conns` keep-alive connections. Returns
    statuses (a dict status -> count), seconds from the first send to the
    last answer, and sorted latencies in ms."""
    extra = "Cookie: %s\r\n" % cookie if cookie else ""
    reqs = [("POST %s HTTP/1.1\r\nHost: %s\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\n"
             "Content-Length: %d\r\n%s\r\n" % (path, host, len(b), extra)
             ).encode() + b for b in bodies]
    lock = threading.Lock()
    nxt = [0]
    statuses = {}
    lat = []

    def worker():
        c = _Conn(port)
        mine = []
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(reqs):
                break
            t = time.perf_counter()
            st, _ = c.request(reqs[i])
            mine.append((st, (time.perf_counter() - t) * 1000))
        c.close()
        with lock:
            for st, ms in mine:
                statuses[st] = statuses.get(st, 0) + 1
                lat.append(ms)

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, time.perf_counter() - t0, sorted(lat)
