#!/usr/bin/python3
"""mod_qsso benchmark: run by bench/run.sh (make -f Makefile.apxs bench).

Starts its own redis-server and httpd instances on loopback, signs in once
through the real SAML flow, then measures with wrk, configuration by
configuration inside each round (a, b, c, m, a, b, c, m, ...) and quotes
medians: (a) a 1 KB static file, (b) the same behind AuthType qsso with a
Redis session, (c) the same with QSSOStore shm, (m) the same behind
mod_auth_mellon. Then ACS throughput with pre-signed responses, worker RSS
over many protected requests, and Redis costs for docs/scaling.md. Prints a
table and writes bench/results/<timestamp>.json. bench/README.md explains
every row and the targets.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import load
import redisstats as rs
import saml
import servers
from servers import BenchHttpd, FILE_1K

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")

PROFILES = {
    # Under two minutes on 2 cores, responses already signed.
    "quick": dict(rounds=3, duration=3, warmup=2, lat_rounds=2,
                  lat_duration=2, acs_n=200, mellon_acs_n=40,
                  acs_rounds=1, rss_warmup=20000, rss_requests=100000,
                  sp_logins=10, redis_bench_n=50000),
    # The numbers quoted in bench/README.md.
    "full": dict(rounds=5, duration=10, warmup=3, lat_rounds=5,
                 lat_duration=4, acs_n=2000,
                 mellon_acs_n=200, acs_rounds=3, rss_warmup=100000,
                 rss_requests=1000000, sp_logins=50, redis_bench_n=500000),
}
WRK_THREADS = 2
WRK_CONNS = 32
ACS_CONNS = 8

TARGETS = {
    "ratio": 0.90,          # protected/unprotected requests per second
    "acs_cpu_ms": 1.0,      # httpd CPU per accepted response
    "p99_ratio": 1.2,       # p99 protected / p99 unprotected
    "rss_growth_pct": 2.0,  # after warm-up, over the measured requests
}
MELLON_REF = {"ratio": 0.53, "acs_cpu_ms": 100.0}


def log(*a):
    print(*a, flush=True)


class Row:
    """One GET configuration: a server, a path, headers; or why it is not
    measured."""

    def __init__(self, key, label, server=None, path=None, headers=(),
                 why=None):
        self.key, self.label, self.server = key, label, server
        self.path, self.headers, self.why = path, list(headers), why
        self.runs = []
        self.lowload = []

    def url(self):
        return self.server.url(self.path)


def ours_cpu(state):
    t = sum(servers.httpd_cpu(h) for h in state["httpds"] if h.proc)
    t += rs.redis_cpu(state["redis"])
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t + me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def foreign_pct(busy_jiffies, ours_s, wall_s):
    """Share of the machine's CPU used by processes not the bench's."""
    busy = busy_jiffies / servers.CLK
    return round(max(0.0, busy - ours_s) * 100
                 / (max(wall_s, 1e-3) * (os.cpu_count() or 1)), 1)


def measure_get(row, state, duration, record=True):
    redis = state["redis"]
    h = row.server
    c0, r0, s0 = servers.httpd_cpu(h), rs.redis_cpu(redis), \
        rs.commandstats(redis)
    busy0, ours0, t0 = servers.machine_busy()[0], ours_cpu(state), \
        time.time()
    res = load.wrk(row.url(), duration, WRK_THREADS, WRK_CONNS, row.headers)
    busy1, ours1, t1 = servers.machine_busy()[0], ours_cpu(state), \
        time.time()
    c1, r1, s1 = servers.httpd_cpu(h), rs.redis_cpu(redis), \
        rs.commandstats(redis)
    res["foreign_cpu_pct"] = foreign_pct(busy1 - busy0, ours1 - ours0,
                                         t1 - t0)
    n = res["requests"]
    res["httpd_cpu_us_per_req"] = round((c1 - c0) * 1e6 / n, 1) if n else 0
    res["redis_cpu_us_per_req"] = round((r1 - r0) * 1e6 / n, 1) if n else 0
    res["wrk_cpu_us_per_req"] = round(res.pop("cpu_s") * 1e6 / n, 1) \
        if n else 0
    res["redis_calls_per_req"] = rs.per(rs.delta(s1, s0), n)
    if record:
        row.runs.append(res)
    return res


def median(xs):
    return statistics.median(xs) if xs else None


def summarize_rows(rows):
    base = rows[0]
    out = {}
    for row in rows:
        if row.why:
            out[row.key] = {"label": row.label, "measured": False,
                            "why": row.why}
            continue
        s = {"label": row.label, "measured": True, "runs": row.runs}
        for k in ("rps", "p50_ms", "p99_ms", "httpd_cpu_us_per_req",
                  "redis_cpu_us_per_req", "wrk_cpu_us_per_req"):
            s[k] = median([r[k] for r in row.runs])
        s["non2xx"] = sum(r["non2xx"] for r in row.runs)
        s["errors"] = sum(r["errors"] for r in row.runs)
        # Ratios within each round (the runs sat next to each other in
        # time), then the median over rounds.
        pairs = list(zip(row.runs, base.runs))
        s["ratio"] = median([r["rps"] / b["rps"] for r, b in pairs])
        s["p99_ratio"] = median([r["p99_ms"] / b["p99_ms"]
                                 for r, b in pairs])
        s["p50_ratio"] = median([r["p50_ms"] / b["p50_ms"]
                                 for r, b in pairs])
        s["redis_calls_per_req"] = row.runs[-1]["redis_calls_per_req"]
        low = list(zip(row.lowload, base.lowload))
        s["one_connection"] = {
            "runs": row.lowload,
            "rps": median([r["rps"] for r in row.lowload]),
            "p50_ms": median([r["p50_ms"] for r in row.lowload]),
            "p99_ms": median([r["p99_ms"] for r in row.lowload]),
            "p50_ratio": median([r["p50_ms"] / b["p50_ms"] for r, b in low]),
            "p99_ratio": median([r["p99_ms"] / b["p99_ms"] for r, b in low])}
        out[row.key] = s
    return out


# --- setup ---------------------------------------------------------------

def start_shm(state, module):
    """(c): the embedded store, once QSSOStore shm exists."""
    h = BenchHttpd(state["workdir"], state["redis"], store="shm",
                   module=module)
    rc, out = h.configtest()
    if rc != 0:
        log("QSSOStore shm: configtest says: %s" % servers.first_error(out))
        return None, "n/a (QSSOStore shm not available)"
    try:
        h.start()
        state["httpds"].append(h)
        return h, None
    except Exception as e:  # noqa: BLE001 - reported in the row
        return None, "n/a (QSSOStore shm: %s)" % e


def start_mellon(state):
    if not os.path.exists(os.path.join(servers.MODDIR,
                                       "mod_auth_mellon.so")):
        return None, "n/a (libapache2-mod-auth-mellon is not installed)"
    h = BenchHttpd(state["workdir"], state["redis"], kind="mellon")
    try:
        h.start()
        state["httpds"].append(h)
        cookie = saml.login_mellon(h)
        return (h, cookie), None
    except Exception as e:  # noqa: BLE001 - reported in the row
        h.stop()
        return None, "n/a (mellon: %s)" % e


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


# --- measurements ----------------------------------------------------------

def run_rounds(rows, state, p):
    live = [r for r in rows if not r.why]
    log("warm-up: %d s per configuration" % p["warmup"])
    for row in live:
        measure_get(row, state, p["warmup"], record=False)
    busy0, ours0 = servers.machine_busy()[0], ours_cpu(state)
    t0 = time.time()
    for i in range(p["rounds"]):
        for row in live:
            res = measure_get(row, state, p["duration"])
            log("  round %d %s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  "
                "(others used %2.0f%% CPU)%s"
                % (i + 1, row.key, res["rps"], res["p50_ms"],
                   res["p99_ms"], res["foreign_cpu_pct"],
                   "  non-2xx %d" % res["non2xx"] if res["non2xx"] else ""))
    # Latency without queueing: one connection, so each request's own
    # service time (and the store round trip in it) shows.
    for i in range(p["lat_rounds"]):
        for row in live:
            res = load.wrk(row.url(), p["lat_duration"], 1, 1, row.headers)
            row.lowload.append(res)
    log("  one-connection latency, p50/p99 ms: " + ", ".join(
        "%s %.3f/%.3f" % (row.key, median([r["p50_ms"] for r in row.lowload]),
                          median([r["p99_ms"] for r in row.lowload]))
        for row in live))
    state["foreign_cpu_pct"] = foreign_pct(
        servers.machine_busy()[0] - busy0, ours_cpu(state) - ours0,
        time.time() - t0)


def run_rss(row, state, p):
    """Sum of RSS of the httpd children after a warm-up and after
    rss_requests more protected requests."""
    h = row.server
    rate = max(1000.0, median([r["rps"] for r in row.runs]) or 1000.0)

    sock = {}

    def drive(n):
        done = 0
        while done < n:
            d = max(2, int((n - done) / rate * 1.05) + 1)
            res = measure_get(row, state, d, record=False)
            done += res["requests"]
            # A lost session (302) ends the run; wrk's socket errors (a
            # keep-alive connection closed under it, an answer slower than
            # its 5 s timeout) are counted and reported.
            if res["non2xx"]:
                raise RuntimeError("non-2xx answers during the RSS run: %r"
                                   % res)
            for k, v in (res.get("socket_errors") or {}).items():
                sock[k] = sock.get(k, 0) + v
        return done

    log("RSS: warm-up %d protected requests, then %d" %
        (p["rss_warmup"], p["rss_requests"]))
    kids0 = h.children()
    drive(p["rss_warmup"])
    before = {pid: servers.rss_kib(pid) for pid in h.children()}
    n = drive(p["rss_requests"])
    after = {pid: servers.rss_kib(pid) for pid in h.children()}
    same = sorted(before) == sorted(after) == sorted(kids0)
    b, a = sum(before.values()), sum(after.values())
    return {"warmup_requests": p["rss_warmup"], "requests": n,
            "rss_before_kib": b, "rss_after_kib": a,
            "per_child_before_kib": list(before.values()),
            "per_child_after_kib": list(after.values()),
            "growth_pct": round((a - b) * 100.0 / b, 2) if b else None,
            "same_processes": same,
            "socket_errors": {k: v for k, v in sock.items() if v}}


def acs_round(kind, h, bodies, state, cookie=None):
    redis = state["redis"]
    c0, r0, s0, m0 = (servers.httpd_cpu(h), rs.redis_cpu(redis),
                      rs.commandstats(redis), rs.used_memory(redis))
    statuses, secs, lat = load.post_all(
        h.port, h.acs_path, bodies, h.public.split("//", 1)[1], ACS_CONNS,
        cookie)
    c1, r1, s1, m1 = (servers.httpd_cpu(h), rs.redis_cpu(redis),
                      rs.commandstats(redis), rs.used_memory(redis))
    ok = statuses.get(303, 0)
    res = {"posted": len(bodies), "accepted": ok,
           "statuses": {str(k): v for k, v in sorted(statuses.items())},
           "seconds": round(secs, 3),
           "accepted_per_s": round(ok / secs, 1) if secs else 0,
           "httpd_cpu_ms_per_accepted": round((c1 - c0) * 1e3 / ok, 3)
           if ok else None,
           "p50_ms": round(lat[len(lat) // 2], 2) if lat else None,
           "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                           2) if lat else None}
    if kind == "qsso":
        res["redis_cpu_ms_per_accepted"] = round((r1 - r0) * 1e3 / ok, 4) \
            if ok else None
        res["redis_calls_per_login"] = rs.per(rs.delta(s1, s0), ok)
        res["redis_memory_bytes_per_login"] = round((m1 - m0) / ok) \
            if ok else None
    return res


def acs_log(i, label, res):
    log("  ACS round %d %-7s %4d/%d accepted, %7.1f/s, %.3f ms httpd CPU "
        "each%s" % (i + 1, label, res["accepted"], res["posted"],
                    res["accepted_per_s"],
                    res["httpd_cpu_ms_per_accepted"] or 0,
                    "" if res["accepted"] == res["posted"]
                    else " statuses %r" % res["statuses"]))


def run_acs(state, p, qsso_h, mellon, shm_h=None):
    n, mn = p["acs_n"], p["mellon_acs_n"]
    qb = [saml.form_body(b, "/dash/" + FILE_1K) for b in
          saml.signed_responses(qsso_h.sp_entity, qsso_h.acs_url, n, log)]
    mb = None
    if mellon:
        mh = mellon[0]
        mb = [saml.form_body(b, "/dash/" + FILE_1K) for b in
              saml.signed_responses(mh.sp_entity, mh.acs_url, mn, log)]
    out = {"qsso": [], "mellon": [], "shm": []}
    for i in range(p["acs_rounds"]):
        # Same responses each round: clear the replay records so each is
        # accepted once per round. Users made by round 1 (JIT) persist, so
        # later rounds are returning users.
        rs.delete(state["redis"], "qsso:seen:*")
        res = acs_round("qsso", qsso_h, qb, state)
        out["qsso"].append(res)
        acs_log(i, "qsso", res)
        if shm_h:
            if i:       # the replay cache is in the server's shared memory
                shm_h.stop()
                shm_h.start()
            res = acs_round("shm", shm_h, qb, state)
            out["shm"].append(res)
            acs_log(i, "shm", res)
        if mb:
            mh = mellon[0]
            if i:       # mellon's replay cache lives in its shared memory
                mh.stop()
                mh.start()
            res = acs_round("mellon", mh, mb, state,
                            cookie="mellon-cookie=cookietest")
            out["mellon"].append(res)
            acs_log(i, "mellon", res)
    return out


def summarize_acs(runs):
    if not runs:
        return None
    s = {"runs": runs}
    for k in ("accepted_per_s", "httpd_cpu_ms_per_accepted", "p50_ms",
              "p99_ms"):
        vals = [r[k] for r in runs if r.get(k) is not None]
        s[k] = median(vals)
    s["accepted"] = sum(r["accepted"] for r in runs)
    s["posted"] = sum(r["posted"] for r in runs)
    return s


def run_sp_logins(state, h, k):
    """Redis commands of k real SP-initiated logins by new users, then k
    more by the same users: (GET that starts the login, ACS POST)."""
    import requests
    redis = state["redis"]
    idp = saml.BenchIdP(servers.IDP_ENTITY, servers.IDP_SSO, h.sp_entity,
                        h.acs_url)
    out = {}
    for phase in ("first_login", "returning_login"):
        start, acs = {}, {}
        for i in range(k):
            mon = rs.monitor_start(redis) if i == 0 else None
            email = "sp-%04d@example.org" % i
            http = requests.Session()
            s0 = rs.commandstats(redis)
            r = http.get(h.url("/dash/" + FILE_1K), allow_redirects=False,
                         timeout=10)
            s1 = rs.commandstats(redis)
            xml, q = saml.samlidp.decode_redirect(r.headers["Location"])
            req_id = xml.split(' ID="', 1)[1].split('"', 1)[0]
            resp = idp.response({servers.EMAIL: [email]}, email,
                                in_response_to=req_id)
            r = http.post(h.url(h.acs_path),
                          data={"SAMLResponse": saml.samlidp.b64(resp),
                                "RelayState": q["RelayState"]},
                          allow_redirects=False, timeout=10)
            s2 = rs.commandstats(redis)
            if mon:
                out.setdefault("sequence", {})[phase] = rs.monitor_stop(mon)
            if r.status_code != 303:
                raise RuntimeError("SP-initiated login %d gave %d" %
                                   (i, r.status_code))
            for acc, d in ((start, rs.delta(s1, s0)), (acs, rs.delta(s2, s1))):
                for c, v in d.items():
                    acc[c] = acc.get(c, 0) + v
        out[phase] = {"logins": k, "protected_get_without_session":
                      rs.per(start, k), "acs_post": rs.per(acs, k)}
    return out


def redis_report(state, rows_sum, acs_sum, p):
    redis = state["redis"]
    prefixes = {}
    for key in rs.scan(redis, "qsso:*"):
        parts = key.split(":")
        prefixes.setdefault(":".join(parts[:2]) + ":*", 0)
        prefixes[":".join(parts[:2]) + ":*"] += 1
    sizes = rs.key_sizes(redis, {k: k for k in prefixes})
    sess = rs.scan(redis, "qsso:sess:*", 1)
    value_len = int(rs.cli(redis, "STRLEN", sess[0])) if sess else 512
    bench = rs.benchmark(redis, p["redis_bench_n"], value_len)
    b = rows_sum.get("b", {})
    q = acs_sum.get("qsso") or {}
    out = {"keys": sizes, "session_value_bytes": value_len,
           "redis_benchmark": bench, "redis_benchmark_clients": 50,
           "memory_per_login_bytes_by_round": [
               r.get("redis_memory_bytes_per_login") for r in q.get("runs",
                                                                    [])]}
    if b.get("measured"):
        out["protected_rps_per_front_end"] = b["rps"]
        out["redis_calls_per_protected_request"] = b["redis_calls_per_req"]
        out["redis_cpu_us_per_protected_request"] = b["redis_cpu_us_per_req"]
        if bench.get("get_rps"):
            out["front_ends_by_redis_benchmark_get"] = round(
                bench["get_rps"] / b["rps"], 1)
        if b["redis_cpu_us_per_req"]:
            out["redis_single_core_protected_rps"] = round(
                1e6 / b["redis_cpu_us_per_req"])
            out["front_ends_by_redis_cpu"] = round(
                1e6 / b["redis_cpu_us_per_req"] / b["rps"], 1)
    if q.get("runs"):
        out["redis_calls_per_idp_initiated_login_by_round"] = [
            r["redis_calls_per_login"] for r in q["runs"]]
        cpu = [r["redis_cpu_ms_per_accepted"] for r in q["runs"]]
        out["redis_cpu_ms_per_login"] = median(cpu)
    return out


# --- output --------------------------------------------------------------

def fmt(v, f="%.0f"):
    return "-" if v is None else f % v


def verdict(ok):
    return "met" if ok else "MISSED"


def print_table(res):
    rows, acs, rss = res["rows"], res["acs"], res["rss"]
    p = res["profile"]
    log("")
    log("mod_qsso bench (%s): %d rounds x %d s per row, interleaved; wrk "
        "-t%d -c%d; medians" % (res["mode"], p["rounds"], p["duration"],
                                WRK_THREADS, WRK_CONNS))
    log("%-44s %9s %8s %8s %7s %9s %10s" % (
        "row", "req/s", "p50 ms", "p99 ms", "ratio", "p99 ratio",
        "httpd us/r"))
    for key in ("a", "b", "c", "m"):
        r = rows.get(key)
        if r is None:
            continue
        if not r["measured"]:
            log("%-44s %s" % (r["label"], r["why"]))
            continue
        log("%-44s %9.0f %8.2f %8.2f %7.2f %9.2f %10.0f" % (
            r["label"], r["rps"], r["p50_ms"], r["p99_ms"], r["ratio"],
            r["p99_ratio"], r["httpd_cpu_us_per_req"]))
    log("%-44s %9s %8s %8s %7s %9s" % (
        "same rows, one connection (no queueing)", "req/s", "p50 ms",
        "p99 ms", "p50 rat", "p99 ratio"))
    for key in ("a", "b", "c", "m"):
        r = rows.get(key)
        if r and r["measured"]:
            o = r["one_connection"]
            log("%-44s %9.0f %8.3f %8.3f %7.2f %9.2f" % (
                r["label"][:44], o["rps"], o["p50_ms"], o["p99_ms"],
                o["p50_ratio"], o["p99_ratio"]))
    log("")
    log("%-44s %9s %8s %8s %12s %9s" % ("ACS (pre-signed, %d connections)"
                                        % ACS_CONNS, "accepted/s", "p50 ms",
                                        "p99 ms", "CPU ms/login", "accepted"))
    for key, label in (("qsso", "(b) mod_qsso, Redis store"),
                       ("shm", "(c) mod_qsso, QSSOStore shm"),
                       ("mellon", "(m) mod_auth_mellon")):
        a = acs.get(key)
        if isinstance(a, str):
            log("%-44s %s" % (label, a))
        elif a:
            log("%-44s %9.1f %8.2f %8.2f %12.3f %9s" % (
                label, a["accepted_per_s"], a["p50_ms"], a["p99_ms"],
                a["httpd_cpu_ms_per_accepted"],
                "%d/%d" % (a["accepted"], a["posted"])))
    log("")
    if rss:
        log("RSS of the httpd children: %d KiB after %d warm-up requests, "
            "%d KiB after %d more (%+.2f%%)%s" % (
                rss["rss_before_kib"], rss["warmup_requests"],
                rss["rss_after_kib"], rss["requests"], rss["growth_pct"],
                "" if rss["same_processes"] else
                " (a child was replaced: not comparable)"))
        if rss.get("socket_errors"):
            log("  wrk socket errors during those requests: %s" %
                ", ".join("%s %d" % kv
                          for kv in sorted(rss["socket_errors"].items())))
    rd = res.get("redis") or {}
    if rd.get("redis_benchmark"):
        log("Redis: %s calls per protected request, %.1f us Redis CPU each; "
            "redis-benchmark GET %.0f/s SET %.0f/s (-d %d) -> about %s "
            "front ends at the (b) rate" % (
                rd.get("redis_calls_per_protected_request"),
                rd.get("redis_cpu_us_per_protected_request") or 0,
                rd["redis_benchmark"].get("get_rps", 0),
                rd["redis_benchmark"].get("set_rps", 0),
                rd["session_value_bytes"],
                rd.get("front_ends_by_redis_benchmark_get")))
    log("")
    log("targets:")
    for line in res["targets"]:
        log("  %-46s %-14s %s" % (line["what"], line["measured"],
                                  line["verdict"]))
    if res.get("foreign_cpu_pct", 0) > 10:
        log("warning: other processes used %.0f%% of the machine's CPU "
            "during the rounds; numbers are noisy" % res["foreign_cpu_pct"])


def targets(res):
    rows, acs, rss = res["rows"], res["acs"], res["rss"]
    b = rows.get("b", {})
    q = acs.get("qsso") if isinstance(acs.get("qsso"), dict) else {}
    out = []

    def add(what, value, ok, f):
        out.append({"what": what, "measured": fmt(value, f),
                    "verdict": "-" if value is None else verdict(ok)})

    ratio = b.get("ratio")
    add("protected/unprotected req/s >= %.2f (Redis)" % TARGETS["ratio"],
        ratio, ratio is not None and ratio >= TARGETS["ratio"], "%.2f")
    cpu = q.get("httpd_cpu_ms_per_accepted")
    add("httpd CPU per accepted response <= %.1f ms" % TARGETS["acs_cpu_ms"],
        cpu, cpu is not None and cpu <= TARGETS["acs_cpu_ms"], "%.3f ms")
    p99 = b.get("p99_ratio")
    add("p99 protected within %.1fx of unprotected" % TARGETS["p99_ratio"],
        p99, p99 is not None and p99 <= TARGETS["p99_ratio"], "%.2fx")
    g = rss.get("growth_pct") if rss else None
    add("RSS growth after warm-up < %.0f%%" % TARGETS["rss_growth_pct"],
        g, g is not None and g < TARGETS["rss_growth_pct"], "%+.2f%%")
    c = rows.get("c", {})
    if c.get("measured"):
        add("(c) shm: protected/unprotected req/s >= %.2f"
            % TARGETS["ratio"], c["ratio"], c["ratio"] >= TARGETS["ratio"],
            "%.2f")
    return out


# --- main ----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds, shorter runs (under ~2 minutes)")
    ap.add_argument("--module", default=servers.harness.MODULE,
                    help="mod_qsso.so to load (default: this tree's)")
    ap.add_argument("--no-mellon", action="store_true",
                    help="skip the mod_auth_mellon comparison row")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per wrk run")
    ap.add_argument("--acs-n", type=int, help="responses per ACS round")
    ap.add_argument("--rss-requests", type=int)
    ap.add_argument("--json", help="write the JSON here instead")
    args = ap.parse_args()

    mode = "quick" if args.quick else "full"
    p = dict(PROFILES[mode])
    for k in ("rounds", "duration", "acs_n", "rss_requests"):
        if getattr(args, k) is not None:
            p[k] = getattr(args, k)
    for tool in ("wrk", "redis-server", "redis-benchmark", servers.HTTPD):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing (bench/run.sh installs it)" % tool)
    if not os.path.exists(args.module):
        sys.exit("bench: %s is missing: make -f Makefile.apxs" % args.module)

    workdir = tempfile.mkdtemp(prefix="qsso-bench-")
    os.chmod(workdir, 0o755)
    state = {"workdir": workdir, "httpds": []}
    t_start = time.time()
    res = {"mode": mode, "profile": p, "module": os.path.abspath(args.module),
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                       "loadavg_at_start": os.getloadavg()},
           "versions": {"apache2": package_version("apache2"),
                        "redis": package_version("redis-server"),
                        "mellon": package_version(
                            "libapache2-mod-auth-mellon"),
                        "wrk": package_version("wrk")},
           "targets_def": TARGETS, "mellon_reference": MELLON_REF}
    try:
        git = subprocess.run(["git", "-C", servers.ROOT, "describe",
                              "--always", "--dirty"], capture_output=True,
                             text=True)
        res["git"] = git.stdout.strip()
        state["redis"] = servers.Redis(workdir).start()
        q = BenchHttpd(workdir, state["redis"], module=args.module).start()
        state["httpds"].append(q)
        cookie = saml.login_qsso(q)
        log("signed in through the IdP: mod_qsso session cookie obtained")
        rows = [Row("a", "(a) 1 KB static file, unprotected", q,
                    "/public/" + FILE_1K),
                Row("b", "(b) AuthType qsso, Redis session", q,
                    "/dash/" + FILE_1K, ["Cookie: " + cookie])]
        shm, why = start_shm(state, args.module)
        if shm:
            try:
                rows.append(Row("c", "(c) AuthType qsso, QSSOStore shm", shm,
                                "/dash/" + FILE_1K,
                                ["Cookie: " + saml.login_qsso(shm)]))
            except Exception as e:  # noqa: BLE001
                why = "n/a (QSSOStore shm: %s)" % e
                shm = None
        if why:
            rows.append(Row("c", "(c) AuthType qsso, QSSOStore shm", why=why))
        mellon, why = (None, "n/a (--no-mellon)") if args.no_mellon \
            else start_mellon(state)
        mlabel = "(m) mod_auth_mellon %s, protected" % (
            res["versions"]["mellon"] or "")
        rows.append(Row("m", mlabel, mellon[0], "/dash/" + FILE_1K,
                        ["Cookie: " + mellon[1]]) if mellon
                    else Row("m", mlabel, why=why))
        for r in rows:
            if r.why:
                log("%s: %s" % (r.label, r.why))

        run_rounds(rows, state, p)
        res["foreign_cpu_pct"] = state["foreign_cpu_pct"]
        res["rows"] = summarize_rows(rows)
        res["rss"] = run_rss(rows[1], state, p)
        acs = run_acs(state, p, q, mellon, shm)
        res["acs"] = {"qsso": summarize_acs(acs["qsso"]),
                      "shm": summarize_acs(acs["shm"]) if shm
                      else "n/a (QSSOStore shm not available)",
                      "mellon": summarize_acs(acs["mellon"]) if mellon
                      else why}
        res["redis_sp_initiated"] = run_sp_logins(state, q, p["sp_logins"])
        res["redis"] = redis_report(state, res["rows"], res["acs"], p)
        res["targets"] = targets(res)
        res["seconds"] = round(time.time() - t_start)
        print_table(res)
    except Exception:
        traceback.print_exc()
        res["error"] = traceback.format_exc()
        for h in state["httpds"]:
            try:
                with open(h.error_log) as f:
                    tail = f.read()[-2000:]
                log("--- %s error_log tail:\n%s" % (h.kind, tail))
            except OSError:
                pass
    finally:
        for h in state["httpds"]:
            h.stop()
        if state.get("redis"):
            state["redis"].stop()
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(RESULTS, exist_ok=True)
    path = args.json or os.path.join(
        RESULTS, time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick
                                                   else "") + ".json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    log("\nJSON: %s (%d s)" % (path, time.time() - t_start))
    return 1 if "error" in res else 0


if __name__ == "__main__":
    sys.exit(main())
