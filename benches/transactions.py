#!/usr/bin/env python3
"""What a transaction costs: MULTI, INCR, INCR, EXEC with both keys on one
core against keys on two cores (Kiln's main port, 2 cores), the same two
INCRs without a transaction, and Redis 7 running the same transaction.

For each case: server CPU per transaction (utime+stime from /proc/<pid>/stat
before and after a fixed number of transactions), throughput with
--clients connections each keeping --pipeline transactions in flight, and
the latency of one transaction alone (one connection, one at a time: p50
and p99). Every connection works on its own keys, so the figures are the
cost of a transaction, not of waiting for another one's locks. Cases
alternate round by round; medians are printed.

  benches/transactions.py [--transactions N] [--clients N] [--pipeline N] [--rounds N]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import cpu_seconds, free_port, resp, server_command  # noqa: E402



class Conn:
    """A socket that counts whole RESP replies (errors fail the run)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._more()

    def _more(self):
        self.buf = self.buf[self.pos:]
        self.pos = 0
        data = self.sock.recv(1 << 16)
        if not data:
            sys.exit("server closed the connection")
        self.buf += data

    def reply(self):
        line = self._line()
        kind = line[:1]
        if kind == b"-":
            sys.exit(f"error reply: {line.decode()}")
        if kind == b"*":
            for _ in range(max(int(line[1:]), 0)):
                self.reply()
        elif kind == b"$" and int(line[1:]) >= 0:
            n = int(line[1:])
            while len(self.buf) - self.pos < n + 2:
                self._more()
            self.pos += n + 2

    def run(self, batch, replies):
        self.sock.sendall(batch)
        for _ in range(replies):
            self.reply()


def start(kind, data):
    port = free_port()
    proc = subprocess.Popen(server_command(kind, port, data, cores=2), stdout=subprocess.DEVNULL)
    while True:
        if proc.poll() is not None:
            sys.exit(f"{kind} exited")
        try:
            c = Conn(port)
            c.run(resp("PING"), 1)
            c.sock.close()
            return proc, port
        except OSError:
            time.sleep(0.02)


def key_on_core(port, core, prefix):
    """A key Kiln's core `core` owns (2 cores: slots split in halves)."""
    i = 0
    while True:
        key = f"{prefix}{i}"
        out = subprocess.run(["redis-cli", "-p", str(port), "CLUSTER", "KEYSLOT", key], capture_output=True).stdout
        if (int(out) >= 8192) == (core == 1):
            return key
        i += 1


def requests(case, keys):
    a, b = keys
    incrs = resp("INCR", a) + resp("INCR", b)
    if case == "plain":
        return incrs, 2
    return resp("MULTI") + incrs + resp("EXEC"), 4


def keys_for(case, port, client):
    if case in ("two-core", "plain"):
        return key_on_core(port, 0, f"c{client}a"), key_on_core(port, 1, f"c{client}b")
    return f"{{c{client}}}a", f"{{c{client}}}b"


def throughput(port, pid, case, total, clients, pipeline):
    conns = [Conn(port) for _ in range(clients)]
    batches = []
    for i in range(clients):
        one, replies = requests(case, keys_for(case, port, i))
        batches.append((one * pipeline, replies * pipeline))
    per_client = max(total // (clients * pipeline), 1)

    def work(conn, batch):
        for _ in range(per_client):
            conn.run(*batch)

    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    threads = [threading.Thread(target=work, args=(c, b)) for c, b in zip(conns, batches)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    done = per_client * clients * pipeline
    for c in conns:
        c.sock.close()
    return cpu / done * 1e6, done / elapsed


def latency(port, case, samples):
    conn = Conn(port)
    one, replies = requests(case, keys_for(case, port, 999))
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        conn.run(one, replies)
        times.append((time.perf_counter() - t0) * 1e6)
    conn.sock.close()
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--transactions", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-samples", type=int, default=5000)
    args = ap.parse_args()
    cases = [("kiln", "one-core"), ("kiln", "two-core"), ("kiln", "plain"), ("redis", "one-core")]
    results = {c: [] for c in cases}
    with tempfile.TemporaryDirectory() as data:
        servers = {kind: start(kind, data) for kind in ("kiln", "redis")}
        try:
            for _ in range(args.rounds):
                for kind, case in cases:
                    proc, port = servers[kind]
                    cpu, rate = throughput(port, proc.pid, case, args.transactions, args.clients, args.pipeline)
                    p50, p99 = latency(port, case, args.latency_samples)
                    results[(kind, case)].append((cpu, rate, p50, p99))
        finally:
            for proc, _ in servers.values():
                proc.kill()
    print(f"{args.transactions:,} per round, {args.clients} clients x {args.pipeline} in flight, "
          f"{args.rounds} rounds (medians); latency: one client, one at a time")
    print(f"{'server':<6} {'case':<22} {'CPU us/tx':>10} {'tx/s':>10} {'p50 us':>8} {'p99 us':>8}")
    names = {"one-core": "MULTI, 2 keys, 1 core", "two-core": "MULTI, 2 keys, 2 cores",
             "plain": "2 INCRs, 2 cores, no tx"}
    for kind, case in cases:
        rows = results[(kind, case)]
        med = [statistics.median(r[i] for r in rows) for i in range(4)]
        print(f"{kind:<6} {names[case]:<22} {med[0]:>10.2f} {med[1]:>10,.0f} {med[2]:>8.0f} {med[3]:>8.0f}")


if __name__ == "__main__":
    main()
