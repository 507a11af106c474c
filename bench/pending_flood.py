#!/usr/bin/python3
"""The pending-login flood of issue 9, finding 5: one loopback client sends
unauthenticated navigation GETs of a protected page with long request
targets for a while; each starts a login, which the store keeps. Reports
Redis's used_memory before and after, the keys left, and the request rate.

    /usr/bin/python3 bench/pending_flood.py [--module PATH] [--seconds 20]

Not a test: it measures. --module runs another build (e.g. the code
before the fix, built from `git archive`) against the same flood."""
import argparse
import collections
import http.client
import json
import os
import shutil
import sys
import tempfile
import time

import redisstats as rs
import servers
from servers import BenchHttpd


def flood(port, seconds, target):
    statuses = collections.Counter()
    end = time.time() + seconds
    c = None
    while time.time() < end:
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("GET", target)
            r = c.getresponse()
            r.read()
            statuses[r.status] += 1
            if r.will_close:
                c.close()
                c = None
        except (OSError, http.client.HTTPException):
            statuses["error"] += 1
            c.close()
            c = None
    if c is not None:
        c.close()
    return statuses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", default=servers.harness.MODULE)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--target-bytes", type=int, default=8000,
                    help="length of each request target (LimitRequestLine "
                         "is 8190)")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    target = "/dash/%s?q=" % servers.FILE_1K
    target += "x" * (args.target_bytes - len(target))
    work = tempfile.mkdtemp(prefix="qsso-flood-")
    os.chmod(work, 0o755)
    redis = servers.Redis(work).start()
    h = None
    try:
        h = BenchHttpd(work, redis, module=args.module)
        h.start()
        before = rs.used_memory(redis)
        t0 = time.time()
        statuses = flood(h.port, args.seconds, target)
        took = time.time() - t0
        after = rs.used_memory(redis)
        out = {
            "module": args.module,
            "seconds": round(took, 1),
            "target_bytes": len(target),
            "requests": sum(statuses.values()),
            "req_per_s": round(sum(statuses.values()) / took),
            "statuses": {str(k): v for k, v in sorted(statuses.items(),
                                                      key=str)},
            "used_memory_before": before,
            "used_memory_after": after,
            "growth_mb": round((after - before) / 1e6, 1),
            "pending_keys": len(redis.keys("qsso:req:*")),
            "counter_keys": len(redis.keys("qsso:pend-addr:*")),
        }
    finally:
        if h is not None:
            h.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("pending-login flood: %(requests)d GETs of %(target_bytes)d-byte "
          "targets in %(seconds)s s (%(req_per_s)d/s), statuses "
          "%(statuses)s" % out)
    print("Redis used_memory %(used_memory_before)d -> "
          "%(used_memory_after)d bytes (+%(growth_mb)s MB); "
          "%(pending_keys)d pending logins, %(counter_keys)d counters"
          % out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
