//! redis-py (from PyPI; `.ci/run` installs it) against Kiln: hashes, sets
//! and sorted sets end to end, RESP2 and RESP3, on the main port and with
//! its cluster client on the core ports (`tests/py/data_types.py`); pub/sub
//! and transactions (`tests/py/pubsub_tx.py`). A wrong answer there fails
//! the test.

mod common;

use std::process::Command;

use common::TestServer;

#[test]
fn redis_py_exercises_the_data_types() {
    run(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/data_types.py"
    ));
}

#[test]
fn redis_py_subscribes_publishes_and_runs_transactions() {
    run(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/pubsub_tx.py"
    ));
}

/// Runs a redis-py script against a fresh server (main port, then core 0's).
fn run(script: &str) {
    let server = TestServer::start();
    let output = Command::new("python3")
        .arg(script)
        .arg(server.addr.port().to_string())
        .arg(server.core_addrs[0].port().to_string())
        .output()
        .expect("python3 runs (.ci/run installs redis-py)");
    assert!(
        output.status.success(),
        "redis-py script failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
