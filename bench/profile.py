#!/usr/bin/python3
"""Where httpd's CPU goes: bash bench/run.sh --profile (or run this file).

Runs (a) the open 1 KB file, (b) the same behind AuthType qsso with a Redis
session, and the ACS with pre-signed responses, each under `perf record -g`
attached to the httpd children, and prints httpd CPU microseconds per
request split by library (self time) and by kernel path (inclusive), then
the difference b - a, and the hottest functions of the ACS. Shares come
from perf; the totals from /proc, over the same interval.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import load
import saml
import servers
from servers import BenchHttpd, FILE_1K

FREQ = 1999
# Kernel paths, by the function every sample under them passes through.
KERNEL = [
    ("socket read (ksys_read)", "ksys_read"),
    ("socket write (ksys_write)", "ksys_write"),
    ("client writev", "do_writev"),
    ("futex (locks, condvars)", "do_futex"),
    ("context switch", "finish_task_switch.isra.0"),
    ("epoll_wait", "do_epoll_wait"),
    ("epoll_ctl", "do_epoll_ctl"),
    ("open file", "do_sys_openat2"),
    ("mmap/munmap", "ksys_mmap_pgoff"),
    ("munmap", "__vm_munmap"),
    ("page faults", "asm_exc_page_fault"),
    ("close", "__x64_sys_close"),
]


def perf_report(data, args):
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g",
                          "none"] + args, capture_output=True, text=True)
    return out.stdout


def shares(data):
    """({dso: self %}, {kernel function: inclusive %}, [(%, dso, sym)])"""
    dso = {}
    for m in re.finditer(r"^\s+([\d.]+)%\s+(\S+)\s*$",
                         perf_report(data, ["--no-children", "--sort",
                                            "dso"]), re.M):
        dso[m.group(2)] = float(m.group(1))
    kern = {}
    for m in re.finditer(r"^\s+([\d.]+)%\s+[\d.]+%\s+\[k\]\s+(\S+)",
                         perf_report(data, ["--children", "--sort", "sym"]),
                         re.M):
        kern.setdefault(m.group(2), float(m.group(1)))
    syms = []
    for m in re.finditer(r"^\s+([\d.]+)%\s+(\S+)\s+\[\.\]\s+(.+?)\s*$",
                         perf_report(data, ["--no-children", "--sort",
                                            "dso,sym"]), re.M):
        syms.append((float(m.group(1)), m.group(2), m.group(3)))
    return dso, kern, syms


def profiled(h, workdir, name, run):
    """Runs run() under perf attached to h's children; returns (perf data
    path, httpd CPU seconds, what run() returned)."""
    data = os.path.join(workdir, name + ".perf")
    pids = ",".join(str(p) for p in h.children())
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock",
                             "-F", str(FREQ), "-g", "-p", pids, "-o", data],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    c0 = servers.httpd_cpu(h)
    res = run()
    c1 = servers.httpd_cpu(h)
    perf.send_signal(signal.SIGINT)
    perf.wait(30)
    return data, c1 - c0, res


def breakdown(label, data, cpu_s, n):
    dso, kern, syms = shares(data)
    total_us = cpu_s * 1e6 / n
    b = {"label": label, "requests": n, "cpu_us": total_us, "dso": {},
         "kernel": {}, "syms": syms}
    for d, pct in dso.items():
        b["dso"][d] = pct * total_us / 100
    for what, fn in KERNEL:
        b["kernel"][what] = kern.get(fn, 0.0) * total_us / 100
    return b


def show(rows, top_syms=None):
    print("\nhttpd CPU per request, microseconds (perf shares x /proc "
          "totals)")
    print("%-34s" % "" + "".join("%12s" % r["label"] for r in rows)
          + ("%12s" % "b - a" if len(rows) >= 2 else ""))
    print("%-34s" % "total" + "".join("%12.1f" % r["cpu_us"] for r in rows)
          + ("%12.1f" % (rows[1]["cpu_us"] - rows[0]["cpu_us"])
             if len(rows) >= 2 else ""))
    print("by library (self time):")
    names = sorted({d for r in rows for d in r["dso"]},
                   key=lambda d: -max(r["dso"].get(d, 0) for r in rows))
    for d in names[:12]:
        vals = [r["dso"].get(d, 0.0) for r in rows]
        print("  %-32s" % d + "".join("%12.1f" % v for v in vals)
              + ("%12.1f" % (vals[1] - vals[0]) if len(vals) >= 2 else ""))
    print("kernel paths (inclusive; they overlap):")
    for what, _ in KERNEL:
        vals = [r["kernel"].get(what, 0.0) for r in rows]
        print("  %-32s" % what + "".join("%12.1f" % v for v in vals)
              + ("%12.1f" % (vals[1] - vals[0]) if len(vals) >= 2 else ""))
    if top_syms:
        r = top_syms
        print("\nhottest user-space functions of %s (self, us per "
              "request):" % r["label"])
        for pct, dso, sym in [s for s in r["syms"]][:25]:
            print("  %7.1f  %-22s %s" % (pct * r["cpu_us"] / 100, dso, sym))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default=servers.harness.MODULE)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--acs-n", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="(ignored)")
    args = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("profile: perf is missing (apt-get install linux-perf); "
                 "valgrind --tool=callgrind on httpd -X is the other way")
    workdir = tempfile.mkdtemp(prefix="qsso-prof-")
    os.chmod(workdir, 0o755)
    redis = servers.Redis(workdir).start()
    h = BenchHttpd(workdir, redis, module=args.module).start()
    try:
        cookie = saml.login_qsso(h)
        rows = []
        for label, path, hdrs in (
                ("(a) open", "/public/" + FILE_1K, []),
                ("(b) qsso", "/dash/" + FILE_1K, ["Cookie: " + cookie])):
            load.wrk(h.url(path), 2, headers=hdrs)     # warm-up
            data, cpu, res = profiled(
                h, workdir, label[1],
                lambda: load.wrk(h.url(path), args.duration, headers=hdrs))
            rows.append(breakdown(label, data, cpu, res["requests"]))
            print("%s: %.0f req/s" % (label, res["rps"]))
        show(rows)
        bodies = [saml.form_body(b, "/dash/" + FILE_1K) for b in
                  saml.signed_responses(h.sp_entity, h.acs_url, args.acs_n)]
        data, cpu, res = profiled(
            h, workdir, "acs",
            lambda: load.post_all(h.port, h.acs_path, bodies,
                                  "qsso-bench.invalid"))
        ok = res[0].get(303, 0)
        acs = breakdown("ACS", data, cpu, max(ok, 1))
        print("\nACS: %d accepted in %.2f s" % (ok, res[1]))
        show([acs], top_syms=acs)
    finally:
        h.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
