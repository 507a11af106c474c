"""What Redis says about the bench: command counts (INFO commandstats),
memory (INFO memory, MEMORY USAGE per key), CPU of redis-server, and its
own GET/SET capacity on this machine (redis-benchmark)."""
import re
import subprocess
import time

from servers import sched_seconds


def cli(redis, *args):
    return redis.cli(*args)


def commandstats(redis):
    """{command: calls}, without the INFO calls the bench itself makes."""
    out = cli(redis, "INFO", "commandstats")
    stats = {}
    for m in re.finditer(r"^cmdstat_([\w|]+):calls=(\d+)", out, re.M):
        if m.group(1) not in ("info", "memory", "scan", "dbsize",
                              "config", "del", "ping", "flushdb",
                              "select", "keys"):
            stats[m.group(1)] = int(m.group(2))
    return stats


def delta(after, before):
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {k: v for k, v in sorted(d.items()) if v}


def per(d, n):
    return {k: round(v / n, 3) for k, v in d.items()} if n else {}


def used_memory(redis):
    out = cli(redis, "INFO", "memory")
    return int(re.search(r"^used_memory:(\d+)", out, re.M).group(1))


def redis_cpu(redis):
    return sched_seconds(redis.proc.pid)


def scan(redis, pattern, limit=None):
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "--scan",
                          "--pattern", pattern],
                         capture_output=True, text=True, check=True).stdout
    keys = [k for k in out.splitlines() if k]
    return keys[:limit] if limit else keys


def delete(redis, pattern):
    keys = scan(redis, pattern)
    for i in range(0, len(keys), 500):
        cli(redis, "DEL", *keys[i:i + 500])
    return len(keys)


def key_sizes(redis, prefixes, sample=200):
    """Mean MEMORY USAGE (bytes, Redis's own estimate with its overhead)
    and mean value length over up to `sample` keys of each prefix."""
    out = {}
    for name, pattern in prefixes.items():
        keys = scan(redis, pattern, sample)
        if not keys:
            continue
        usage = [int(cli(redis, "MEMORY", "USAGE", k) or 0) for k in keys]
        out[name] = {"keys_sampled": len(keys),
                     "total_keys": len(scan(redis, pattern)),
                     "memory_usage_bytes": round(sum(usage) / len(usage)),
                     "type": cli(redis, "TYPE", keys[0])}
    return out


def benchmark(redis, n, value_bytes, clients=50):
    """redis-benchmark GET and SET on this machine (db 15, so the bench's
    keys stay apart); requests per second for each."""
    out = subprocess.run(
        ["redis-benchmark", "-p", str(redis.port), "--dbnum", "15", "-t",
         "set,get", "-n", str(n), "-c", str(clients), "-d", str(value_bytes),
         "-q"], capture_output=True, text=True, timeout=600).stdout
    out = out.replace("\r", "\n")
    res = {}
    for m in re.finditer(r"^(SET|GET): ([\d.]+) requests per second", out,
                         re.M):
        res[m.group(1).lower() + "_rps"] = float(m.group(2))
    cli(redis, "-n", "15", "FLUSHDB")
    return res


def monitor_start(redis):
    proc = subprocess.Popen(["redis-cli", "-p", str(redis.port), "MONITOR"],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()      # "OK"
    return proc


def monitor_stop(proc):
    """The commands MONITOR saw, as "CMD key-pattern [OPTIONS]": keys cut
    after their kind (qsso:sess:<...>), values left out."""
    time.sleep(0.2)
    proc.terminate()
    out = proc.communicate(timeout=10)[0]
    seq = []
    for line in out.splitlines():
        toks = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
        if not toks or toks[0].upper() in ("MONITOR", "INFO", "PING"):
            continue
        cmd = toks[0].upper()
        key = re.sub(r"^(qsso:[\w-]+:).*", r"\1<...>", toks[1]) \
            if len(toks) > 1 else ""
        if cmd in ("EVAL", "EVALSHA") and len(toks) > 3:
            key = "script, key " + re.sub(r"^(qsso:[\w-]+:).*", r"\1<...>",
                                          toks[3])
        opts = [t for t in toks[2:] if t in ("EXAT", "NX", "GT", "XX",
                                             "GET", "KEEPTTL")]
        seq.append(" ".join([cmd, key] + opts))
    return seq
