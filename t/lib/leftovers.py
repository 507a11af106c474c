"""Processes a test run left running.

Every process the suite starts inherits QSSO_TEST_RUN from t/run-all.sh
(one value for the run) and from t/integration/conftest.py (the run's value
plus ":<pass>", one per pytest process). A process belongs to a run when
its environment holds that variable with the run's value, or the run's
value followed by ":"; or, since redis-server writes its process title over
its environment, when its working directory is inside a directory the run
made (harness.Redis runs redis-server in its own temporary directory).

As a program (t/run-all.sh runs it last):
    leftovers.py [--dir DIR]... [--stop] MARKER
prints each such process and exits 1 when there is one; --stop also ends
them (by PID: SIGTERM, then SIGKILL), so that a failed run does not leave
them to the next.
"""
import os
import signal
import sys
import time

VAR = "QSSO_TEST_RUN"


def _ancestors():
    """This process and its ancestors: they carry the marker too."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def find(marker, dirs=()):
    """[(pid, command line, why)] of the live processes of run `marker`
    (beside this process and its ancestors)."""
    want = ("%s=%s" % (VAR, marker)).encode()
    dirs = [os.path.realpath(d).rstrip("/") + "/" for d in dirs]
    skip = _ancestors()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skip:
            continue
        pid = int(name)
        why = None
        for var in _read("/proc/%d/environ" % pid).split(b"\0"):
            if var == want or var.startswith(want + b":"):
                why = var.decode(errors="replace")
                break
        if why is None and dirs:
            try:
                cwd = os.readlink("/proc/%d/cwd" % pid)
            except OSError:
                cwd = ""
            cwd = cwd[:-len(" (deleted)")] if cwd.endswith(" (deleted)") \
                else cwd
            if any((cwd + "/").startswith(d) for d in dirs):
                why = "cwd " + cwd
        if why is None:
            continue
        stat = _read("/proc/%d/stat" % pid).decode(errors="replace")
        if ") Z" in stat or ") X" in stat:
            continue            # exited; its parent has not reaped it yet
        cmd = _read("/proc/%d/cmdline" % pid).replace(b"\0", b" ")
        found.append((pid, cmd.decode(errors="replace").strip(), why))
    return found


def settle(marker, dirs=(), wait=5.0):
    """find(), allowing `wait` seconds for processes being stopped (httpd's
    children end a moment after their parent was told to)."""
    end = time.monotonic() + wait
    while True:
        found = find(marker, dirs)
        if not found or time.monotonic() >= end:
            return found
        time.sleep(0.2)


def stop(found):
    for pid, _, _ in found:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    end = time.monotonic() + 5
    for pid, _, _ in found:
        while time.monotonic() < end and os.path.exists("/proc/%d" % pid):
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def describe(found):
    return "\n".join("  pid %d: %s (%s)" % f for f in found)


def main(argv):
    dirs, do_stop, args = [], False, list(argv)
    marker = None
    while args:
        a = args.pop(0)
        if a == "--dir":
            dirs.append(args.pop(0))
        elif a == "--stop":
            do_stop = True
        else:
            marker = a
    if not marker:
        print("usage: leftovers.py [--dir DIR]... [--stop] MARKER",
              file=sys.stderr)
        return 2
    found = settle(marker, dirs)
    if not found:
        return 0
    print("FAILED: %d process(es) of this test run still running:\n%s"
          % (len(found), describe(found)), file=sys.stderr)
    if do_stop:
        stop(found)
        print("(stopped them)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
