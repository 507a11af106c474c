#!/usr/bin/python3
"""valgrind memcheck over mod_qsso in the real httpd (run by t/memcheck.sh):
one single-process httpd (-X) under valgrind, a real redis-server and the
pysaml2 test IdP; LOGINS full SP-initiated logins (a leak per login then
shows LOGINS times), REQUESTS protected requests with the session, a
refused ACS post and one more request; then httpd is stopped and
valgrind's XML report is read. Prints every leak and memory error whose
stack has a frame in mod_qsso.so, and exits 1 if there is any definite or
indirect leak or any error of the module; other leaks are summarised.

The libraries the module links are preloaded: httpd unloads mod_qsso at
exit, and a library unloaded with it would take its globals along, so its
caches (OpenSSL's fetched digests, libxslt's mutexes) would look "definitely
lost" when they are only kept for reuse (libxslt's global mutex, made by
xmlSecInit, did). Preloaded, they stay mapped, as they do in a server
where mod_ssl holds libcrypto. A record's "in N blocks" tells a leak per
request or login (N grows with them) from one per process."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import harness  # noqa: E402

REQUESTS = int(os.environ.get("QSSO_MEMCHECK_REQUESTS", "1000"))
LOGINS = int(os.environ.get("QSSO_MEMCHECK_LOGINS", "3"))


def module_libraries():
    """The shared libraries mod_qsso.so pulls in (as ldd lists them),
    but libc and the loader, which httpd has anyway."""
    out = subprocess.run(["ldd", harness.MODULE], capture_output=True,
                         text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        name, _, rest = line.strip().partition(" => ")
        path = rest.split(" (")[0]
        if path.startswith("/") and not name.startswith(("libc.so",
                                                         "ld-linux")):
            libs.append(path)
    return libs
MODULE_OBJ = "mod_qsso.so"
JUDGED = ("Leak_DefinitelyLost", "Leak_IndirectlyLost")


def start(workdir):
    redis = harness.Redis(workdir).start()
    httpd = harness.Httpd(workdir, redis)
    xml = os.path.join(workdir, "memcheck.xml")
    cmd = ["valgrind", "--tool=memcheck", "--leak-check=full",
           "--show-leak-kinds=definite,indirect,possible",
           "--num-callers=40", "--track-origins=no", "--xml=yes",
           # modules are dlclose()d at exit; keep their symbols for stacks
           "--keep-debuginfo=yes",
           "--xml-file=" + xml, "--log-file=" + xml + ".log",
           harness.HTTPD, "-X", "-f", httpd.conf]
    env = dict(os.environ, LD_PRELOAD=" ".join(module_libraries()))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    httpd.proc = proc
    harness.wait_port(httpd.port, proc, "httpd under valgrind", timeout=180)
    return redis, httpd, xml


def warm_up(httpd):
    """The port opens before the worker under valgrind is ready; wait for
    a first answer with a timeout that valgrind's pace allows."""
    end = time.time() + 300
    while True:
        try:
            r = requests.get(httpd.url("/qsso/metadata"), timeout=120)
            if r.status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.time() > end:
            raise RuntimeError("httpd under valgrind does not answer")
        time.sleep(1)


def drive(httpd):
    warm_up(httpd)
    t0 = time.time()
    for i in range(LOGINS):
        b = harness.Browser(httpd)
        r = b.login(email="user%d@example.org" % i)
        assert r.status_code == 303, (r.status_code, r.text[:300])
        assert b.cookie, "no session cookie after the login"
    for i in range(REQUESTS):
        r = b.http.get(httpd.url("/dash/"), headers=b.headers(),
                       allow_redirects=False, timeout=120)
        assert r.status_code == 200, (i, r.status_code, r.text[:300])
        assert "REMOTE_USER=user%d@example.org" % (LOGINS - 1) in r.text, \
            r.text[:300]
    # a refusal, so the error path's allocations are looked at too
    assert b.post_acs(None, raw="bm90IFhNTA==").status_code == 400
    r = b.get("/dash/")
    assert r.status_code == 200, r.status_code
    print("memcheck: %d logins + %d protected requests in %.0f s"
          % (LOGINS, REQUESTS, time.time() - t0))


def frames(err):
    return [(f.findtext("obj") or "", f.findtext("fn") or "?",
             f.findtext("file") or "", f.findtext("line") or "")
            for f in err.iter("frame")]


def report(xml):
    tree = ET.parse(xml)
    mine, other = [], {}
    for err in tree.getroot().iter("error"):
        kind = err.findtext("kind")
        fr = frames(err)
        leak = err.find("xwhat")
        nbytes = int(leak.findtext("leakedbytes")) if leak is not None else 0
        if any(o.endswith(MODULE_OBJ) for o, _, _, _ in fr):
            mine.append((kind, nbytes, err, fr))
        else:
            n, b = other.get(kind, (0, 0))
            other[kind] = (n + 1, b + nbytes)
    for kind, (n, b) in sorted(other.items()):
        print("memcheck: not the module's: %s x%d (%d bytes)" % (kind, n, b))
    bad = 0
    for kind, nbytes, err, fr in mine:
        judged = kind in JUDGED or not kind.startswith("Leak_")
        bad += judged
        what = err.findtext("xwhat/text") or err.findtext("what")
        print("\n%s %s: %s" % ("MODULE" if judged else "note", kind, what))
        for obj, fn, f, line in fr[:14]:
            print("    %s %s%s" % (fn, "%s:%s" % (f, line) if f else "",
                                   "" if f else " (%s)" % obj))
    print("memcheck: %d record(s) with a frame in %s, %d judged (definite or "
          "indirect leaks, memory errors)" % (len(mine), MODULE_OBJ, bad))
    return bad


def main():
    workdir = tempfile.mkdtemp(prefix="qsso-memcheck-")
    os.chmod(workdir, 0o755)
    redis, httpd, xml = start(workdir)
    try:
        drive(httpd)
    finally:
        httpd.proc.send_signal(signal.SIGTERM)
        try:
            httpd.proc.wait(300)
        except subprocess.TimeoutExpired:
            httpd.proc.kill()
            httpd.proc.wait()
        redis.stop()
    print("memcheck: valgrind report %s" % xml)
    sys.exit(1 if report(xml) else 0)


if __name__ == "__main__":
    main()
