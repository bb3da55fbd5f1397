"""redis-py (from PyPI) against Kiln: hashes, lists, sets and sorted sets end to end,
over RESP2 and RESP3, on the main port (keys on both cores) and through
redis-py's cluster client on the core ports.

Run by tests/redis_py.rs: python3 tests/py/data_types.py <main-port> <core-port>
Exits non-zero (with a traceback) on the first wrong answer.
"""

import sys
import threading

import redis
from redis.cluster import RedisCluster


def scored(reply):
    """(member, score) pairs: redis-py gives tuples over RESP2, lists over
    RESP3, and a single pop flat over RESP3 (as with Redis 7 itself)."""
    if reply and not isinstance(reply[0], (list, tuple)):
        return [(reply[0], reply[1])]
    return [tuple(pair) for pair in reply]


def exercise(r, tag):
    """The same checks through any client; `tag` keeps runs apart."""
    h, s1, s2, z1, z2 = (f"{tag}:{name}" for name in ("h", "s1", "s2", "z1", "z2"))

    # Hashes.
    assert r.hset(h, mapping={"name": "kiln", "visits": 1}) == 2
    assert r.hget(h, "name") == b"kiln"
    assert r.hincrby(h, "visits", 41) == 42
    assert r.hincrbyfloat(h, "score", 1.5) == 1.5
    assert r.hgetall(h) == {b"name": b"kiln", b"visits": b"42", b"score": b"1.5"}
    assert r.hmget(h, ["name", "missing"]) == [b"kiln", None]
    assert sorted(r.hkeys(h)) == [b"name", b"score", b"visits"]
    assert r.hlen(h) == 3 and r.hexists(h, "name") and not r.hexists(h, "nope")
    assert r.hdel(h, "score", "nope") == 1
    assert r.hsetnx(h, "name", "other") == 0
    assert r.hstrlen(h, "name") == 4
    assert r.type(h) == b"hash"
    assert r.object("encoding", h) == b"listpack"
    cursor, fields = r.hscan(h, 0)
    assert cursor == 0 and fields == {b"name": b"kiln", b"visits": b"42"}

    # Sets.
    assert r.sadd(s1, 1, 2, 3) == 3
    assert r.object("encoding", s1) == b"intset"
    assert r.sadd(s1, "x") == 1
    assert r.object("encoding", s1) == b"listpack"
    assert r.smembers(s1) == {b"1", b"2", b"3", b"x"}
    assert r.sismember(s1, "x") and not r.sismember(s1, "y")
    assert r.smismember(s1, ["1", "9"]) == [1, 0]
    assert r.scard(s1) == 4
    assert r.srem(s1, "x", "y") == 1
    member = r.spop(s1)
    assert member in (b"1", b"2", b"3") and r.scard(s1) == 2
    assert r.sadd(s1, member) == 1

    # Sorted sets: a leaderboard.
    assert r.zadd(z1, {"ann": 10, "bob": 20, "cat": 15}) == 3
    assert r.zadd(z1, {"bob": 5}, gt=True, ch=True) == 0
    assert r.zadd(z1, {"ann": 30}, gt=True, ch=True) == 1
    assert r.zincrby(z1, 2.5, "cat") == 17.5
    assert r.zscore(z1, "cat") == 17.5
    assert r.zmscore(z1, ["ann", "nope"]) == [30.0, None]
    assert scored(r.zrange(z1, 0, -1, withscores=True)) == [(b"cat", 17.5), (b"bob", 20.0), (b"ann", 30.0)]
    assert r.zrevrange(z1, 0, 0) == [b"ann"]
    assert r.zrangebyscore(z1, "(17.5", "+inf") == [b"bob", b"ann"]
    assert r.zrank(z1, "bob") == 1 and r.zrevrank(z1, "bob") == 1
    assert r.zcount(z1, 18, 30) == 2 and r.zcard(z1) == 3
    assert scored(r.zpopmin(z1)) == [(b"cat", 17.5)]
    assert r.zadd(z1, {"cat": 17.5}) == 1
    assert r.zadd(z1, {"dan": float("inf")}) == 1
    assert r.zscore(z1, "dan") == float("inf")
    assert r.zrem(z1, "dan") == 1

    # Lists: a work queue.
    q, done = f"{tag}:q", f"{tag}:done"
    assert r.rpush(q, "j1", "j2", "j3") == 3
    assert r.lpush(q, "j0") == 4
    assert r.lrange(q, 0, -1) == [b"j0", b"j1", b"j2", b"j3"]
    assert r.lindex(q, -1) == b"j3" and r.llen(q) == 4
    assert r.lpos(q, "j2") == 2
    assert r.linsert(q, "AFTER", "j3", "j4") == 5
    assert r.lset(q, 0, "J0")
    assert r.lmove(q, done, "LEFT", "RIGHT") == b"J0"
    assert r.rpoplpush(q, done) == b"j4"
    assert r.lpop(q, 2) == [b"j1", b"j2"]
    assert r.rpop(q) == b"j3" and r.exists(q) == 0
    assert r.lrem(done, 0, "j4") == 1 and r.lrange(done, 0, -1) == [b"J0"]
    assert r.ltrim(done, 1, -1) and r.exists(done) == 0
    assert r.lmpop(2, q, done, direction="LEFT") is None
    assert r.type(f"{tag}:nothing") == b"none"
    r.rpush(q, 3, 1, 2)
    assert r.sort(q) == [b"1", b"2", b"3"]
    assert r.sort(q, desc=True, start=0, num=2) == [b"3", b"2"]
    # A blocking pop, served by another client's push.
    assert tuple(r.blpop([q], timeout=1)) == (q.encode(), b"3")
    popped = []
    waiter = threading.Thread(target=lambda: popped.append(r.blpop([done], timeout=10)))
    waiter.start()
    while waiter.is_alive():
        r.rpush(done, "late")
        waiter.join(0.05)
    waiter.join()
    assert popped and popped[0] is not None and popped[0][1] == b"late", popped
    assert r.blpop([f"{tag}:never"], timeout=0.05) is None
    assert r.bzpopmin([f"{tag}:never"], timeout=0.05) is None
    r.delete(q, done)

    # Wrong types answer WRONGTYPE, and nothing changes.
    try:
        r.sadd(h, "m")
        raise AssertionError("SADD on a hash succeeded")
    except redis.ResponseError as e:
        assert str(e).startswith("WRONGTYPE"), e
    assert r.hlen(h) == 2


def algebra(r, tag):
    """Set and sorted-set algebra with keys on both cores (main port only)."""
    a, b, dest, za, zb, zdest = (
        f"{{a}}{tag}:s", f"{{b}}{tag}:s", f"{{c}}{tag}:d",
        f"{{a}}{tag}:z", f"{{b}}{tag}:z", f"{{d}}{tag}:zd",
    )
    r.sadd(a, 1, 2, 3)
    r.sadd(b, 2, 3, 4)
    assert r.sinter([a, b]) == {b"2", b"3"}
    assert r.sunion([a, b]) == {b"1", b"2", b"3", b"4"}
    assert r.sdiff([a, b]) == {b"1"}
    assert r.sinterstore(dest, [a, b]) == 2 and r.smembers(dest) == {b"2", b"3"}
    assert r.smove(a, b, 1) and r.smembers(b) == {b"1", b"2", b"3", b"4"}
    r.zadd(za, {"x": 1, "y": 2})
    r.zadd(zb, {"y": 10, "z": 20})
    assert r.zunionstore(zdest, [za, zb]) == 3
    assert scored(r.zrange(zdest, 0, -1, withscores=True)) == [(b"x", 1.0), (b"y", 12.0), (b"z", 20.0)]
    assert scored(r.zinter([za, zb], withscores=True)) == [(b"y", 12.0)]


def main():
    main_port, core_port = int(sys.argv[1]), int(sys.argv[2])
    for protocol in (2, 3):
        r = redis.Redis(host="127.0.0.1", port=main_port, protocol=protocol)
        exercise(r, f"main{protocol}")
        algebra(r, f"main{protocol}")
        r.close()
    cluster = RedisCluster(host="127.0.0.1", port=core_port)
    exercise(cluster, "{cluster}")
    cluster.close()
    print("redis-py", redis.__version__, "ok")


if __name__ == "__main__":
    main()
