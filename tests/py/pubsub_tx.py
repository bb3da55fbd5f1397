"""redis-py against Kiln: pub/sub (channels, patterns, shard channels,
RESP2 and RESP3) and transactions (MULTI/EXEC pipelines, WATCH retried
on a conflict). Run by tests/redis_py.rs with the main port."""

import sys
import time

import redis

port = int(sys.argv[1])


def wait_message(p, kind):
    deadline = time.time() + 10
    while time.time() < deadline:
        m = p.get_message(timeout=1.0)
        if m is not None and m["type"] == kind:
            return m
    raise AssertionError(f"no {kind} message")


for protocol in (2, 3):
    r = redis.Redis(port=port, protocol=protocol)
    sub = redis.Redis(port=port, protocol=protocol)
    p = sub.pubsub()
    p.subscribe("orders")
    p.psubscribe("ord*")
    assert wait_message(p, "subscribe")["channel"] == b"orders"
    assert wait_message(p, "psubscribe")["channel"] == b"ord*"
    assert r.publish("orders", "o-1") == 2, "channel and pattern"
    m = wait_message(p, "message")
    assert (m["channel"], m["data"]) == (b"orders", b"o-1"), m
    m = wait_message(p, "pmessage")
    assert (m["pattern"], m["channel"], m["data"]) == (b"ord*", b"orders", b"o-1"), m
    assert r.pubsub_numsub("orders") == [(b"orders", 1)]
    assert r.pubsub_numpat() == 1
    assert b"orders" in r.pubsub_channels()
    p.unsubscribe("orders")
    p.punsubscribe("ord*")
    assert wait_message(p, "unsubscribe")["channel"] == b"orders"
    assert r.publish("orders", "o-2") <= 1  # the pattern may still be leaving
    p.close()

    s = sub.pubsub()
    s.ssubscribe("{shard}events")
    assert wait_message(s, "ssubscribe")["channel"] == b"{shard}events"
    assert r.spublish("{shard}events", "e-1") == 1
    m = wait_message(s, "smessage")
    assert m["data"] == b"e-1", m
    s.close()

    # Transactions: keys on different cores, one EXEC.
    r.delete("a", "b", "c")
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).incr("b").lpush("c", "x").get("a")
    assert pipe.execute() == [True, 1, 1, b"1"]

    # WATCH: another client's write aborts the first attempt.
    other = redis.Redis(port=port, protocol=protocol)
    attempts = 0
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch("a", "b")
                attempts += 1
                value = int(pipe.get("a"))
                if attempts == 1:
                    other.incr("a")
                pipe.multi()
                pipe.set("b", value * 10)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    assert attempts == 2, attempts
    assert r.get("b") == b"20"

print("ok")
