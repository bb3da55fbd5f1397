use kiln_net::Reply;

use crate::commands::testbed::TestBed;

const LIB: &str = "#!js name=lib\n\
    kiln.registerFunction('put', (keys, args) => { kiln.put(keys[0], args[0]); return kiln.getString(keys[0]); });\n\
    kiln.registerFunction('ro', () => 1, { flags: ['no-writes'] });\n\
    kiln.registerFunction('call', (keys, args) => kiln.call(...args));";

fn err(text: &str) -> Reply {
    Reply::error_owned(text.to_owned())
}

fn loaded() -> TestBed {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["FUNCTION", "LOAD", LIB]), Reply::bulk_from("lib"));
    bed
}

#[test]
fn load_options() {
    let mut bed = loaded();
    assert_eq!(
        bed.run(&["FUNCTION", "LOAD", "replace", LIB]),
        Reply::bulk_from("lib")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "LOAD", "REPLACE", "REPLACE", LIB]),
        Reply::bulk_from("lib")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "LOAD", "NOW", LIB]),
        err("ERR Unknown option given: NOW")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "LOAD"]),
        err("ERR wrong number of arguments for 'function|load' command")
    );
}

#[test]
fn list_flush_restore_syntax() {
    let mut bed = loaded();
    assert_eq!(
        bed.run(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]),
        err("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"]),
        err("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "FLUSH", "SYNC", "ASYNC"]),
        err("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["FUNCTION", "RESTORE", "x", "APPEND", "more"]),
        err("ERR syntax error")
    );
    assert!(bed.run(&["FUNCTION", "NOPE"]).is_error());
    assert_eq!(bed.run(&["FUNCTION", "FLUSH", "sync"]), Reply::OK);
    assert_eq!(bed.run(&["FUNCTION", "LIST"]), Reply::Array(vec![]));
}

#[test]
fn fcall_numkeys_and_names() {
    let mut bed = loaded();
    assert_eq!(
        bed.run(&["FCALL", "nope", "x"]),
        err("ERR Function not found")
    );
    assert_eq!(
        bed.run(&["FCALL", "put", "1.5", "k"]),
        err("ERR Bad number of keys provided")
    );
    assert_eq!(
        bed.run(&["FCALL", "put", "2", "k"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        bed.run(&["FCALL", "put", "-2"]),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(bed.run(&["FCALL_RO", "ro", "0"]), Reply::Integer(1));
}

#[test]
fn functions_reach_only_this_cores_keys_and_data_commands() {
    let mut bed = loaded();
    let (mine, theirs) = crate::shared::tests_support::keys_on_cores(&bed.shared);
    assert_eq!(
        bed.run(&["FCALL", "put", "1", &mine, "v"]),
        Reply::bulk_from("v")
    );
    let Reply::Error(e) = bed.run(&["FCALL", "put", "1", &theirs, "v"]) else {
        panic!("cross-core write")
    };
    assert!(e.starts_with("CROSSSLOT"), "{e}");
    assert_eq!(
        bed.run(&["FCALL", "call", "0", "GET", &mine]),
        Reply::bulk_from("v")
    );
    assert!(
        matches!(bed.run(&["FCALL", "call", "0", "GET", &theirs]), Reply::Error(e) if e.starts_with("CROSSSLOT"))
    );
    for blocked in [
        &["CONFIG", "SET", "maxmemory", "1"][..],
        &["KEYS", "*"],
        &["FUNCTION", "FLUSH"],
        &["CLIENT", "LIST"],
    ] {
        let mut args = vec!["FCALL", "call", "0"];
        args.extend_from_slice(blocked);
        assert_eq!(
            bed.run(&args),
            err("ERR This command is not allowed from storage functions"),
            "{blocked:?}"
        );
    }
    assert_eq!(
        bed.run(&["FCALL", "call", "0", "GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
}

#[test]
fn stats_count_the_tenants_libraries() {
    let mut bed = loaded();
    let Reply::Map(stats) = bed.run(&["FUNCTION", "STATS"]) else {
        panic!("stats")
    };
    let engines = &stats[1].1;
    let Reply::Map(engines) = engines else {
        panic!("engines")
    };
    let Reply::Map(js) = &engines[0].1 else {
        panic!("js")
    };
    assert_eq!(js[0].1, Reply::Integer(1));
    assert_eq!(js[1].1, Reply::Integer(3));
}

#[test]
fn over_maxmemory_functions_may_delete_but_not_grow() {
    let mut bed = loaded();
    let code = "#!js name=del\nkiln.registerFunction('del', (keys) => kiln.del(keys[0]));";
    assert_eq!(
        bed.run(&["FUNCTION", "LOAD", code]),
        Reply::bulk_from("del")
    );
    let (mine, _) = crate::shared::tests_support::keys_on_cores(&bed.shared);
    assert_eq!(
        bed.run(&["FCALL", "put", "1", &mine, "v"]),
        Reply::bulk_from("v")
    );
    assert_eq!(bed.run(&["CONFIG", "SET", "maxmemory", "1"]), Reply::OK);
    bed.shared.memory[0].store(1 << 20, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        bed.run(&["FCALL", "put", "1", &mine, "w"]),
        err("OOM command not allowed when used memory > 'maxmemory'.")
    );
    assert_eq!(bed.run(&["FCALL", "del", "1", &mine]), Reply::Integer(1));
}
