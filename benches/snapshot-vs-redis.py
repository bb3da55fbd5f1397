#!/usr/bin/env python3
"""A background snapshot under load, and a restart from it: Redis (fork)
and Kiln (fork-less, point in time) side by side in one run.

    benches/snapshot-vs-redis.py [--keys N] [--time SECS] [--cores N]

For each server: loads N keys (20-byte values, kiln-bench's sequential
pattern), measures the p99 of a 1:1 SET:GET load (kiln-bench, 20
connections, over every key) for SECS without a snapshot, then the same
load with a BGSAVE started as it begins; samples the memory of the server
(and of Redis's forked child) every 20 ms: PSS summed over the processes,
so pages a fork shares are counted once and pages it copies twice. Then
SAVE, kill, restart on the file and time until `loading:0`.
Prints one table; needs a release build (`cargo build --release`).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, free_port, resp  # noqa: E402

BENCH = os.path.join(ROOT, "target/release/kiln-bench")


def command(sock, *args):
    """One request; its reply (a status, an error or a bulk string)."""
    sock.sendall(resp(*args))
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
        head, sep, rest = data.partition(b"\r\n")
        if not sep:
            continue
        if not head.startswith(b"$"):
            return head
        if len(rest) >= int(head[1:]) + 2:
            return rest[: int(head[1:])]


def info(port, field):
    with socket.create_connection(("127.0.0.1", port)) as s:
        text = command(s, "INFO", "persistence").decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise KeyError(field)


def start(kind, port, data, cores):
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", data]
    else:
        cmd = [os.path.join(ROOT, "target/release/kiln-server"), "--port", str(port), "--bind", "127.0.0.1",
               "--core-port-base", "0", "--cores", str(cores), "--loglevel", "warn", "--dir", data,
               "--save", ""]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if info(port, "loading") == "0":
                return proc
        except (OSError, KeyError, RuntimeError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{kind} did not start")


def pss_kb(pid):
    """PSS of `pid` and its children (Redis's fork), in kB."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def bench(port, keys, args):
    out = tempfile.mktemp(suffix=".json")
    cmd = [BENCH, "-s", "127.0.0.1", "-p", str(port), "--hide-histogram", "--json-out-file", out,
           "-d", "20", "--key-minimum", "1", "--key-maximum", str(keys)] + args
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        result = json.load(f)
    os.unlink(out)
    return result


def p99_ms(result):
    """The p99 of all requests in kiln-bench's (memtier's) JSON."""
    totals = result.get("ALL STATS", result)["Totals"]
    percentiles = totals.get("Percentile Latencies") or {}
    for name in ("p99.00", "p99"):
        if name in percentiles:
            return float(percentiles[name])
    return float(totals["Latency"])


def measure(kind, keys, secs, cores):
    data = tempfile.mkdtemp(prefix=f"snap-{kind}-")
    port = free_port()
    proc = start(kind, port, data, cores)
    conns = 20
    bench(port, keys, ["-t", "1", "-c", str(conns), "--ratio", "1:0", "--key-pattern", "P:P",
                       "-n", str(keys // conns + 1)])
    load = ["-t", "1", "-c", "20", "--ratio", "1:1", "--key-pattern", "R:R", "--test-time", str(secs),
            "--print-percentiles", "99"]
    quiet = bench(port, keys, load)
    rss_before = pss_kb(proc.pid)
    peak = [rss_before]
    ended = [None]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], pss_kb(proc.pid))
            if ended[0] is None and info(port, "rdb_bgsave_in_progress") == "0":
                ended[0] = time.time()
            time.sleep(0.02)

    started = time.time()
    with socket.create_connection(("127.0.0.1", port)) as s:
        command(s, "BGSAVE")
    # Started after BGSAVE answered, so it never sees the state before.
    sampler = threading.Thread(target=sample)
    sampler.start()
    during = bench(port, keys, load)
    while ended[0] is None:
        time.sleep(0.01)
    save_secs = ended[0] - started
    stop.set()
    sampler.join()
    with socket.create_connection(("127.0.0.1", port)) as s:
        command(s, "SAVE")
    proc.kill()
    proc.wait()
    t0 = time.time()
    proc = start(kind, port, data, cores)
    restart = time.time() - t0
    proc.kill()
    proc.wait()
    subprocess.run(["rm", "-rf", data])
    return {
        "p99_quiet": p99_ms(quiet),
        "p99_save": p99_ms(during),
        "save_s": save_secs,
        "pss_mb": rss_before / 1024,
        "peak_mb": peak[0] / 1024,
        "restart_s": restart,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=10_000_000)
    ap.add_argument("--time", type=int, default=10)
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    rows = {kind: measure(kind, a.keys, a.time, a.cores) for kind in ("redis", "kiln")}
    print(f"{a.keys:,} keys, 20-byte values; load: 20 connections, SET:GET 1:1, {a.time} s")
    print("| server | p99 ms without a save | p99 ms during BGSAVE | ratio | BGSAVE s | memory MB (PSS) "
          "| peak during BGSAVE MB | growth | restart s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in rows.items():
        print(f"| {kind} | {r['p99_quiet']:.2f} | {r['p99_save']:.2f} | {r['p99_save'] / r['p99_quiet']:.2f} "
              f"| {r['save_s']:.1f} | {r['pss_mb']:.0f} | {r['peak_mb']:.0f} "
              f"| {100 * (r['peak_mb'] / r['pss_mb'] - 1):.0f}% | {r['restart_s']:.1f} |")


if __name__ == "__main__":
    main()
