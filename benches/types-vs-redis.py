#!/usr/bin/env python3
"""Kiln against Redis 7 for the collection types, side by side in one run.

Memory: each server fills the same data set (redis-cli --pipe), and the
RSS it grew by (/proc/<pid>/status VmRSS, before and after) is divided by
the number of keys:
  hashes   N keys of 10 short fields        sets   N keys of 10 small integers
  zsets    N keys of 10 members             lists  N/10 keys of 100 items
  big      1,000 sets of 1,000 members (hashtable-encoded in both)
  strings  N keys key:%08d of 100-byte values

CPU: server CPU time (utime+stime from /proc/<pid>/stat) per request over a
fixed number of requests from kiln-bench, for HSET, HGET, LPUSH, LPOP, SADD,
SISMEMBER, ZADD, ZRANGE 0 9 and ZRANK, unpipelined and pipelined 16 deep,
alternating servers round by round. Both servers run on one CPU (taskset -c 1,
Kiln with --cores 1), the load generator on the other (taskset -c 0).

  benches/types-vs-redis.py [--keys N] [--requests N] [--rounds N] [--skip-memory] [--skip-cpu]
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
    return keys


def memory(n):
    print(f"\nmemory: RSS grown per key ({n:,} keys; lists: {max(n // 10, 1):,} keys of 100 items; big: 1,000 sets of 1,000)")
    print(f"{'data set':<10} {'redis B/key':>12} {'kiln B/key':>12} {'kiln/redis':>11}")
    for name in ("strings", "hashes", "sets", "zsets", "lists", "big"):
        per_key = {}
        for kind in ("redis", "kiln"):
            with tempfile.TemporaryDirectory() as data:
                proc, port = start(kind, data)
                before = rss(proc.pid)
                keys = fill(port, name, n)
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
]


def cpu(requests, rounds, bench):
    print(f"\nserver CPU per request, microseconds ({requests:,} requests x {rounds} rounds, median; 1 CPU each)")
    print(f"{'command':<12} {'pipeline':>8} {'redis':>8} {'kiln':>8} {'kiln/redis':>11}")
    with tempfile.TemporaryDirectory() as data:
        servers = {kind: start(kind, data) for kind in ("redis", "kiln")}
        try:
            for name, command, prefill in COMMANDS:
                for pipeline in (1, 16):
                    samples = {"redis": [], "kiln": []}
                    for _ in range(rounds):
                        for kind, (proc, port) in servers.items():
                            prefix = name.split()[0].lower() + ":"
                            base = ["taskset", "-c", "0", bench, "-p", str(port), "-t", "1", "-c", "10",
                                    "-d", "16", "--key-minimum=1", "--key-maximum=1000", "--hide-histogram",
                                    "--hide-progress", f"--key-prefix={prefix}"]
                            if prefill:
                                subprocess.run(base + ["--command", prefill, "--command-key-pattern", "P",
                                                       "-n", "100"], stdout=subprocess.DEVNULL, check=True)
                            before = cpu_seconds(proc.pid)
                            args = base + [x for c in command for x in ("--command", c)]
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
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-cpu", action="store_true")
    a = p.parse_args()
    env = os.path.join(ROOT, "..", "shared", "v8", "env.sh")
    setup = f". {env}; " if os.path.exists(env) else ""
    build = f"{setup}cargo build --release -q -p kiln --bins -p kiln-bench"
    subprocess.run(["bash", "-c", build], cwd=ROOT, check=True)
    if not a.skip_memory:
        memory(a.keys)
    if not a.skip_cpu:
        cpu(a.requests, a.rounds, os.path.join(ROOT, "target/release/kiln-bench"))


if __name__ == "__main__":
    main()
