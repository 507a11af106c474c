#!/usr/bin/python3
"""Where httpd's CPU goes: /usr/bin/python3 bench/profile.py [--callgrind]

Runs (a) the open 1 KB file, (b) the same behind AuthType qsso with a Redis
session, (c) the same with QSSOStore shm when available, and the ACS with
pre-signed responses, each under `perf record -g` attached to the httpd
children, and prints httpd CPU microseconds per request split by library
(self time) and by kernel path (inclusive), then the difference to (a), and
the hottest functions of the ACS. Shares come from perf; the totals from
/proc, over the same interval.

--callgrind instead runs one httpd -X under valgrind --tool=callgrind per
case, collecting only inside ap_process_async_request, and prints user-space
instructions per request and the functions that cost most (inclusive):
slow, but the same numbers on every machine and under any load.
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


def _line(name, vals):
    diffs = ["%12.1f" % (v - vals[0]) for v in vals[1:]]
    return "  %-32s" % name + "".join("%12.1f" % v for v in vals) \
        + "".join(diffs)


def show(rows, top_syms=None):
    print("\nhttpd CPU per request, microseconds (perf shares x /proc "
          "totals)")
    print("  %-32s" % "" + "".join("%12s" % r["label"] for r in rows)
          + "".join("%12s" % (r["label"].split()[0] + " - (a)")
                    for r in rows[1:]))
    print(_line("total", [r["cpu_us"] for r in rows]))
    print("by library (self time):")
    names = sorted({d for r in rows for d in r["dso"]},
                   key=lambda d: -max(r["dso"].get(d, 0) for r in rows))
    for d in names[:12]:
        print(_line(d, [r["dso"].get(d, 0.0) for r in rows]))
    print("kernel paths (inclusive; they overlap):")
    for what, _ in KERNEL:
        print(_line(what, [r["kernel"].get(what, 0.0) for r in rows]))
    if top_syms:
        r = top_syms
        print("\nhottest user-space functions of %s (self, us per "
              "request):" % r["label"])
        for pct, dso, sym in [s for s in r["syms"]][:25]:
            print("  %7.1f  %-22s %s" % (pct * r["cpu_us"] / 100, dso, sym))


def callgrind(args, workdir, redis):
    """Instructions per request in httpd -X under callgrind. Sessions are
    made on a normal server first (the Redis store is shared), so the
    measured server only serves the measured requests."""
    import requests
    front = BenchHttpd(workdir, redis, module=args.module).start()
    cookie = saml.login_qsso(front)
    bodies = [saml.form_body(b, "/dash/" + FILE_1K) for b in
              saml.signed_responses(front.sp_entity, front.acs_url,
                                    args.acs_n)]
    front.stop()
    n_get, n_acs = 1000, min(100, len(bodies))

    def gets(path, headers, n):
        def work(h):
            http = requests.Session()
            for _ in range(n):
                r = http.get(h.url(path), headers=headers, timeout=60)
                assert r.status_code == 200, r.status_code
        return work

    def acs(h):
        st, _, _ = load.post_all(h.port, h.acs_path, bodies[:n_acs],
                                 "qsso-bench.invalid", conns=1)
        assert st.get(303) == n_acs, st

    def shm_gets(n):
        def work(h):
            c = saml.login_qsso(h)      # counted; subtracted below
            gets("/dash/" + FILE_1K, {"Cookie": c}, n)(h)
        return work

    cases = [("(a) open", None, gets("/public/" + FILE_1K, {}, n_get), n_get),
             ("(b) qsso", None, gets("/dash/" + FILE_1K,
                                     {"Cookie": cookie}, n_get), n_get),
             ("ACS", None, acs, n_acs)]
    probe = BenchHttpd(workdir, redis, store="shm", module=args.module)
    if probe.configtest()[0] == 0:
        cases += [("(c) shm+login", "shm", shm_gets(n_get), n_get),
                  ("(c) login", "shm", shm_gets(0), 0)]
    out = {}
    for label, store, work, n in cases:
        h = BenchHttpd(workdir, redis, store=store, module=args.module)
        data = os.path.join(workdir, "cg.%d" % len(out))
        # httpd -X drops to www-data before callgrind writes its file.
        open(data, "w").close()
        os.chmod(data, 0o666)
        if os.getuid() == 0:
            import pwd
            pw = pwd.getpwnam("www-data")
            os.chown(data, pw.pw_uid, pw.pw_gid)
        h.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + data,
             "--collect-atstart=no",
             "--toggle-collect=ap_process_async_request", servers.HTTPD,
             "-X", "-f", h.conf], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        servers.harness.wait_port(h.port, h.proc, "httpd", timeout=180)
        work(h)
        h.proc.send_signal(signal.SIGTERM)
        h.proc.wait(300)
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                              data], capture_output=True, text=True).stdout
        total = int(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS",
                              ann).group(1).replace(",", ""))
        out[label] = (total, n, ann)
    if "(c) login" in out:
        t1, n, ann = out.pop("(c) shm+login")
        t0 = out.pop("(c) login")[0]
        out["(c) shm"] = (t1 - t0, n, ann)
    print("\nuser-space instructions per request (callgrind, inside "
          "ap_process_async_request)")
    for label, (total, n, _) in out.items():
        print("  %-10s %12.0f" % (label, total / n))
    for label in ("(b) qsso", "ACS"):
        total, n, ann = out[label]
        print("\n%s: functions by inclusive instructions per request "
              "(mod_qsso and what it calls)" % label)
        shown = 0
        for m in re.finditer(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S+)"
                             r"(?: \[[^]]*\])?$", ann, re.M):
            fn = m.group(3)
            if fn.startswith("???:0x") or "/" in fn.split(":")[0] \
                    or not re.search(r"qsso|xmlSec|EVP|X509|ASN1|OSSL|RSA|"
                                     r"redis|xmlC14N|xmlCtxt|apr_table_set"
                                     r"|SHA256", fn):
                continue
            print("  %10.0f  %5s%%  %s" % (
                int(m.group(1).replace(",", "")) / n, m.group(2),
                fn.split(":", 1)[-1].split(" ")[0]))
            shown += 1
            if shown >= 40:
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default=servers.harness.MODULE)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--acs-n", type=int, default=200)
    ap.add_argument("--callgrind", action="store_true",
                    help="count instructions with callgrind instead")
    args = ap.parse_args()
    if args.callgrind:
        if not shutil.which("valgrind"):
            sys.exit("profile: valgrind is missing (apt-get install "
                     "valgrind)")
        workdir = tempfile.mkdtemp(prefix="qsso-prof-")
        os.chmod(workdir, 0o755)
        redis = servers.Redis(workdir).start()
        try:
            callgrind(args, workdir, redis)
        finally:
            redis.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        return
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
        shm = BenchHttpd(workdir, redis, store="shm", module=args.module)
        if shm.configtest()[0] == 0:
            shm.start()
            try:
                c_cookie = saml.login_qsso(shm)
                path, hdrs = "/dash/" + FILE_1K, ["Cookie: " + c_cookie]
                load.wrk(shm.url(path), 2, headers=hdrs)
                data, cpu, res = profiled(
                    shm, workdir, "c",
                    lambda: load.wrk(shm.url(path), args.duration,
                                     headers=hdrs))
                rows.append(breakdown("(c) shm", data, cpu,
                                      res["requests"]))
                print("(c) shm: %.0f req/s" % res["rps"])
            finally:
                shm.stop()
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
