#!/usr/bin/env python3
"""Kiln against Redis 7 for the collection types, side by side in one run.

Memory: each server fills the same data set (redis-cli --pipe), and the
RSS it grew by (/proc/<pid>/status VmRSS, before and after) is divided by
the number of keys:
  hashes   N keys of 10 short fields        sets   N keys of 10 small integers
  zsets    N keys of 10 members             lists  N/10 keys of 100 items
  big      1,000 sets of 1,000 members (hashtable-encoded in both)
  strings  N keys key:%08d of 100-byte values
  bitmaps  B keys of 1,000,000 bits, every page of each written (SETBIT)
  hll-sparse / hll-dense
           H HyperLogLogs of 100 / 5,000 distinct elements (sparse / dense
           in Redis's representation, which Kiln keeps)

CPU: server CPU time (utime+stime from /proc/<pid>/stat) per request over a
fixed number of requests from kiln-bench, for HSET, HGET, LPUSH, LPOP, SADD,
SISMEMBER, ZADD, ZRANGE 0 9, ZRANK, XADD, XREADGROUP COUNT 10, SETBIT, PFADD
and GEOSEARCH BYRADIUS, unpipelined and pipelined 16 deep,
alternating servers round by round. Both servers run on one CPU (taskset -c 1,
Kiln with --cores 1), the load generator on the other (taskset -c 0).

  benches/types-vs-redis.py [--keys N] [--bitmaps B] [--hlls H] [--requests N] [--rounds N]
                            [--sets a,b] [--commands A,B] [--skip-memory] [--skip-cpu]

--sets and --commands pick data sets and command rows by name (default: all);
the streams, bitmaps, HyperLogLog and geo rows are
  --sets bitmaps,hll-sparse,hll-dense --commands XADD,XREADGROUP,SETBIT,PFADD,GEOSEARCH
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, cpu_seconds, free_port, resp, server_command  # noqa: E402



def wait_ready(port, proc):
    while True:
        if proc.poll() is not None:
            sys.exit(f"server on {port} exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG":
                return
        except OSError:
            pass


def start(kind, data):
    port = free_port()
    cmd = server_command(kind, port, data, cores=1)
    proc = subprocess.Popen(["taskset", "-c", "1"] + cmd, stdout=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc, port


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def dataset(name, n):
    """The commands that build data set `name` and its number of keys."""
    value = b"v" * 100
    if name == "strings":
        return (resp("SET", "key:%08d" % i, value) for i in range(n)), n
    if name == "hashes":
        return (resp("HSET", f"h:{i}", *[x for f in range(10) for x in (f"field{f}", f"value{f}")]) for i in range(n)), n
    if name == "sets":
        return (resp("SADD", f"s:{i}", *range(10)) for i in range(n)), n
    if name == "zsets":
        return (resp("ZADD", f"z:{i}", *[x for m in range(10) for x in (m, f"member{m}")]) for i in range(n)), n
    if name == "lists":
        keys = max(n // 10, 1)
        return (resp("RPUSH", f"l:{i}", *[f"item{j}" for j in range(100)]) for i in range(keys)), keys
    if name == "bitmaps":
        # SETBIT at the last bit sizes the string; one bit per 4 KiB page
        # makes each server hold every page, as a used bitmap would.
        offsets = list(range(0, 1_000_000, 4096 * 8)) + [999_999]
        return (resp("SETBIT", f"b:{i}", o, 1) for i in range(n) for o in offsets), n
    if name in ("hll-sparse", "hll-dense"):
        count = 100 if name == "hll-sparse" else 5000
        chunks = [resp("PFADD", "KEY", *[f"e{j}" for j in range(c, min(c + 500, count))]).split(b"KEY\r\n", 1)[1]
                  for c in range(0, count, 500)]

        def gen():
            for i in range(n):
                key = b"hll:%d" % i
                for tail in chunks:
                    elements = tail.count(b"\r\n") // 2
                    yield b"*%d\r\n$5\r\nPFADD\r\n$%d\r\n%s\r\n%s" % (elements + 2, len(key), key, tail)
        return gen(), n
    if name == "big":
        per_key = 1000
        def gen():
            for k in range(1000):
                for start in range(0, per_key, 100):
                    yield resp("SADD", f"big:{k}", *[f"m{j}" for j in range(start, min(start + 100, per_key))])
        return gen(), 1000
    raise ValueError(name)


def fill(port, name, n):
    commands, keys = dataset(name, n)
    pipe = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    for c in commands:
        pipe.stdin.write(c)
    pipe.stdin.close()
    pipe.wait()
    # A fill that stopped short would make the per-key figure a lie.
    held = int(subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True).stdout)
    if held != keys:
        sys.exit(f"{name} on port {port}: {held:,} keys after the fill, not {keys:,}")
    return keys


DATA_SETS = ("strings", "hashes", "sets", "zsets", "lists", "big", "bitmaps", "hll-sparse", "hll-dense")


def memory(n, bitmaps, hlls, names):
    print(f"\nmemory: RSS grown per key ({n:,} keys; lists: {max(n // 10, 1):,} keys of 100 items; big: 1,000 sets of 1,000;"
          f" bitmaps: {bitmaps:,}; HyperLogLogs: {hlls:,})")
    print(f"{'data set':<10} {'redis B/key':>12} {'kiln B/key':>12} {'kiln/redis':>11}")
    for name in names:
        count = bitmaps if name == "bitmaps" else hlls if name.startswith("hll") else n
        per_key = {}
        for kind in ("redis", "kiln"):
            with tempfile.TemporaryDirectory() as data:
                proc, port = start(kind, data)
                before = rss(proc.pid)
                keys = fill(port, name, count)
                time.sleep(0.5)  # let the allocator settle; both servers alike
                per_key[kind] = (rss(proc.pid) - before) / keys
                proc.kill()
                proc.wait()
        print(f"{name:<10} {per_key['redis']:>12.0f} {per_key['kiln']:>12.0f} {per_key['kiln'] / per_key['redis']:>11.2f}")


COMMANDS = [
    ("HSET", ["HSET __key__ field __data__"], None),
    ("HGET", ["HGET __key__ field"], "HSET __key__ field __data__"),
    ("LPUSH", ["LPUSH __key__ __data__"], None),
    ("LPOP", ["LPOP __key__"], "RPUSH __key__ __data__ __data__ __data__ __data__ __data__ __data__ __data__ __data__"),
    ("SADD", ["SADD __key__ __data__"], None),
    ("SISMEMBER", ["SISMEMBER __key__ member"], "SADD __key__ member other"),
    ("ZADD", ["ZADD __key__ 1 __data__"], None),
    ("ZRANGE 0 9", ["ZRANGE __key__ 0 9"], "ZADD __key__ 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k"),
    ("ZRANK", ["ZRANK __key__ e"], "ZADD __key__ 1 a 2 b 3 c 4 d 5 e 6 f 7 g 8 h 9 i 10 j 11 k"),
    ("XADD", ["XADD __key__ * f1 __data__ f2 v2 f3 v3"], None),
    # Each read takes 10 new entries: the prefill gives every key about 1.5
    # times what the reads of one round consume (see `prefills`).
    ("XREADGROUP", ["XREADGROUP GROUP g c COUNT 10 STREAMS __key__ >"],
     ["XGROUP CREATE __key__ g $ MKSTREAM", "XADD __key__ * f1 __data__ f2 v2 f3 v3"]),
    ("SETBIT", ["SETBIT __key__ 100000 1"], None),
    ("PFADD", ["PFADD __key__ __data__"], None),
    ("GEOSEARCH", ["GEOSEARCH __key__ FROMLONLAT 15 37 BYRADIUS 200 km ASC"],
     "GEOADD __key__ 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 a"
     " 14.015482 37.612313 b 13.583333 37.316667 c 16.0 38.0 d 17.5 39.0 e 11.0 36.0 f"),
]

# Extra load-generator flags of a row: PFADD gets values of 1 to 16 random
# bytes, so its elements vary.
FLAGS = {"PFADD": ["--random-data", "--data-size-range=1-16"]}


def prefills(name, prefill, requests):
    """(command, requests per client, pipeline) that prepare row `name`."""
    if prefill is None:
        return []
    if isinstance(prefill, str):
        return [(prefill, 100, 1)]
    group, add = prefill
    # 1,000 keys; a round reads `requests` times 10 entries spread over them.
    return [(group, 100, 1), (add, max(requests * 10 * 3 // 2 // 10, 100), 16)]


def cpu(requests, rounds, bench, names):
    print(f"\nserver CPU per request, microseconds ({requests:,} requests x {rounds} rounds, median; 1 CPU each)")
    print(f"{'command':<12} {'pipeline':>8} {'redis':>8} {'kiln':>8} {'kiln/redis':>11}")
    with tempfile.TemporaryDirectory() as data:
        servers = {kind: start(kind, data) for kind in ("redis", "kiln")}
        try:
            for name, command, prefill in COMMANDS:
                if name.split()[0] not in names:
                    continue
                for pipeline in (1, 16):
                    samples = {"redis": [], "kiln": []}
                    for _ in range(rounds):
                        for kind, (proc, port) in servers.items():
                            prefix = name.split()[0].lower() + ":"
                            base = ["taskset", "-c", "0", bench, "-p", str(port), "-t", "1", "-c", "10",
                                    "-d", "16", "--key-minimum=1", "--key-maximum=1000", "--hide-histogram",
                                    "--hide-progress", f"--key-prefix={prefix}"]
                            for text, count, depth in prefills(name, prefill, requests):
                                subprocess.run(base + ["--command", text, "--command-key-pattern", "P",
                                                       f"--pipeline={depth}", "-n", str(count)],
                                               stdout=subprocess.DEVNULL, check=True)
                            before = cpu_seconds(proc.pid)
                            args = base + FLAGS.get(name, []) + [x for c in command for x in ("--command", c)]
                            subprocess.run(args + [f"--pipeline={pipeline}", "-n", str(requests // 10)],
                                           stdout=subprocess.DEVNULL, check=True)
                            samples[kind].append((cpu_seconds(proc.pid) - before) / requests * 1e6)
                    r, k = statistics.median(samples["redis"]), statistics.median(samples["kiln"])
                    print(f"{name:<12} {pipeline:>8} {r:>8.2f} {k:>8.2f} {k / r if r else float('nan'):>11.2f}")
        finally:
            for proc, _ in servers.values():
                proc.kill()
                proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=200_000)
    p.add_argument("--requests", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bitmaps", type=int, default=100_000)
    p.add_argument("--hlls", type=int, default=100_000)
    p.add_argument("--sets", default=",".join(DATA_SETS))
    p.add_argument("--commands", default=",".join(c[0].split()[0] for c in COMMANDS))
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-cpu", action="store_true")
    a = p.parse_args()
    env = os.path.join(ROOT, "..", "shared", "v8", "env.sh")
    setup = f". {env}; " if os.path.exists(env) else ""
    build = f"{setup}cargo build --release -q -p kiln --bins -p kiln-bench"
    subprocess.run(["bash", "-c", build], cwd=ROOT, check=True)
    if not a.skip_memory:
        memory(a.keys, a.bitmaps, a.hlls, a.sets.split(","))
    if not a.skip_cpu:
        cpu(a.requests, a.rounds, os.path.join(ROOT, "target/release/kiln-bench"), a.commands.split(","))


if __name__ == "__main__":
    main()
