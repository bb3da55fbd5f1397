#!/usr/bin/env python3
"""What the metrics endpoint costs the server: CPU per request (utime+stime
of the server process from /proc/<pid>/stat, before and after a fixed
number of requests from redis-benchmark) of two release Kiln servers side
by side, one with the endpoint off and one with it on (--metrics-port) and
scraped once a second for the whole run. Rounds alternate which server
goes first; medians, their ratio and the median of each round's ratio
(its two runs back to back) are printed.

  benches/metrics-cost.py [--requests N] [--clients N] [--pipeline N] [--rounds N]

The load is redis-benchmark's SET and GET (-t set,get, random keys over
100,000, 3-byte values) on the main port, 2 cores per server. Goal: the
ratio on/off at most 1.03.

With --baseline BINARY, the same run compares an older kiln-server
(BINARY, say one built before per-command accounting) with this tree's,
both with the endpoint off: what the accounting itself costs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_seconds, free_port, resp, server_command  # noqa: E402


def start(data, metrics_port, binary=None):
    port = free_port()
    command = server_command("kiln", port, data, cores=2)
    if binary:
        command[0] = binary
    if metrics_port:
        command += ["--metrics-port", str(metrics_port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    import socket

    while True:
        if proc.poll() is not None:
            sys.exit("kiln-server exited")
        try:
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(resp("PING"))
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.02)


def load(port, requests, clients, pipeline):
    subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
         "-P", str(pipeline), "-r", "100000", "-t", "set,get", "-q"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # -t set,get runs -n requests of each.
    return 2 * requests


def scraper(port, stop, scrapes):
    while not stop.is_set():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            body = r.read()
            if r.status != 200 or b"kiln_core_commands_total" not in body:
                sys.exit("bad scrape")
        scrapes.append(len(body))
        stop.wait(1.0)


def thread_cpu_seconds(pid, name):
    """utime + stime of process `pid`'s threads called `name`."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != name:
                continue
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=200_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--pipeline", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--baseline", metavar="BINARY",
                   help="instead: compare this tree's server with BINARY (an older kiln-server), both with the endpoint off")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as on_dir:
        metrics_port = 0 if args.baseline else free_port()
        off, off_port = start(off_dir, 0, args.baseline)
        on, on_port = start(on_dir, metrics_port)
        stop, scrapes = threading.Event(), []
        thread = threading.Thread(target=scraper, args=(metrics_port, stop, scrapes), daemon=True)
        if metrics_port:
            thread.start()
        results = {"off": [], "on": []}
        try:
            servers = [("off", off, off_port), ("on", on, on_port)]
            for round_ in range(args.rounds):
                order = servers if round_ % 2 == 0 else servers[::-1]
                for name, proc, port in order:
                    cpu0 = cpu_seconds(proc.pid)
                    done = load(port, args.requests, args.clients, args.pipeline)
                    us = (cpu_seconds(proc.pid) - cpu0) / done * 1e6
                    results[name].append(us)
                    label = {"off": "baseline", "on": "this tree"}[name] if args.baseline else name
                    print(f"round {round_ + 1} {label}: {us:.3f} us CPU/request", flush=True)
            endpoint_cpu = thread_cpu_seconds(on.pid, "kiln-metrics")
        finally:
            stop.set()
            if metrics_port:
                thread.join(timeout=5)
            for proc in (off, on):
                proc.terminate()
                proc.wait()
    off_us, on_us = statistics.median(results["off"]), statistics.median(results["on"])
    # Each round's two runs are back to back, so a round's ratio is the
    # least disturbed by whatever else the machine runs meanwhile.
    ratios = [on / off for on, off in zip(results["on"], results["off"])]
    paired = statistics.median(ratios)
    print()
    print(f"{'endpoint':<26} {'CPU us/request (median)':>24}")
    names = ("baseline", "this tree") if args.baseline else ("off", "on, scraped every 1 s")
    print(f"{names[0]:<26} {off_us:>24.3f}")
    print(f"{names[1]:<26} {on_us:>24.3f}")
    what = "this/baseline" if args.baseline else "on/off"
    print(f"per-round ratios {what}: " + " ".join(f"{r:.3f}" for r in ratios))
    print(f"ratio of medians {what}: {on_us / off_us:.3f}; median of per-round ratios: {paired:.3f}")
    if scrapes:
        print(f"the endpoint thread (kiln-metrics): {endpoint_cpu * 1e3:.1f} ms CPU in all, "
              f"{endpoint_cpu / len(scrapes) * 1e3:.2f} ms per scrape")
    print(f"({args.rounds} rounds of {2 * args.requests} requests per server; {len(scrapes)} scrapes, "
          f"last body {scrapes[-1] if scrapes else 0} bytes)")


if __name__ == "__main__":
    main()
