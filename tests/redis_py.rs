//! redis-py (from PyPI; `.ci/run` installs it) against Kiln: hashes, sets
//! and sorted sets end to end, RESP2 and RESP3, on the main port and with
//! its cluster client on the core ports. The checks are in
//! `tests/py/data_types.py`; a wrong answer there fails this test.

mod common;

use std::process::Command;

use common::TestServer;

#[test]
fn redis_py_exercises_the_data_types() {
    let server = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/data_types.py");
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
