#!/usr/bin/env python3
"""RSS of one stream of N entries of 3 small fields, Kiln against redis-server,
side by side in one run.

    python3 benches/stream-rss.py [--entries 1000000] [--kiln target/release/kiln-server]

Each server starts empty on a free port; the script pipelines
`XADD s <i>-1 a <i> b x c yz` (explicit IDs, so both hold the same entries)
and reads the process's VmRSS from /proc before and after.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port  # noqa: E402
from benchlib import resp as command  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(port):
    deadline = time.time() + 30
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            if sock.recv(64).startswith(b"+PONG"):
                return sock
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def fill(sock, n, batch=1000):
    for start in range(1, n + 1, batch):
        end = min(n, start + batch - 1)
        payload = b"".join(
            command("XADD", "s", f"{i}-1", "a", i, "b", "x", "c", "yz") for i in range(start, end + 1)
        )
        sock.sendall(payload)
        want = end - start + 1
        got = 0
        buf = b""
        while got < want:
            buf += sock.recv(1 << 16)
            got = buf.count(b"\r\n") // 2  # "$n\r\nID\r\n" per reply
        # A reply error would show as '-'.
        assert b"-ERR" not in buf, buf[:200]


def measure(name, argv, port, n):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sock = connect(port)
        before = rss_kb(proc.pid)
        fill(sock, n)
        sock.sendall(command("XLEN", "s"))
        xlen = sock.recv(64)
        time.sleep(0.5)
        after = rss_kb(proc.pid)
        print(f"{name:6} XLEN={xlen.strip().decode():10} RSS before {before / 1024:8.1f} MiB  after {after / 1024:8.1f} MiB  "
              f"stream {(after - before) / 1024:8.1f} MiB  {(after - before) * 1024 / n:6.1f} B/entry")
        return after - before
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--kiln", default="target/release/kiln-server")
    ap.add_argument("--redis", default="redis-server")
    args = ap.parse_args()
    rp, kp = free_port(), free_port()
    redis = measure("redis", [args.redis, "--port", str(rp), "--save", "", "--appendonly", "no"], rp, args.entries)
    kiln = measure("kiln", [args.kiln, "--bind", "127.0.0.1", "--port", str(kp), "--cores", "1",
                            "--pin-threads", "false", "--loglevel", "warn"], kp, args.entries)
    print(f"kiln / redis = {kiln / redis:.2f}")


if __name__ == "__main__":
    main()
