//! Generic key commands as `impl Shard` operations: DEL, EXISTS, TOUCH,
//! TYPE, OBJECT ENCODING, RENAME(NX), COPY, KEYS, RANDOMKEY, and the record
//! moves (`take` / `peek_record` / `put_record`) that cross-core RENAME and
//! COPY are built from.

use bytes::Bytes;
use rand::Rng;

use crate::error::StoreError;
use crate::glob::glob_match;
use crate::numeric::parse_i64;
use crate::record::{Record, Value, copy_out};
use crate::shard::Shard;

/// Redis keeps strings up to this length in one allocation with the object
/// header (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
const EMBSTR_SIZE_LIMIT: usize = 44;

impl Shard {
    /// DEL of one key: whether a live key was removed.
    pub fn del(&mut self, key: &[u8]) -> bool {
        self.remove_live(key).is_some()
    }

    /// EXISTS of one key. Counts as a read for keyspace hits / misses, as in
    /// Redis 7.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.read_index(key).is_some()
    }

    /// TOUCH of one key: whether it exists. There is no LRU clock to update
    /// yet; it counts as a read like in Redis.
    pub fn touch(&mut self, key: &[u8]) -> bool {
        self.read_index(key).is_some()
    }

    /// TYPE: the type name, `None` for a missing key (Redis replies `none`).
    pub fn key_type(&mut self, key: &[u8]) -> Option<&'static str> {
        let idx = self.read_index(key)?;
        Some(self.table[idx].value.type_name())
    }

    /// OBJECT ENCODING with Redis's rule for strings: `int` for a canonical
    /// i64 of at most 20 bytes, `embstr` up to 44 bytes, else `raw`.
    ///
    /// Derived from the value rather than tracked, so unlike Redis a short
    /// value built by APPEND / SETRANGE reports `embstr`, not `raw`.
    pub fn object_encoding(&mut self, key: &[u8]) -> Option<&'static str> {
        let idx = self.read_index(key)?;
        let value = &self.table[idx].value;
        if let Some(name) = value.collection_encoding() {
            return Some(name);
        }
        Some(match value {
            Value::String(v) if parse_i64(v).is_some() => "int",
            Value::String(v) if v.len() <= EMBSTR_SIZE_LIMIT => "embstr",
            _ => "raw",
        })
    }

    /// RENAME / RENAMENX within this shard. The deadline moves with the
    /// value and an existing `dst` is overwritten (unless `only_if_absent`,
    /// then `Ok(false)`). `src == dst` is a no-op: `Ok(true)` for RENAME,
    /// `Ok(false)` for RENAMENX, as Redis replies.
    pub fn rename(
        &mut self,
        src: &[u8],
        dst: &[u8],
        only_if_absent: bool,
    ) -> Result<bool, StoreError> {
        if self.live_index(src).is_none() {
            return Err(StoreError::NoSuchKey);
        }
        if src == dst {
            return Ok(!only_if_absent);
        }
        if let Some(d) = self.live_index(dst) {
            if only_if_absent {
                return Ok(false);
            }
            self.remove_at(d);
        }
        // Looked up again: removing dst may have moved src's slot.
        let record = self.remove_live(src).ok_or(StoreError::NoSuchKey)?;
        self.insert_new(Bytes::copy_from_slice(dst), record);
        Ok(true)
    }

    /// COPY within this shard, deadline included: false if `src` is missing,
    /// if `dst` exists and not `replace`, or if `src == dst` (the command
    /// layer reports that case as an error).
    pub fn copy(&mut self, src: &[u8], dst: &[u8], replace: bool) -> bool {
        if src == dst {
            return false;
        }
        let Some(s) = self.read_index(src) else {
            return false;
        };
        let record = self.table[s].clone();
        self.put_record(dst, record, replace)
    }

    /// Removes and returns a live record.
    pub fn take(&mut self, key: &[u8]) -> Option<Record> {
        self.remove_live(key)
    }

    /// The record stored under `key`, expired or not, without copying it
    /// or touching statistics (the log rebuilds a record from it).
    pub fn stored(&self, key: &[u8]) -> Option<&Record> {
        self.table.get(key)
    }

    /// A clone of a live record (cheap: the value is shared, not copied).
    pub fn peek_record(&mut self, key: &[u8]) -> Option<Record> {
        let idx = self.live_index_untouched(key)?;
        Some(self.table[idx].clone())
    }

    /// Stores a whole record under `key`. Returns false, changing nothing, if
    /// the key exists and not `replace`. A record whose deadline has passed
    /// is written as deleted: the old key, if any, is gone afterwards.
    pub fn put_record(&mut self, key: &[u8], record: Record, replace: bool) -> bool {
        let existing = self.live_index(key);
        if existing.is_some() && !replace {
            return false;
        }
        let dead = record.is_expired_at(self.now_ms);
        match existing {
            Some(idx) if dead => {
                self.remove_at(idx);
            }
            Some(idx) => {
                self.replace_value(idx, record.value);
                self.set_deadline(idx, record.expire_at);
            }
            None if dead => {}
            None => {
                self.insert_new(Bytes::copy_from_slice(key), record);
            }
        }
        true
    }

    /// KEYS: every live key matching the glob `pattern`. Expired keys are
    /// skipped, not reaped, as Redis does (KEYS is a read-only pass).
    pub fn keys(&mut self, pattern: &[u8]) -> Vec<Bytes> {
        let all = pattern == b"*";
        let now = self.now_ms;
        self.table
            .iter()
            .filter(|(k, r)| !r.is_expired_at(now) && (all || glob_match(pattern, k, false)))
            .map(|(k, _)| copy_out(k))
            .collect()
    }

    /// RANDOMKEY: a uniformly chosen live key, `None` when there is none.
    ///
    /// An expired pick is reaped and another is drawn, as Redis does on a
    /// primary. That loop has no fixed bound, but each failed try deletes a
    /// key, so its total cost is paid for by the keys it removes.
    pub fn random_key(&mut self) -> Option<Bytes> {
        loop {
            if self.table.is_empty() {
                return None;
            }
            let idx = self.rng.random_range(0..self.table.len());
            if self.table[idx].is_expired_at(self.now_ms) {
                self.expire_at_index(idx);
                continue;
            }
            return self.table.get_index(idx).map(|(k, _)| copy_out(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::shard::ShardConfig;
    use crate::strings::{SetExpire, SetOptions};

    const NOW: u64 = 50_000;

    fn shard() -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(NOW);
        s
    }

    fn set(s: &mut Shard, k: &str, v: &str) {
        s.set(
            k.as_bytes(),
            Bytes::copy_from_slice(v.as_bytes()),
            SetOptions::default(),
        )
        .unwrap();
    }

    fn set_px(s: &mut Shard, k: &str, v: &str, at: u64) {
        let opts = SetOptions {
            expire: SetExpire::At(at),
            ..SetOptions::default()
        };
        s.set(k.as_bytes(), Bytes::copy_from_slice(v.as_bytes()), opts)
            .unwrap();
    }

    fn deadline(s: &mut Shard, k: &str) -> Option<u64> {
        s.peek_record(k.as_bytes()).and_then(|r| r.expire_at)
    }

    #[test]
    fn del_exists_touch() {
        let mut s = shard();
        assert!(!s.del(b"k"));
        assert!(!s.exists(b"k"));
        assert!(!s.touch(b"k"));
        set(&mut s, "k", "v");
        assert!(s.exists(b"k"));
        assert!(s.touch(b"k"));
        assert!(s.del(b"k"));
        assert!(!s.exists(b"k"));
        assert_eq!(s.stats().keyspace_hits, 2);
        assert_eq!(s.stats().keyspace_misses, 3);
        s.assert_consistent();
    }

    #[test]
    fn del_of_expired_key_reports_nothing_deleted() {
        let mut s = shard();
        set_px(&mut s, "k", "v", NOW + 1);
        s.set_now(NOW + 1);
        assert!(!s.del(b"k"));
        assert_eq!(s.stats().expired_keys, 1);
        assert!(s.is_empty());
    }

    #[test]
    fn type_and_encoding() {
        let mut s = shard();
        assert_eq!(s.key_type(b"k"), None);
        assert_eq!(s.object_encoding(b"k"), None);
        set(&mut s, "k", "v");
        assert_eq!(s.key_type(b"k"), Some("string"));
        let cases = [
            ("12345", "int"),
            ("-9223372036854775808", "int"),
            ("9223372036854775808", "embstr"),
            ("01", "embstr"),
            (" 1", "embstr"),
            ("", "embstr"),
            ("a", "embstr"),
        ];
        for (v, enc) in cases {
            set(&mut s, "k", v);
            assert_eq!(s.object_encoding(b"k"), Some(enc), "{v:?}");
        }
        set(&mut s, "k", &"x".repeat(44));
        assert_eq!(s.object_encoding(b"k"), Some("embstr"));
        set(&mut s, "k", &"x".repeat(45));
        assert_eq!(s.object_encoding(b"k"), Some("raw"));
    }

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut s = shard();
        assert_eq!(s.rename(b"a", b"b", false), Err(StoreError::NoSuchKey));
        assert_eq!(s.rename(b"a", b"a", false), Err(StoreError::NoSuchKey));
        set_px(&mut s, "a", "1", NOW + 100);
        assert_eq!(s.rename(b"a", b"b", false), Ok(true));
        assert!(!s.exists(b"a"));
        assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(deadline(&mut s, "b"), Some(NOW + 100));
        // Overwrites an existing destination and its TTL.
        set(&mut s, "c", "2");
        set_px(&mut s, "d", "3", NOW + 7);
        assert_eq!(s.rename(b"c", b"d", false), Ok(true));
        assert_eq!(s.get(b"d").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(deadline(&mut s, "d"), None);
        assert_eq!(s.len(), 2);
        s.assert_consistent();
    }

    #[test]
    fn renamenx_and_same_key() {
        let mut s = shard();
        set(&mut s, "a", "1");
        set(&mut s, "b", "2");
        assert_eq!(s.rename(b"a", b"b", true), Ok(false));
        assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(s.rename(b"a", b"a", false), Ok(true));
        assert_eq!(s.rename(b"a", b"a", true), Ok(false));
        assert!(s.exists(b"a"));
        // An expired destination counts as absent.
        set_px(&mut s, "x", "9", NOW + 1);
        s.set_now(NOW + 1);
        assert_eq!(s.rename(b"a", b"x", true), Ok(true));
        assert_eq!(s.get(b"x").unwrap().as_deref(), Some(&b"1"[..]));
        s.assert_consistent();
    }

    #[test]
    fn rename_survives_index_moves() {
        // Many keys so that removing dst really relocates src's slot.
        let mut s = shard();
        for i in 0..100 {
            set(&mut s, &format!("k{i}"), &i.to_string());
        }
        assert_eq!(s.rename(b"k99", b"k0", false), Ok(true));
        assert_eq!(s.get(b"k0").unwrap().as_deref(), Some(&b"99"[..]));
        assert_eq!(s.rename(b"k1", b"k98", false), Ok(true));
        assert_eq!(s.get(b"k98").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(s.len(), 98);
        s.assert_consistent();
    }

    #[test]
    fn copy_with_and_without_replace() {
        let mut s = shard();
        assert!(!s.copy(b"a", b"b", false));
        set_px(&mut s, "a", "1", NOW + 10);
        assert!(!s.copy(b"a", b"a", true));
        assert!(s.copy(b"a", b"b", false));
        assert_eq!(deadline(&mut s, "b"), Some(NOW + 10));
        set(&mut s, "c", "3");
        assert!(!s.copy(b"c", b"b", false));
        assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"1"[..]));
        assert!(s.copy(b"c", b"b", true));
        assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(deadline(&mut s, "b"), None);
        // The copy is independent of the source.
        s.append(b"c", b"x").unwrap();
        assert_eq!(s.get(b"b").unwrap().as_deref(), Some(&b"3"[..]));
        s.assert_consistent();
    }

    #[test]
    fn take_peek_put() {
        let mut s = shard();
        assert_eq!(s.take(b"k"), None);
        set_px(&mut s, "k", "v", NOW + 5);
        let peeked = s.peek_record(b"k").unwrap();
        assert_eq!(peeked.expire_at, Some(NOW + 5));
        let taken = s.take(b"k").unwrap();
        assert_eq!(taken, peeked);
        assert!(s.is_empty());
        assert!(s.put_record(b"k2", taken.clone(), false));
        assert!(!s.put_record(b"k2", Record::string(Bytes::from_static(b"z")), false));
        assert_eq!(s.peek_record(b"k2"), Some(taken));
        assert!(s.put_record(b"k2", Record::string(Bytes::from_static(b"z")), true));
        assert_eq!(deadline(&mut s, "k2"), None);
        // A dead record deletes what it replaces.
        let dead = Record {
            value: Value::String(Bytes::from_static(b"d")),
            expire_at: Some(NOW),
            access: 0,
        };
        assert!(s.put_record(b"k2", dead.clone(), true));
        assert!(!s.exists(b"k2"));
        assert!(s.put_record(b"k3", dead, false));
        assert!(!s.exists(b"k3"));
        s.assert_consistent();
    }

    #[test]
    fn keys_filters_and_skips_expired() {
        let mut s = shard();
        for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "other"] {
            set(&mut s, k, "v");
        }
        set(&mut s, "", "empty key");
        set_px(&mut s, "hzllo", "v", NOW + 1);
        let mut got = |p: &str| {
            let mut v: Vec<String> = s
                .keys(p.as_bytes())
                .into_iter()
                .map(|k| String::from_utf8(k.to_vec()).unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(got("h?llo"), ["hallo", "hello", "hxllo", "hzllo"]);
        assert_eq!(
            got("h*llo"),
            ["hallo", "heeeello", "hello", "hllo", "hxllo", "hzllo"]
        );
        assert_eq!(got("h[ae]llo"), ["hallo", "hello"]);
        assert_eq!(got("*").len(), 8, "bare * also lists the empty key");
        s.set_now(NOW + 1);
        let keys = s.keys(b"h?llo");
        assert_eq!(keys.len(), 3);
        assert_eq!(s.len(), 8, "KEYS does not reap");
    }

    #[test]
    fn random_key_is_uniform_and_skips_expired() {
        let mut s = shard();
        assert_eq!(s.random_key(), None);
        for i in 0..4 {
            set(&mut s, &format!("k{i}"), "v");
        }
        for i in 0..100 {
            set_px(&mut s, &format!("dead{i}"), "v", NOW + 1);
        }
        s.set_now(NOW + 1);
        let mut seen: HashMap<Bytes, u32> = HashMap::new();
        for _ in 0..4000 {
            *seen.entry(s.random_key().unwrap()).or_default() += 1;
        }
        assert_eq!(seen.len(), 4, "only live keys: {seen:?}");
        for (k, n) in &seen {
            assert!((700..1300).contains(n), "{k:?} drawn {n} times of 4000");
        }
        s.assert_consistent();
        // All expired: reaped to empty, then None.
        let mut s = shard();
        set_px(&mut s, "a", "v", NOW + 1);
        s.set_now(NOW + 2);
        assert_eq!(s.random_key(), None);
        assert!(s.is_empty());
    }
}
