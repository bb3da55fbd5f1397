"""What the Python benchmark scripts share: free ports, a process's CPU
time, and RESP request encoding."""

import os
import socket


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    """utime + stime of process `pid`, in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resp(*args):
    """One request, RESP-encoded."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kiln_binary():
    """This tree's release kiln-server (under $CARGO_TARGET_DIR when set)."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release/kiln-server")


def server_command(kind, port, data, cores):
    """The command line of a Redis or a release Kiln server on loopback
    `port`, persistence off (Kiln with `cores` cores, data under `data`)."""
    if kind == "redis":
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return [kiln_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--core-port-base", "0", "--cores", str(cores), "--loglevel", "warn", "--dir", data, "--save", ""]
