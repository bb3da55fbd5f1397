//! SORT and SORT_RO over lists, sets and sorted sets, as Redis's `sort.c`:
//! numeric or `ALPHA` order, `BY` weights from other keys (or hash fields,
//! `pattern->field`), `LIMIT`, `GET` patterns (`#` for the element itself)
//! and `STORE` into a list.
//!
//! The patterns are looked up on this shard: the command layer admits only
//! patterns whose keys share the sorted key's slot (Redis Cluster's rule).

use std::cmp::Ordering;

use bytes::Bytes;

use crate::collection::Collection;
use crate::error::StoreError;
use crate::hash::Hash;
use crate::list::{End, List};
use crate::record::Value;
use crate::shard::Shard;

/// The most values one SORT may return or store: `GET` patterns multiply
/// the elements, so a short request over a big list could otherwise build
/// a reply of billions of values (Redis would cut the client off at its
/// output limit after building part of it; Kiln refuses up front).
pub const MAX_SORT_OUTPUT: usize = 1 << 24;

/// What to sort by and what to return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SortOptions<'a> {
    /// `BY pattern`: weights from the keys it names; a pattern without `*`
    /// does not sort at all.
    pub by: Option<&'a [u8]>,
    /// `LIMIT offset count`.
    pub limit: Option<(i64, i64)>,
    /// `GET pattern`s, in order; none returns the elements.
    pub get: Vec<&'a [u8]>,
    /// `DESC`.
    pub desc: bool,
    /// `ALPHA`: compare as bytes rather than as numbers.
    pub alpha: bool,
}

/// One element being sorted, with what it sorts by.
struct Item {
    element: Bytes,
    score: f64,
    by: Option<Bytes>,
}

/// A float as C's `strtod` reads a whole string (leading spaces allowed,
/// the empty string is 0); `None` for anything else or NaN.
fn strtod(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?.trim_start();
    if text.is_empty() {
        return Some(0.0);
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

impl Shard {
    /// The value a SORT pattern names for `element`: the element itself for
    /// `#`; else the string at the key made by putting `element` in place of
    /// the first `*` (or the field after `->` of the hash there). `None`
    /// when there is no such string (or no `*`).
    fn sort_lookup(&mut self, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
        if pattern == b"#" {
            return Some(Bytes::copy_from_slice(element));
        }
        let star = pattern.iter().position(|&b| b == b'*')?;
        let rest = &pattern[star + 1..];
        let (postfix, field) = match rest.windows(2).position(|w| w == b"->") {
            Some(at) if at + 2 < rest.len() => (&rest[..at], Some(&rest[at + 2..])),
            _ => (rest, None),
        };
        let key = [&pattern[..star], element, postfix].concat();
        let idx = self.read_index(&key)?;
        let value = &self.table[idx].value;
        match field {
            Some(field) => Hash::of(value)?.get(field).map(Bytes::copy_from_slice),
            None => value.as_string().cloned(),
        }
    }

    /// The elements of `key` to sort, in the key's own order (a sorted set's
    /// by score); WRONGTYPE for a string or hash.
    fn sort_source(&mut self, key: &[u8]) -> Result<Vec<Bytes>, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(Vec::new());
        };
        let copy = |e: &[u8]| Bytes::copy_from_slice(e);
        Ok(match &self.table[idx].value {
            Value::List(l) => l.iter().map(copy).collect(),
            Value::Set(s) => s.iter().map(|m| copy(&m)).collect(),
            Value::ZSet(z) => z.range(0, z.len()).into_iter().map(|(m, _)| m).collect(),
            Value::String(_) | Value::Hash(_) | Value::Stream(_) => {
                return Err(StoreError::WrongType);
            }
        })
    }

    /// SORT: the output, element by element (or, with `GET` patterns, one
    /// value per pattern per element, `None` where it names nothing).
    /// `store`: for SORT ... STORE, which orders an unsorted set (a constant
    /// `BY`) alphabetically so the stored list does not depend on the set's
    /// layout, as Redis does.
    pub fn sort(
        &mut self,
        key: &[u8],
        options: &SortOptions<'_>,
        store: bool,
    ) -> Result<Vec<Option<Bytes>>, StoreError> {
        let is_set = self
            .live_index(key)
            .is_some_and(|idx| matches!(self.table[idx].value, Value::Set(_)));
        let mut elements = self.sort_source(key)?;
        let mut by = options.by;
        let mut alpha = options.alpha;
        let mut dont_sort = by.is_some_and(|p| !p.contains(&b'*'));
        if dont_sort && is_set && store {
            (dont_sort, alpha, by) = (false, true, None);
        }
        if dont_sort && options.desc && !is_set {
            elements.reverse();
        }
        let mut items: Vec<Item> = elements
            .into_iter()
            .map(|element| Item {
                element,
                score: 0.0,
                by: None,
            })
            .collect();
        if !dont_sort {
            let mut not_double = false;
            for item in &mut items {
                let weight = match by {
                    Some(pattern) => self.sort_lookup(pattern, &item.element),
                    None => None,
                };
                if alpha {
                    item.by = weight;
                    continue;
                }
                let text = match (&weight, by) {
                    (Some(w), _) => &w[..],
                    (None, Some(_)) => continue,
                    (None, None) => &item.element[..],
                };
                match strtod(text) {
                    Some(score) => item.score = score,
                    None => not_double = true,
                }
            }
            if not_double {
                return Err(StoreError::SortNotDouble);
            }
            let compare = |a: &Item, b: &Item| -> Ordering {
                let order = if !alpha {
                    a.score
                        .partial_cmp(&b.score)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| a.element.cmp(&b.element))
                } else if by.is_some() {
                    a.by.cmp(&b.by)
                } else {
                    a.element.cmp(&b.element)
                };
                if options.desc { order.reverse() } else { order }
            };
            items.sort_by(compare);
        }
        let len = items.len() as i64;
        let (offset, count) = options.limit.unwrap_or((0, -1));
        let start = offset.clamp(0, len);
        let count = count.clamp(-1, len);
        let mut end = if count < 0 {
            len - 1
        } else {
            start + count - 1
        };
        let start = if start >= len {
            end = len - 2;
            len - 1
        } else {
            start
        };
        end = end.min(len - 1);
        let chosen = if end < start {
            &items[0..0]
        } else {
            &items[start as usize..=end as usize]
        };
        let values = chosen.len().saturating_mul(options.get.len().max(1));
        if values > MAX_SORT_OUTPUT {
            return Err(StoreError::SortTooLarge);
        }
        let mut out = Vec::with_capacity(values);
        for item in chosen {
            if options.get.is_empty() {
                out.push(Some(item.element.clone()));
            }
            for pattern in &options.get {
                out.push(self.sort_lookup(pattern, &item.element));
            }
        }
        Ok(out)
    }

    /// SORT ... STORE: the output as a list at `dst` (a missing value
    /// stored as the empty string), deleting `dst` when empty; its length.
    pub fn sort_store(
        &mut self,
        key: &[u8],
        dst: &[u8],
        options: &SortOptions<'_>,
    ) -> Result<usize, StoreError> {
        let out = self.sort(key, options, true)?;
        let limits = self.config.encoding;
        let mut list = List::new();
        let items: Vec<&[u8]> = out.iter().map(|v| v.as_deref().unwrap_or(b"")).collect();
        list.push(End::Right, &items, &limits);
        let n = list.len();
        self.store_coll(dst, list);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardConfig;

    fn shard() -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.list_push(b"l", End::Right, &[b"3", b"1", b"10", b"2"], false)
            .unwrap();
        for (k, v) in [("w_1", "c"), ("w_2", "a"), ("w_3", "b"), ("w_10", "d")] {
            s.set(k.as_bytes(), Bytes::from(v), Default::default())
                .unwrap();
        }
        s
    }

    fn texts(out: Vec<Option<Bytes>>) -> Vec<String> {
        out.into_iter()
            .map(|v| v.map_or("<nil>".into(), |b| String::from_utf8_lossy(&b).into_owned()))
            .collect()
    }

    #[test]
    fn numeric_alpha_limit_by_and_get() {
        let mut s = shard();
        let sorted = |s: &mut Shard, o: SortOptions<'_>| texts(s.sort(b"l", &o, false).unwrap());
        assert_eq!(
            sorted(&mut s, SortOptions::default()),
            ["1", "2", "3", "10"]
        );
        let alpha = SortOptions {
            alpha: true,
            ..Default::default()
        };
        assert_eq!(sorted(&mut s, alpha), ["1", "10", "2", "3"]);
        let desc = SortOptions {
            desc: true,
            limit: Some((1, 2)),
            ..Default::default()
        };
        assert_eq!(sorted(&mut s, desc), ["3", "2"]);
        let by = SortOptions {
            by: Some(b"w_*"),
            alpha: true,
            get: vec![b"#", b"w_*", b"none_*"],
            ..Default::default()
        };
        assert_eq!(
            sorted(&mut s, by),
            [
                "2", "a", "<nil>", "3", "b", "<nil>", "1", "c", "<nil>", "10", "d", "<nil>"
            ]
        );
        let nosort = SortOptions {
            by: Some(b"nosort"),
            desc: true,
            ..Default::default()
        };
        assert_eq!(sorted(&mut s, nosort), ["2", "10", "1", "3"]);
        let past = SortOptions {
            limit: Some((10, 5)),
            ..Default::default()
        };
        assert_eq!(sorted(&mut s, past), Vec::<String>::new());
        s.list_push(b"l", End::Right, &[b"x"], false).unwrap();
        assert_eq!(
            s.sort(b"l", &SortOptions::default(), false),
            Err(StoreError::SortNotDouble)
        );
        assert_eq!(
            s.sort_store(
                b"l",
                b"dst",
                &SortOptions {
                    alpha: true,
                    ..Default::default()
                }
            ),
            Ok(5)
        );
        assert_eq!(s.lrange(b"dst", 0, 0).unwrap(), [Bytes::from("1")]);
        assert_eq!(
            s.sort(b"w_1", &SortOptions::default(), false),
            Err(StoreError::WrongType)
        );
        assert_eq!(
            s.sort(b"missing", &SortOptions::default(), false),
            Ok(Vec::new())
        );
        // Five elements times a quarter of the bound in GET patterns.
        let many = SortOptions {
            alpha: true,
            get: vec![b"#"; MAX_SORT_OUTPUT / 4 + 1],
            ..Default::default()
        };
        assert_eq!(s.sort(b"l", &many, false), Err(StoreError::SortTooLarge));
    }
}
