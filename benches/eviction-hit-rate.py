#!/usr/bin/env python3
"""A cache under memory pressure: Kiln's hit rate against Redis's with the
same `maxmemory` and policy, side by side in one run.

    benches/eviction-hit-rate.py [--keys N] [--requests N] [--maxmemory BYTES]
                                 [--policies allkeys-lru,allkeys-lfu] [--zipf S]

The workload is cache-aside over N keys drawn from a Zipf distribution
(exponent S, YCSB's 0.99 by default): GET the key, and on a miss SET it
(100-byte values). `maxmemory` is chosen so about a tenth of the keys fit.
The first third of the requests warms the cache; the hit rate is counted
over the rest. Both servers see the same key sequence (one seed), in
pipelined batches of 500 GETs followed by the SETs of that batch's misses.
Also printed: keys held at the end and evicted_keys, since the two
servers charge a key differently and hold a different number of them in
the same bound.

Needs a release build (`cargo build --release`), redis-server and redis-py.
"""

import argparse
import bisect
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, server_command  # noqa: E402

VALUE = b"v" * 100
BATCH = 500


def zipf_sampler(n, s, seed):
    """A function drawing key ranks 0..n-1 with P(k) ~ 1/(k+1)^s; ranks
    are scattered over the key names so hot keys do not sit together."""
    weights = [1.0 / (k + 1) ** s for k in range(n)]
    cdf = list(itertools.accumulate(weights))
    total = cdf[-1]
    rng = random.Random(seed)
    names = list(range(n))
    rng.shuffle(names)

    def draw():
        return names[bisect.bisect_left(cdf, rng.random() * total)]

    return draw


def start(kind, maxmemory, policy, data):
    port = free_port()
    cmd = server_command(kind, port, data, 2) + ["--maxmemory", str(maxmemory), "--maxmemory-policy", policy]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.time() + 30
    while True:
        try:
            client.ping()
            return proc, client
        except redis.ConnectionError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def run(client, keys, warmup):
    """The hit rate after `warmup` requests, and how many SETs were refused."""
    hits = misses = refused = 0
    for start in range(0, len(keys), BATCH):
        batch = keys[start:start + BATCH]
        pipe = client.pipeline(transaction=False)
        for k in batch:
            pipe.get(b"key:%d" % k)
        got = pipe.execute()
        pipe = client.pipeline(transaction=False)
        missed = 0
        for k, value in zip(batch, got):
            if value is None:
                pipe.set(b"key:%d" % k, VALUE)
                missed += 1
        for reply in pipe.execute(raise_on_error=False):
            if isinstance(reply, redis.exceptions.OutOfMemoryError):
                refused += 1
            elif reply is not True:
                raise RuntimeError(f"SET answered {reply!r}")
        if start >= warmup:
            hits += len(batch) - missed
            misses += missed
    return hits / max(1, hits + misses), refused


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1_500_000)
    ap.add_argument("--maxmemory", type=int, default=0, help="default: about a tenth of the keys fit")
    ap.add_argument("--policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--zipf", type=float, default=0.99)
    args = ap.parse_args()
    # About 220 bytes a key in either server, and Redis's ~1 MB at start.
    maxmemory = args.maxmemory or (args.keys // 10) * 220 + (1 << 20)
    draw = zipf_sampler(args.keys, args.zipf, 7)
    keys = [draw() for _ in range(args.requests)]
    warmup = args.requests // 3
    print(f"{args.keys} keys, {args.requests} requests (zipf {args.zipf}), maxmemory {maxmemory}")
    print(f"{'policy':<14} {'server':<6} {'hit rate':>9} {'keys held':>10} {'evicted':>9} {'used_memory':>12} {'OOM':>5}")
    rows = {}
    for policy in args.policies.split(","):
        # Alternate which server goes first, as the machine is noisy.
        order = ["redis", "kiln"] if len(rows) % 2 == 0 else ["kiln", "redis"]
        for kind in order:
            with tempfile.TemporaryDirectory() as data:
                proc, client = start(kind, maxmemory, policy, data)
                try:
                    rate, refused = run(client, keys, warmup)
                    info = client.info()
                    held = client.dbsize()
                    rows[(policy, kind)] = rate
                    print(f"{policy:<14} {kind:<6} {rate * 100:>8.2f}% {held:>10} "
                          f"{info['evicted_keys']:>9} {info['used_memory']:>12} {refused:>5}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait()
    for policy in args.policies.split(","):
        diff = (rows[(policy, "kiln")] - rows[(policy, "redis")]) * 100
        print(f"{policy}: Kiln - Redis = {diff:+.2f} points")


if __name__ == "__main__":
    main()
