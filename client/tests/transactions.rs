//! `Client::transaction` against a real two-core Kiln server: keys on both
//! cores in one transaction, retried while another client changes a
//! watched key, errors found while queueing, over RESP2 and RESP3.

mod common;

use std::thread;

use common::{TestServer, bulk, key_on_core};
use kiln_client::{Error, Reply};

#[test]
fn a_transaction_spans_cores_and_returns_execs_replies() {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut c = server.client(resp3);
        let (a, b) = (key_on_core("a", 0), key_on_core("b", 1));
        c.cmd(&["SET", &a, "5"]).unwrap();
        let replies = c
            .transaction(&[&a, &b], |tx| {
                let five = tx.get(&a)?;
                assert_eq!(five.as_deref(), Some(&b"5"[..]));
                tx.queue(&["DECRBY", &a, "2"]).queue(&["INCRBY", &b, "2"]);
                tx.queue(&["LPUSH", &a, "not a list"]);
                Ok(())
            })
            .unwrap();
        assert_eq!(replies[0], Reply::Integer(3));
        assert_eq!(replies[1], Reply::Integer(2));
        assert!(matches!(&replies[2], Reply::Error(e) if e.starts_with("WRONGTYPE")));
        c.cmd(&["DEL", &a, &b]).unwrap();
    }
}

#[test]
fn a_changed_watched_key_runs_the_body_again() {
    let server = TestServer::start();
    let mut c = server.client(false);
    let mut other = server.client(false);
    let key = key_on_core("counter", 1);
    c.cmd(&["SET", &key, "0"]).unwrap();
    let mut attempts = 0;
    let replies = c
        .transaction(&[&key], |tx| {
            attempts += 1;
            let now: i64 = String::from_utf8(tx.get(&key)?.unwrap())
                .unwrap()
                .parse()
                .unwrap();
            if attempts == 1 {
                // Another client writes between our read and EXEC.
                other.cmd(&["INCRBY", &key, "100"]).unwrap();
            }
            tx.queue(&["SET", &key, &(now + 1).to_string()]);
            Ok(())
        })
        .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(replies, vec![Reply::status("OK")]);
    assert_eq!(c.cmd(&["GET", &key]).unwrap(), bulk("101"));
}

#[test]
fn concurrent_increments_through_transactions_all_count() {
    let server = TestServer::start();
    let key = key_on_core("shared", 0);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut c = server.client(false);
            let key = key.clone();
            thread::spawn(move || {
                for _ in 0..50 {
                    // Under a loaded machine one thread can lose the race
                    // more times than the helper retries: it then tries
                    // again here. What the test checks is that every
                    // increment that committed counts, once.
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                    loop {
                        let done = c.transaction(&[&key], |tx| {
                            let now = tx.get(&key)?.map_or(0, |v| {
                                String::from_utf8(v).unwrap().parse::<i64>().unwrap()
                            });
                            tx.queue(&["SET", &key, &(now + 1).to_string()]);
                            Ok(())
                        });
                        match done {
                            Ok(_) => break,
                            Err(Error::TransactionAborted(_))
                                if std::time::Instant::now() < deadline => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let mut c = server.client(false);
    assert_eq!(c.cmd(&["GET", &key]).unwrap(), bulk("200"));
}

#[test]
fn a_command_refused_while_queueing_fails_the_transaction() {
    let server = TestServer::start();
    let mut c = server.client(false);
    let key = key_on_core("k", 0);
    let err = c
        .transaction::<&str, _>(&[], |tx| {
            tx.queue(&["SET", &key, "1"]).queue(&["SET", &key]);
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(&err, Error::Server { .. }), "{err}");
    assert_eq!(c.cmd(&["GET", &key]).unwrap(), Reply::Nil, "nothing ran");
    // The connection is usable afterwards, outside any transaction.
    assert_eq!(c.cmd(&["SET", &key, "2"]).unwrap(), Reply::status("OK"));
}

#[test]
fn multi_sent_by_hand_keeps_every_command_on_the_main_connection() {
    let server = TestServer::start();
    let mut c = server.client(false);
    let (a, b) = (key_on_core("ha", 0), key_on_core("hb", 1));
    // Without pinning, SET a would go to core 0's port and SET b to core
    // 1's, away from the connection holding the MULTI.
    assert_eq!(c.cmd(&["WATCH", &a]).unwrap(), Reply::status("OK"));
    assert_eq!(c.cmd(&["MULTI"]).unwrap(), Reply::status("OK"));
    assert_eq!(c.cmd(&["SET", &a, "1"]).unwrap(), Reply::status("QUEUED"));
    assert_eq!(c.cmd(&["SET", &b, "2"]).unwrap(), Reply::status("QUEUED"));
    assert_eq!(
        c.cmd(&["EXEC"]).unwrap(),
        Reply::Array(vec![Reply::status("OK"), Reply::status("OK")])
    );
    assert_eq!(
        c.cmd(&["MGET", &a, &b]).unwrap(),
        Reply::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(c.cmd(&["MULTI"]).unwrap(), Reply::status("OK"));
    assert_eq!(c.cmd(&["INCR", &b]).unwrap(), Reply::status("QUEUED"));
    assert_eq!(c.cmd(&["DISCARD"]).unwrap(), Reply::status("OK"));
    assert_eq!(c.cmd(&["GET", &b]).unwrap(), bulk("2"));
}
