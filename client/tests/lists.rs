//! The typed list methods and the blocking pops against a real two-core Kiln
//! server, on a client and in pipelines, over RESP2 and RESP3.
//! The blocking sorted-set pops (`BZPOPMIN`...) are here too: they share
//! the list pops' blocking machinery.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{TestServer, b, bulk, key_on_core};
use kiln_client::{Client, Direction, InsertPosition, LposOptions, MinMax, Reply, zadd};

const PROTOCOLS: [bool; 2] = [false, true];

#[test]
fn lists() {
    let server = TestServer::start();
    for resp3 in PROTOCOLS {
        let mut c = server.client(resp3);
        c.flushall().unwrap();
        let l = key_on_core("l", 1);
        assert_eq!(c.rpush(&l, &["b", "c"]).unwrap(), 2);
        assert_eq!(c.lpush(&l, &["a", "z"]).unwrap(), 4); // z a b c
        assert_eq!(c.lpushx("missing", &["x"]).unwrap(), 0);
        assert_eq!(c.rpushx(&l, &["d"]).unwrap(), 5); // z a b c d
        assert_eq!(c.exists(&["missing"]).unwrap(), 0);
        assert_eq!(c.llen(&l).unwrap(), 5);
        assert_eq!(
            c.lrange(&l, 0, -1).unwrap(),
            [b("z"), b("a"), b("b"), b("c"), b("d")]
        );
        assert_eq!(c.lrange(&l, -2, 10).unwrap(), [b("c"), b("d")]);
        assert_eq!(c.lindex(&l, 1).unwrap(), Some(b("a")));
        assert_eq!(c.lindex(&l, 99).unwrap(), None);
        c.lset(&l, 0, "y").unwrap();
        assert!(c.lset(&l, 99, "y").is_err());
        assert_eq!(c.lpop(&l).unwrap(), Some(b("y")));
        assert_eq!(c.rpop(&l).unwrap(), Some(b("d"))); // a b c
        assert_eq!(c.linsert(&l, InsertPosition::Before, "b", "x").unwrap(), 4); // a x b c
        assert_eq!(c.linsert(&l, InsertPosition::After, "c", "x").unwrap(), 5); // a x b c x
        assert_eq!(
            c.linsert(&l, InsertPosition::After, "nope", "q").unwrap(),
            -1
        );
        assert_eq!(
            c.linsert("missing", InsertPosition::After, "a", "q")
                .unwrap(),
            0
        );
        assert_eq!(c.lpos(&l, "x", &LposOptions::default()).unwrap(), Some(1));
        assert_eq!(
            c.lpos(&l, "x", &LposOptions::default().rank(-1)).unwrap(),
            Some(4)
        );
        assert_eq!(
            c.lpos(&l, "x", &LposOptions::default().maxlen(1)).unwrap(),
            None
        );
        assert_eq!(
            c.lpos_count(&l, "x", 0, &LposOptions::default()).unwrap(),
            [1, 4]
        );
        assert_eq!(
            c.lpos_count(&l, "x", 1, &LposOptions::default().rank(2))
                .unwrap(),
            [4]
        );
        assert_eq!(c.lrem(&l, -1, "x").unwrap(), 1); // a x b c
        c.ltrim(&l, 1, -1).unwrap(); // x b c
        assert_eq!(c.lpop_count(&l, 2).unwrap(), [b("x"), b("b")]);
        assert_eq!(c.rpop_count(&l, 5).unwrap(), [b("c")]);
        assert!(c.lpop_count(&l, 1).unwrap().is_empty());
        assert_eq!(c.lpop(&l).unwrap(), None);

        // Moves, within a core and across cores.
        let (src, same, other) = (
            key_on_core("src", 0),
            key_on_core("dst", 0),
            key_on_core("dst", 1),
        );
        c.rpush(&src, &["1", "2", "3", "4"]).unwrap();
        assert_eq!(
            c.lmove(&src, &same, Direction::Left, Direction::Right)
                .unwrap(),
            Some(b("1"))
        );
        assert_eq!(c.rpoplpush(&src, &same).unwrap(), Some(b("4")));
        assert_eq!(c.lrange(&same, 0, -1).unwrap(), [b("4"), b("1")]);
        assert_eq!(
            c.lmove(&src, &other, Direction::Right, Direction::Left)
                .unwrap(),
            Some(b("3"))
        );
        assert_eq!(
            c.lmove("missing", &other, Direction::Left, Direction::Left)
                .unwrap(),
            None
        );
        assert_eq!(
            c.lmpop(&["missing", &src], Direction::Left, 5).unwrap(),
            Some((b(&src), vec![b("2")]))
        );
        assert_eq!(c.lmpop(&[&src], Direction::Right, 1).unwrap(), None);

        c.set("str", "v").unwrap();
        assert_eq!(
            c.lpush("str", &["x"]).unwrap_err().code(),
            Some("WRONGTYPE")
        );
    }
}

#[test]
fn lists_in_a_pipeline() {
    let server = TestServer::start();
    for resp3 in PROTOCOLS {
        let mut c = server.client(resp3);
        c.flushall().unwrap();
        // One slot: a pipeline is ordered per connection, and a cluster
        // client sends each node its own share (a cross-slot command goes
        // to the main port's connection).
        let (l0, l1) = ("{l}0".to_string(), "{l}1".to_string());
        let replies = c
            .pipeline()
            .rpush(&l0, &["a", "b", "c"])
            .lpush(&l1, &["x"])
            .lrange(&l0, 0, -1)
            .lindex(&l0, -1)
            .linsert(&l0, InsertPosition::Before, "a", "0")
            .lpos(&l0, "c", &LposOptions::default())
            .lmove(&l0, &l1, Direction::Right, Direction::Left)
            .lpop_count(&l0, 2)
            .lmpop(&[&l1], Direction::Left, 1)
            .llen(&l1)
            .query()
            .unwrap();
        assert_eq!(
            replies,
            [
                Reply::Integer(3),
                Reply::Integer(1),
                Reply::Array(vec![bulk("a"), bulk("b"), bulk("c")]),
                bulk("c"),
                Reply::Integer(4),
                Reply::Integer(3),
                bulk("c"),
                Reply::Array(vec![bulk("0"), bulk("a")]),
                Reply::Array(vec![bulk(&l1), Reply::Array(vec![bulk("c")])]),
                Reply::Integer(1),
            ]
        );
    }
}

/// A second client pushes after `delay`, while the first one blocks.
fn push_later(port: u16, key: String, delay: Duration) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(delay);
        let mut c = Client::connect(("127.0.0.1", port)).unwrap();
        c.rpush(&key, &["late"]).unwrap();
    })
}

#[test]
fn blocking_list_pops() {
    let server = TestServer::start();
    for resp3 in PROTOCOLS {
        let mut c = server.client(resp3);
        c.flushall().unwrap();
        let (a, other) = (key_on_core("bl", 0), key_on_core("bl", 1));
        c.rpush(&a, &["1", "2", "3"]).unwrap();
        let second = Duration::from_secs(1);
        assert_eq!(
            c.blpop(&["missing", &a], second).unwrap(),
            Some((b(&a), b("1")))
        );
        assert_eq!(c.brpop(&[&a], second).unwrap(), Some((b(&a), b("3"))));
        assert_eq!(
            c.blmove(&a, &other, Direction::Left, Direction::Right, second)
                .unwrap(),
            Some(b("2"))
        );
        // One blocking pop waits on one core: keys on two are refused.
        assert!(matches!(
            c.blmpop(&[&a, &other], Direction::Left, 3, second),
            Err(kiln_client::Error::Server { code, .. }) if code == "CROSSSLOT"
        ));
        assert_eq!(
            c.lmpop(&[&a, &other], Direction::Left, 3).unwrap(),
            Some((b(&other), vec![b("2")]))
        );

        // Timeouts: nil after about the time asked.
        let start = Instant::now();
        assert_eq!(c.blpop(&[&a], Duration::from_millis(200)).unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert_eq!(
            c.blmove(
                &a,
                &other,
                Direction::Right,
                Direction::Left,
                Duration::from_millis(100)
            )
            .unwrap(),
            None
        );
        assert_eq!(
            c.blmpop(&[&a], Direction::Right, 1, Duration::from_millis(100))
                .unwrap(),
            None
        );

        // Woken by another client's push.
        let pusher = push_later(server.port, a.clone(), Duration::from_millis(200));
        assert_eq!(
            c.brpop(&[&a], Duration::ZERO).unwrap(),
            Some((b(&a), b("late")))
        );
        pusher.join().unwrap();
        // The client is still usable afterwards.
        assert_eq!(c.llen(&a).unwrap(), 0);
    }
}

#[test]
fn blocking_outlives_the_read_timeout() {
    let server = TestServer::start();
    let mut c = Client::builder()
        .read_timeout(Duration::from_millis(200))
        .connect(("127.0.0.1", server.port))
        .unwrap();
    let key = key_on_core("bt", 1);
    // The server waits longer than the read timeout: still a clean nil.
    let start = Instant::now();
    assert_eq!(c.blpop(&[&key], Duration::from_millis(600)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(500));
    // Blocking forever is not cut short by the read timeout either.
    let pusher = push_later(server.port, key.clone(), Duration::from_millis(500));
    assert_eq!(
        c.blpop(&[&key], Duration::ZERO).unwrap(),
        Some((b(&key), b("late")))
    );
    pusher.join().unwrap();
    // Afterwards the read timeout applies again (a clean reply in time).
    assert_eq!(c.llen(&key).unwrap(), 0);
}

#[test]
fn blocking_sorted_set_pops() {
    let server = TestServer::start();
    for resp3 in PROTOCOLS {
        let mut c = server.client(resp3);
        c.flushall().unwrap();
        let z = key_on_core("bz", 0);
        zadd(&z)
            .member(1.0, "a")
            .member(2.0, "b")
            .member(3.5, "c")
            .run(&mut c)
            .unwrap();
        let second = Duration::from_secs(1);
        assert_eq!(
            c.bzpopmin(&["missing", &z], second).unwrap(),
            Some((b(&z), b("a"), 1.0))
        );
        assert_eq!(
            c.bzpopmax(&[&z], second).unwrap(),
            Some((b(&z), b("c"), 3.5))
        );
        assert_eq!(
            c.bzmpop(&[&z], MinMax::Min, 5, second).unwrap(),
            Some((b(&z), vec![(b("b"), 2.0)]))
        );
        assert_eq!(c.bzpopmin(&[&z], Duration::from_millis(100)).unwrap(), None);
        assert_eq!(
            c.bzmpop(&[&z], MinMax::Max, 1, Duration::from_millis(100))
                .unwrap(),
            None
        );
    }
}
