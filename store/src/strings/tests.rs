use bytes::Bytes;

use super::*;
use crate::record::COPY_OUT_MAX;
use crate::shard::ShardConfig;

const NOW: u64 = 1_000_000;

fn shard() -> Shard {
    let mut s = Shard::new(ShardConfig::default());
    s.set_now(NOW);
    s
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn set(s: &mut Shard, k: &str, v: &str) {
    assert!(
        s.set(k.as_bytes(), b(v), SetOptions::default())
            .unwrap()
            .written
    );
}

fn get(s: &mut Shard, k: &str) -> Option<String> {
    s.get(k.as_bytes())
        .unwrap()
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn opts(condition: SetCondition, expire: SetExpire, get: bool) -> SetOptions {
    SetOptions {
        condition,
        expire,
        get,
    }
}

#[test]
fn get_set_roundtrip_and_stats() {
    let mut s = shard();
    assert_eq!(get(&mut s, "k"), None);
    set(&mut s, "k", "v");
    assert_eq!(get(&mut s, "k").as_deref(), Some("v"));
    assert_eq!(s.stats().keyspace_hits, 1);
    assert_eq!(s.stats().keyspace_misses, 1);
    s.assert_consistent();
}

#[test]
fn set_stores_the_given_bytes_without_copying() {
    let mut s = shard();
    let v = Bytes::from(vec![7u8; COPY_OUT_MAX + 1]);
    let ptr = v.as_ptr();
    s.set(b"k", v, SetOptions::default()).unwrap();
    assert_eq!(s.get(b"k").unwrap().unwrap().as_ptr(), ptr);
}

#[test]
fn small_values_leave_as_copies() {
    // Sharing a small stored vector would give it a lasting refcount header
    // on first read; a copy costs the same and leaves the record as it was.
    let mut s = shard();
    let v = Bytes::from(vec![7u8; COPY_OUT_MAX]);
    let ptr = v.as_ptr();
    s.set(b"k", v, SetOptions::default()).unwrap();
    let got = s.get(b"k").unwrap().unwrap();
    assert_eq!(&got[..], &[7u8; COPY_OUT_MAX][..]);
    assert_ne!(got.as_ptr(), ptr);
}

#[test]
fn set_nx_xx() {
    let mut s = shard();
    let nx = opts(SetCondition::IfAbsent, SetExpire::Clear, false);
    let xx = opts(SetCondition::IfPresent, SetExpire::Clear, false);
    assert!(!s.set(b"k", b("1"), xx).unwrap().written);
    assert_eq!(get(&mut s, "k"), None);
    assert!(s.set(b"k", b("1"), nx).unwrap().written);
    assert!(!s.set(b"k", b("2"), nx).unwrap().written);
    assert_eq!(get(&mut s, "k").as_deref(), Some("1"));
    assert!(s.set(b"k", b("3"), xx).unwrap().written);
    assert_eq!(get(&mut s, "k").as_deref(), Some("3"));
}

#[test]
fn set_get_returns_old_value_even_when_blocked() {
    let mut s = shard();
    let out = s
        .set(
            b"k",
            b("1"),
            opts(SetCondition::Always, SetExpire::Clear, true),
        )
        .unwrap();
    assert_eq!(
        out,
        SetOutcome {
            written: true,
            old: None
        }
    );
    let out = s
        .set(
            b"k",
            b("2"),
            opts(SetCondition::Always, SetExpire::Clear, true),
        )
        .unwrap();
    assert_eq!(
        out,
        SetOutcome {
            written: true,
            old: Some(b("1"))
        }
    );
    // Redis 7: SET k v NX GET replies with the old value and does not write.
    let out = s
        .set(
            b"k",
            b("3"),
            opts(SetCondition::IfAbsent, SetExpire::Clear, true),
        )
        .unwrap();
    assert_eq!(
        out,
        SetOutcome {
            written: false,
            old: Some(b("2"))
        }
    );
    let out = s
        .set(
            b"x",
            b("3"),
            opts(SetCondition::IfPresent, SetExpire::Clear, true),
        )
        .unwrap();
    assert_eq!(
        out,
        SetOutcome {
            written: false,
            old: None
        }
    );
    // Without GET, old is never filled.
    let out = s.set(b"k", b("4"), SetOptions::default()).unwrap();
    assert_eq!(out.old, None);
}

#[test]
fn set_ttl_clear_keep_and_at() {
    let mut s = shard();
    s.set(
        b"k",
        b("1"),
        opts(SetCondition::Always, SetExpire::At(NOW + 100), false),
    )
    .unwrap();
    assert_eq!(s.volatile_len(), 1);
    s.set(
        b"k",
        b("2"),
        opts(SetCondition::Always, SetExpire::Keep, false),
    )
    .unwrap();
    assert_eq!(
        s.table[s.table.get_index_of(&b"k"[..]).unwrap()].expire_at,
        Some(NOW + 100)
    );
    // Plain SET drops the TTL.
    s.set(b"k", b("3"), SetOptions::default()).unwrap();
    assert_eq!(s.volatile_len(), 0);
    // KEEPTTL on a key without one, and on a new key.
    s.set(
        b"k",
        b("4"),
        opts(SetCondition::Always, SetExpire::Keep, false),
    )
    .unwrap();
    s.set(
        b"n",
        b("4"),
        opts(SetCondition::Always, SetExpire::Keep, false),
    )
    .unwrap();
    assert_eq!(s.volatile_len(), 0);
    s.assert_consistent();
}

#[test]
fn set_with_past_deadline_writes_a_dead_key() {
    let mut s = shard();
    set(&mut s, "k", "old");
    let out = s
        .set(
            b"k",
            b("new"),
            opts(SetCondition::Always, SetExpire::At(NOW), true),
        )
        .unwrap();
    assert_eq!(
        out,
        SetOutcome {
            written: true,
            old: Some(b("old"))
        }
    );
    assert_eq!(get(&mut s, "k"), None);
    assert_eq!(s.len(), 0);
    let out = s
        .set(
            b"m",
            b("new"),
            opts(SetCondition::Always, SetExpire::At(1), false),
        )
        .unwrap();
    assert!(out.written);
    assert_eq!(s.len(), 0);
    s.assert_consistent();
}

#[test]
fn values_expire_lazily_on_the_cached_clock() {
    let mut s = shard();
    s.set(
        b"k",
        b("v"),
        opts(SetCondition::Always, SetExpire::At(NOW + 10), false),
    )
    .unwrap();
    s.set_now(NOW + 9);
    assert_eq!(get(&mut s, "k").as_deref(), Some("v"));
    s.set_now(NOW + 10);
    assert_eq!(get(&mut s, "k"), None);
    assert_eq!(s.stats().expired_keys, 1);
    // NX sees an expired key as absent.
    s.set(
        b"j",
        b("v"),
        opts(SetCondition::Always, SetExpire::At(NOW + 20), false),
    )
    .unwrap();
    s.set_now(NOW + 30);
    assert!(
        s.set(
            b"j",
            b("w"),
            opts(SetCondition::IfAbsent, SetExpire::Clear, false)
        )
        .unwrap()
        .written
    );
    s.assert_consistent();
}

#[test]
fn getdel() {
    let mut s = shard();
    assert_eq!(s.get_del(b"k").unwrap(), None);
    set(&mut s, "k", "v");
    assert_eq!(s.get_del(b"k").unwrap(), Some(b("v")));
    assert_eq!(s.len(), 0);
    assert_eq!(s.get_del(b"k").unwrap(), None);
    s.assert_consistent();
}

#[test]
fn getex_changes_deadline() {
    let mut s = shard();
    assert_eq!(s.get_ex(b"k", ExpireUpdate::Persist).unwrap(), None);
    set(&mut s, "k", "v");
    assert_eq!(
        s.get_ex(b"k", ExpireUpdate::At(NOW + 50)).unwrap(),
        Some(b("v"))
    );
    assert_eq!(s.volatile_len(), 1);
    assert_eq!(
        s.get_ex(b"k", ExpireUpdate::Unchanged).unwrap(),
        Some(b("v"))
    );
    assert_eq!(s.volatile_len(), 1);
    assert_eq!(s.get_ex(b"k", ExpireUpdate::Persist).unwrap(), Some(b("v")));
    assert_eq!(s.volatile_len(), 0);
    // A past deadline deletes but still returns the value.
    assert_eq!(
        s.get_ex(b"k", ExpireUpdate::At(NOW - 1)).unwrap(),
        Some(b("v"))
    );
    assert_eq!(s.len(), 0);
    s.assert_consistent();
}

#[test]
fn append_creates_and_extends() {
    let mut s = shard();
    assert_eq!(s.append(b"k", b"Hello").unwrap(), 5);
    assert_eq!(s.append(b"k", b" World").unwrap(), 11);
    assert_eq!(get(&mut s, "k").as_deref(), Some("Hello World"));
    assert_eq!(s.append(b"k", b"").unwrap(), 11);
    assert_eq!(s.append(b"e", b"").unwrap(), 0);
    assert!(s.exists(b"e"), "APPEND of nothing still creates the key");
    s.assert_consistent();
}

#[test]
fn append_keeps_ttl() {
    let mut s = shard();
    s.set(
        b"k",
        b("a"),
        opts(SetCondition::Always, SetExpire::At(NOW + 5), false),
    )
    .unwrap();
    s.append(b"k", b"b").unwrap();
    assert_eq!(s.volatile_len(), 1);
}

#[test]
fn append_reuses_the_buffer_when_unshared() {
    let mut s = shard();
    // Large enough that get() shares rather than copies, so its pointer
    // shows where the stored buffer lives.
    s.append(b"k", &[b'x'; COPY_OUT_MAX + 1]).unwrap();
    let mut last = s.get(b"k").unwrap().unwrap().as_ptr();
    let mut moves = 0;
    for _ in 0..1000 {
        s.append(b"k", b"z").unwrap();
        // The clone from get() is dropped at once, so the shard is again the
        // only owner at the next append.
        let p = s.get(b"k").unwrap().unwrap().as_ptr();
        if p != last {
            moves += 1;
            last = p;
        }
    }
    assert_eq!(s.strlen(b"k").unwrap(), COPY_OUT_MAX + 1001);
    // Doubling growth: about log2(1001) moves, never one per append.
    assert!(moves <= 12, "{moves} reallocations for 1000 appends");
}

#[test]
fn append_to_a_shared_value_does_not_change_the_reader() {
    let mut s = shard();
    set(&mut s, "k", "abc");
    let held = s.get(b"k").unwrap().unwrap();
    s.append(b"k", b"def").unwrap();
    assert_eq!(&held[..], b"abc");
    assert_eq!(get(&mut s, "k").as_deref(), Some("abcdef"));
}

#[test]
fn append_and_setrange_respect_max_len() {
    let mut s = Shard::new(ShardConfig {
        max_value_len: 10,
        ..ShardConfig::default()
    });
    s.set_now(NOW);
    assert_eq!(s.append(b"k", b"12345").unwrap(), 5);
    assert_eq!(s.append(b"k", b"67890").unwrap(), 10);
    assert_eq!(s.append(b"k", b"x"), Err(StoreError::TooLarge));
    assert_eq!(s.append(b"n", &[0; 11]), Err(StoreError::TooLarge));
    assert_eq!(s.set_range(b"n", 10, b"x"), Err(StoreError::TooLarge));
    assert_eq!(s.set_range(b"n", 9, b"x").unwrap(), 10);
    // Huge offsets fail before any allocation, without overflow.
    assert_eq!(
        s.set_range(b"n", usize::MAX, b"x"),
        Err(StoreError::TooLarge)
    );
    let mut big = shard();
    assert_eq!(
        big.set_range(b"k", 512 * 1024 * 1024, b"x"),
        Err(StoreError::TooLarge)
    );
    assert_eq!(get(&mut s, "k").as_deref(), Some("1234567890"));
    s.assert_consistent();
}

#[test]
fn strlen() {
    let mut s = shard();
    assert_eq!(s.strlen(b"k").unwrap(), 0);
    set(&mut s, "k", "Hello world");
    assert_eq!(s.strlen(b"k").unwrap(), 11);
}

#[test]
fn getrange_like_redis_docs() {
    let mut s = shard();
    set(&mut s, "mykey", "This is a string");
    let r = |s: &mut Shard, a, z| {
        String::from_utf8(s.get_range(b"mykey", a, z).unwrap().to_vec()).unwrap()
    };
    assert_eq!(r(&mut s, 0, 3), "This");
    assert_eq!(r(&mut s, -3, -1), "ing");
    assert_eq!(r(&mut s, 0, -1), "This is a string");
    assert_eq!(r(&mut s, 10, 100), "string");
    assert_eq!(r(&mut s, 5, 3), "");
    assert_eq!(r(&mut s, -1, -5), "");
    // Redis 7 clamps a too-negative end to 0.
    assert_eq!(r(&mut s, 0, -100), "T");
    assert_eq!(r(&mut s, -100, 3), "This");
    assert_eq!(r(&mut s, 100, 200), "");
    assert_eq!(r(&mut s, i64::MIN, i64::MAX), "This is a string");
    assert_eq!(r(&mut s, i64::MAX, i64::MIN), "");
    assert_eq!(r(&mut s, i64::MIN, -1), "This is a string");
    assert_eq!(s.get_range(b"missing", 0, -1).unwrap(), Bytes::new());
    set(&mut s, "empty", "");
    assert_eq!(s.get_range(b"empty", 0, -1).unwrap(), Bytes::new());
}

#[test]
fn getrange_is_a_zero_copy_slice() {
    let mut s = shard();
    let digits: String = (0..2 * COPY_OUT_MAX)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    set(&mut s, "k", &digits);
    let whole = s.get(b"k").unwrap().unwrap();
    let part = s.get_range(b"k", 3, -1).unwrap();
    assert_eq!(&part[..3], b"345");
    assert_eq!(part.as_ptr(), whole[3..].as_ptr());
    // A short range is copied out.
    assert_eq!(&s.get_range(b"k", 3, 5).unwrap()[..], b"345");
}

#[test]
fn setrange_like_redis_docs() {
    let mut s = shard();
    set(&mut s, "key1", "Hello World");
    assert_eq!(s.set_range(b"key1", 6, b"Redis").unwrap(), 11);
    assert_eq!(get(&mut s, "key1").as_deref(), Some("Hello Redis"));
    // Zero padding on a missing key.
    assert_eq!(s.set_range(b"key2", 6, b"Redis").unwrap(), 11);
    assert_eq!(get(&mut s, "key2").as_deref(), Some("\0\0\0\0\0\0Redis"));
    // Padding past the end of an existing value.
    set(&mut s, "k3", "ab");
    assert_eq!(s.set_range(b"k3", 4, b"c").unwrap(), 5);
    assert_eq!(get(&mut s, "k3").as_deref(), Some("ab\0\0c"));
    // Writing inside keeps the length.
    assert_eq!(s.set_range(b"k3", 0, b"X").unwrap(), 5);
    assert_eq!(get(&mut s, "k3").as_deref(), Some("Xb\0\0c"));
    s.assert_consistent();
}

#[test]
fn setrange_with_empty_data() {
    let mut s = shard();
    assert_eq!(s.set_range(b"k", 100, b"").unwrap(), 0);
    assert!(!s.exists(b"k"), "no key is created");
    // Even an offset past the limit is fine when nothing is written.
    assert_eq!(s.set_range(b"k", usize::MAX, b"").unwrap(), 0);
    set(&mut s, "k", "abc");
    assert_eq!(s.set_range(b"k", 100, b"").unwrap(), 3);
    assert_eq!(get(&mut s, "k").as_deref(), Some("abc"));
}

#[test]
fn setrange_keeps_ttl_and_does_not_disturb_readers() {
    let mut s = shard();
    s.set(
        b"k",
        b("hello"),
        opts(SetCondition::Always, SetExpire::At(NOW + 5), false),
    )
    .unwrap();
    let held = s.get(b"k").unwrap().unwrap();
    s.set_range(b"k", 0, b"J").unwrap();
    assert_eq!(&held[..], b"hello");
    assert_eq!(get(&mut s, "k").as_deref(), Some("Jello"));
    assert_eq!(s.volatile_len(), 1);
}

#[test]
fn incr_by_basics() {
    let mut s = shard();
    assert_eq!(s.incr_by(b"n", 1).unwrap(), 1);
    assert_eq!(s.incr_by(b"n", 10).unwrap(), 11);
    assert_eq!(s.incr_by(b"n", -20).unwrap(), -9);
    assert_eq!(get(&mut s, "n").as_deref(), Some("-9"));
    set(&mut s, "m", "10");
    assert_eq!(s.incr_by(b"m", 5).unwrap(), 15);
    s.assert_consistent();
}

#[test]
fn incr_rejects_non_canonical_integers() {
    let mut s = shard();
    for v in [
        "  1",
        "1 ",
        " 1",
        "+1",
        "01",
        "1.0",
        "abc",
        "",
        "-0",
        "123456789012345678901",
    ] {
        set(&mut s, "k", v);
        assert_eq!(s.incr_by(b"k", 1), Err(StoreError::NotInteger), "{v:?}");
        assert_eq!(get(&mut s, "k").as_deref(), Some(v), "value untouched");
    }
}

#[test]
fn incr_overflow() {
    let mut s = shard();
    set(&mut s, "k", "9223372036854775807");
    assert_eq!(s.incr_by(b"k", 1), Err(StoreError::Overflow));
    set(&mut s, "k", "-9223372036854775808");
    assert_eq!(s.incr_by(b"k", -1), Err(StoreError::Overflow));
    assert_eq!(s.incr_by(b"k", i64::MAX).unwrap(), -1);
    set(&mut s, "k", "9223372036854775808");
    assert_eq!(s.incr_by(b"k", 1), Err(StoreError::NotInteger));
}

#[test]
fn incr_keeps_ttl() {
    let mut s = shard();
    s.set(
        b"k",
        b("1"),
        opts(SetCondition::Always, SetExpire::At(NOW + 5), false),
    )
    .unwrap();
    s.incr_by(b"k", 1).unwrap();
    assert_eq!(s.volatile_len(), 1);
    s.incr_by_float(b"k", 0.5).unwrap();
    assert_eq!(s.volatile_len(), 1);
    s.set_now(NOW + 5);
    assert_eq!(get(&mut s, "k"), None);
}

#[test]
fn incr_by_float_like_redis_docs() {
    let mut s = shard();
    set(&mut s, "mykey", "10.50");
    assert_eq!(s.incr_by_float(b"mykey", 0.1).unwrap(), b("10.6"));
    assert_eq!(s.incr_by_float(b"mykey", -5.0).unwrap(), b("5.6"));
    set(&mut s, "mykey", "5.0e3");
    assert_eq!(s.incr_by_float(b"mykey", 2.0e2).unwrap(), b("5200"));
    assert_eq!(get(&mut s, "mykey").as_deref(), Some("5200"));
    assert_eq!(s.incr_by_float(b"new", 1.5).unwrap(), b("1.5"));
    assert_eq!(s.incr_by_float(b"new", -1.5).unwrap(), b("0"));
    s.assert_consistent();
}

#[test]
fn incr_by_float_errors() {
    let mut s = shard();
    set(&mut s, "k", "abc");
    assert_eq!(s.incr_by_float(b"k", 1.0), Err(StoreError::NotFloat));
    set(&mut s, "k", " 1");
    assert_eq!(s.incr_by_float(b"k", 1.0), Err(StoreError::NotFloat));
    set(&mut s, "k", "1.7976931348623157e308");
    assert_eq!(
        s.incr_by_float(b"k", 1.7976931348623157e308),
        Err(StoreError::NanOrInfinity)
    );
    set(&mut s, "k", "1");
    assert_eq!(
        s.incr_by_float(b"k", f64::INFINITY),
        Err(StoreError::NanOrInfinity)
    );
    assert_eq!(
        s.incr_by_float(b"k", f64::NAN),
        Err(StoreError::NanOrInfinity)
    );
    assert_eq!(get(&mut s, "k").as_deref(), Some("1"));
}

#[test]
fn get_shared_lends_the_stored_buffer_even_when_small() {
    let mut s = shard();
    let value = b("tiny");
    s.set(b"k", value.clone(), SetOptions::default()).unwrap();
    let shared = s.get_shared(b"k").unwrap().unwrap();
    assert_eq!(shared.as_ptr(), value.as_ptr());
    assert_eq!(s.get_shared(b"missing").unwrap(), None);
    s.incr_by(b"n", 1).unwrap();
    assert_eq!(s.get_shared(b"n").unwrap().unwrap(), b("1"));
}
