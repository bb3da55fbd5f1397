//! Random operation sequences checked two ways: the shard's incremental
//! bookkeeping (memory, volatile index) against a from-scratch recount after
//! every step, and its answers against a plain `HashMap` model of Redis.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;

use crate::expire::ExpireCondition;
use crate::record::{Record, Value};
use crate::shard::{Shard, ShardConfig};
use crate::strings::{SetCondition, SetExpire, SetOptions};

const START: u64 = 1_000;

#[derive(Debug, Clone)]
enum ModelOp {
    Set(u8, Vec<u8>, Option<u64>, bool),
    Get(u8),
    Append(u8, Vec<u8>),
    SetRange(u8, usize, Vec<u8>),
    Incr(u8, i64),
    Del(u8),
    Expire(u8, u64),
    Persist(u8),
    Rename(u8, u8),
    Copy(u8, u8, bool),
    TakePut(u8, u8),
    GetDel(u8),
    Tick(u64),
    ActiveExpire(usize),
    RandomKey,
    Scan(usize),
    Flush,
}

fn op() -> impl Strategy<Value = ModelOp> {
    let k = 0u8..12;
    let val = proptest::collection::vec(any::<u8>(), 0..24);
    prop_oneof![
        6 => (k.clone(), val.clone(), proptest::option::of(0u64..20), any::<bool>())
            .prop_map(|(k, v, t, keep)| ModelOp::Set(k, v, t, keep)),
        4 => k.clone().prop_map(ModelOp::Get),
        3 => (k.clone(), val.clone()).prop_map(|(k, v)| ModelOp::Append(k, v)),
        2 => (k.clone(), 0usize..40, val).prop_map(|(k, o, v)| ModelOp::SetRange(k, o, v)),
        2 => (k.clone(), -5i64..5).prop_map(|(k, d)| ModelOp::Incr(k, d)),
        2 => k.clone().prop_map(ModelOp::Del),
        2 => (k.clone(), 0u64..20).prop_map(|(k, t)| ModelOp::Expire(k, t)),
        1 => k.clone().prop_map(ModelOp::Persist),
        2 => (k.clone(), k.clone()).prop_map(|(a, b)| ModelOp::Rename(a, b)),
        2 => (k.clone(), k.clone(), any::<bool>()).prop_map(|(a, b, r)| ModelOp::Copy(a, b, r)),
        1 => (k.clone(), k.clone()).prop_map(|(a, b)| ModelOp::TakePut(a, b)),
        1 => k.prop_map(ModelOp::GetDel),
        3 => (0u64..6).prop_map(ModelOp::Tick),
        1 => (0usize..40).prop_map(ModelOp::ActiveExpire),
        1 => Just(ModelOp::RandomKey),
        1 => (1usize..5).prop_map(ModelOp::Scan),
        1 => Just(ModelOp::Flush),
    ]
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k]
}

/// The reference: key -> (value, deadline), consulted with the same clock.
#[derive(Default)]
struct Model {
    now: u64,
    map: HashMap<Vec<u8>, (Vec<u8>, Option<u64>)>,
}

impl Model {
    fn live(&mut self, k: &[u8]) -> Option<&mut (Vec<u8>, Option<u64>)> {
        let now = self.now;
        if matches!(self.map.get(k), Some((_, Some(t))) if *t <= now) {
            self.map.remove(k);
        }
        self.map.get_mut(k)
    }
}

fn check(s: &mut Shard, m: &mut Model, op: &ModelOp) {
    match op {
        ModelOp::Set(k, v, ttl, keep) => {
            let k = key(*k);
            let expire = match (ttl, keep) {
                (Some(t), _) => SetExpire::At(m.now + t),
                (None, true) => SetExpire::Keep,
                (None, false) => SetExpire::Clear,
            };
            let opts = SetOptions {
                condition: SetCondition::Always,
                expire,
                get: true,
            };
            let old = m.live(&k).map(|e| e.0.clone());
            let kept = m.live(&k).and_then(|e| e.1);
            let out = s.set(&k, Bytes::from(v.clone()), opts).unwrap();
            assert_eq!(out.old.map(|b| b.to_vec()), old);
            let deadline = match expire {
                SetExpire::At(t) => Some(t),
                SetExpire::Keep => kept,
                SetExpire::Clear => None,
            };
            m.map.insert(k, (v.clone(), deadline));
        }
        ModelOp::Get(k) => {
            let k = key(*k);
            assert_eq!(
                s.get(&k).unwrap().map(|b| b.to_vec()),
                m.live(&k).map(|e| e.0.clone())
            );
        }
        ModelOp::Append(k, v) => {
            let k = key(*k);
            let e = m.live(&k).map(|e| e.0.clone());
            let mut new = e.unwrap_or_default();
            new.extend_from_slice(v);
            assert_eq!(s.append(&k, v).unwrap(), new.len());
            let ttl = m.live(&k).and_then(|e| e.1);
            m.map.insert(k, (new, ttl));
        }
        ModelOp::SetRange(k, off, v) => {
            let k = key(*k);
            let cur = m.live(&k).map(|e| e.0.clone());
            let got = s.set_range(&k, *off, v).unwrap();
            if v.is_empty() {
                assert_eq!(got, cur.map_or(0, |c| c.len()));
            } else {
                let mut new = cur.unwrap_or_default();
                if new.len() < off + v.len() {
                    new.resize(off + v.len(), 0);
                }
                new[*off..off + v.len()].copy_from_slice(v);
                assert_eq!(got, new.len());
                let ttl = m.live(&k).and_then(|e| e.1);
                m.map.insert(k, (new, ttl));
            }
        }
        ModelOp::Incr(k, d) => {
            let k = key(*k);
            let cur = m.live(&k).map(|e| e.0.clone());
            let parsed = match &cur {
                None => Some(0i64),
                Some(v) => crate::numeric::parse_i64(v),
            };
            match parsed.and_then(|n| n.checked_add(*d)) {
                Some(n) => {
                    assert_eq!(s.incr_by(&k, *d), Ok(n));
                    let ttl = m.live(&k).and_then(|e| e.1);
                    m.map.insert(k, (n.to_string().into_bytes(), ttl));
                }
                None => assert!(s.incr_by(&k, *d).is_err()),
            }
        }
        ModelOp::Del(k) => {
            let k = key(*k);
            let had = m.live(&k).is_some();
            m.map.remove(&k);
            assert_eq!(s.del(&k), had);
        }
        ModelOp::GetDel(k) => {
            let k = key(*k);
            let had = m.live(&k).map(|e| e.0.clone());
            m.map.remove(&k);
            assert_eq!(s.get_del(&k).unwrap().map(|b| b.to_vec()), had);
        }
        ModelOp::Expire(k, t) => {
            let k = key(*k);
            let at = m.now + t;
            let had = m.live(&k).is_some();
            assert_eq!(s.expire_at(&k, at, ExpireCondition::Always), had);
            if had {
                m.map.get_mut(&k).unwrap().1 = Some(at);
            }
        }
        ModelOp::Persist(k) => {
            let k = key(*k);
            let had_ttl = m.live(&k).is_some_and(|e| e.1.is_some());
            assert_eq!(s.persist(&k), had_ttl);
            if let Some(e) = m.live(&k) {
                e.1 = None;
            }
        }
        ModelOp::Rename(a, b) => {
            let (a, b) = (key(*a), key(*b));
            match m.live(&a).cloned() {
                None => assert!(s.rename(&a, &b, false).is_err()),
                Some(e) => {
                    assert_eq!(s.rename(&a, &b, false), Ok(true));
                    m.map.remove(&a);
                    m.map.insert(b, e);
                }
            }
        }
        ModelOp::Copy(a, b, replace) => {
            let (a, b) = (key(*a), key(*b));
            let src = m.live(&a).cloned();
            let dst_exists = m.live(&b).is_some();
            let ok = a != b && src.is_some() && (*replace || !dst_exists);
            assert_eq!(s.copy(&a, &b, *replace), ok);
            if ok {
                m.map.insert(b, src.unwrap());
            }
        }
        ModelOp::TakePut(a, b) => {
            let (a, b) = (key(*a), key(*b));
            let src = m.live(&a).cloned();
            let taken = s.take(&a);
            assert_eq!(
                taken
                    .as_ref()
                    .map(|r| r.value.as_string().unwrap().to_vec()),
                src.clone().map(|e| e.0)
            );
            m.map.remove(&a);
            if let Some(rec) = taken {
                assert!(s.put_record(&b, rec, true));
                m.map.insert(b, src.unwrap());
            }
        }
        ModelOp::Tick(d) => {
            m.now += d;
            s.set_now(m.now);
        }
        ModelOp::ActiveExpire(n) => {
            s.active_expire_cycle(*n);
        }
        ModelOp::RandomKey => {
            let live: Vec<Vec<u8>> = m.map.keys().cloned().collect::<Vec<_>>();
            let live: Vec<Vec<u8>> = live.into_iter().filter(|k| m.live(k).is_some()).collect();
            match s.random_key() {
                None => assert!(live.is_empty()),
                Some(k) => assert!(live.contains(&k.to_vec())),
            }
        }
        ModelOp::Scan(count) => {
            let (_, keys) = s.scan(0, *count, None, None);
            for k in keys {
                assert!(m.live(&k).is_some());
            }
        }
        ModelOp::Flush => {
            s.flush();
            m.map.clear();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Memory accounting and the volatile index stay exact on every path,
    /// and every answer agrees with the model.
    #[test]
    fn random_ops_match_model_and_keep_accounting_exact(ops in proptest::collection::vec(op(), 1..120)) {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(START);
        let mut m = Model { now: START, ..Model::default() };
        for op in &ops {
            check(&mut s, &mut m, op);
            s.assert_consistent();
        }
        // Whatever lazy and active expiry left, the live contents agree.
        let keys: Vec<Vec<u8>> = m.map.keys().cloned().collect();
        for k in keys {
            let want = m.live(&k).cloned();
            let got = s.peek_record(&k);
            prop_assert_eq!(
                got,
                want.map(|(v, t)| Record { value: Value::String(Bytes::from(v)), expire_at: t, access: 0 })
            );
        }
    }
}
