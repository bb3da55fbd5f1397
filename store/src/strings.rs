//! String commands as `impl Shard` operations: GET, SET, GETDEL, GETEX,
//! APPEND, STRLEN, GETRANGE, SETRANGE, INCRBY, INCRBYFLOAT.
//!
//! Growth (APPEND, SETRANGE) edits the stored buffer in place when the shard
//! holds its only reference (`Bytes::try_into_mut`), reserving like Redis's
//! `sdsMakeRoomFor` (double below 1 MiB, then +1 MiB), so a run of appends is
//! amortised O(1) per byte. When someone else still shares the buffer (a reply
//! in flight, a JS view) the first append copies it once into a growable one.

use bytes::{Bytes, BytesMut};

use crate::error::StoreError;
use crate::numeric::{format_f64, parse_f64, parse_i64};
use crate::record::{Record, Value, copy_out, copy_out_slice};
use crate::shard::Shard;

/// When SET may write (its NX / XX flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// No flag: always write.
    #[default]
    Always,
    /// NX: only if the key does not exist.
    IfAbsent,
    /// XX: only if the key exists.
    IfPresent,
}

/// What SET does to the key's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetExpire {
    /// No option: the new value has no deadline (an old TTL is dropped).
    #[default]
    Clear,
    /// KEEPTTL: keep whatever deadline the key had.
    Keep,
    /// EX / PX / EXAT / PXAT, resolved by the command layer to absolute unix
    /// ms. A deadline at or before now writes a key that is at once expired,
    /// i.e. deletes it (Redis accepts a past EXAT).
    At(u64),
}

/// Options of one SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// NX / XX.
    pub condition: SetCondition,
    /// Deadline handling.
    pub expire: SetExpire,
    /// GET: also return the old value (and fail with WRONGTYPE on a
    /// non-string, writing nothing).
    pub get: bool,
}

/// Result of a SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOutcome {
    /// Whether the value was written (false when NX / XX did not hold).
    pub written: bool,
    /// The previous value; filled only with `SetOptions::get`, and then even
    /// when NX / XX stopped the write, as Redis 7 replies.
    pub old: Option<Bytes>,
}

/// How GETEX changes the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireUpdate {
    /// No option: leave it.
    Unchanged,
    /// PERSIST: remove it.
    Persist,
    /// EX / PX / EXAT / PXAT as absolute unix ms; a past one deletes the key
    /// after its value is read.
    At(u64),
}

/// Redis's `sdsMakeRoomFor` growth: double while small, then step by 1 MiB.
fn grown_capacity(needed: usize) -> usize {
    const STEP: usize = 1024 * 1024;
    if needed < STEP {
        needed * 2
    } else {
        needed.saturating_add(STEP)
    }
}

/// A writable buffer holding `value`, with room for `needed` bytes in total.
/// Reuses the allocation when the shard holds the only reference to it.
fn into_growable(value: Bytes, needed: usize) -> BytesMut {
    let mut buf = match value.try_into_mut() {
        Ok(buf) => buf,
        Err(shared) => {
            let mut buf = BytesMut::with_capacity(grown_capacity(needed));
            buf.extend_from_slice(&shared);
            buf
        }
    };
    if buf.capacity() < needed {
        let target = grown_capacity(needed);
        buf.reserve(target - buf.len());
    }
    buf
}

impl Shard {
    /// The string at `idx`, or WRONGTYPE.
    pub(crate) fn string_at(&self, idx: usize) -> Result<&Bytes, StoreError> {
        self.table[idx]
            .value
            .as_string()
            .ok_or(StoreError::WrongType)
    }

    /// GET: the value, `None` if the key is missing or expired.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        match self.read_index(key) {
            Some(idx) => Ok(Some(copy_out(self.string_at(idx)?))),
            None => Ok(None),
        }
    }

    /// GET without a copy: the stored value, borrowed (a reply encodes it
    /// straight into the client's buffer).
    pub fn get_ref(&mut self, key: &[u8]) -> Result<Option<&Bytes>, StoreError> {
        match self.read_index(key) {
            Some(idx) => self.string_at(idx).map(Some),
            None => Ok(None),
        }
    }

    /// The value itself, sharing the record's buffer rather than copying it
    /// (storage functions lend it to JavaScript as a read-only view).
    pub fn get_shared(&mut self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        match self.read_index(key) {
            Some(idx) => Ok(Some(self.string_at(idx)?.clone())),
            None => Ok(None),
        }
    }

    /// SET with NX / XX / GET / KEEPTTL / EX-family. Stores `value` as given
    /// (the caller made the one copy out of the network buffer) and copies
    /// the key only when it creates a new entry.
    pub fn set(
        &mut self,
        key: &[u8],
        value: Bytes,
        opts: SetOptions,
    ) -> Result<SetOutcome, StoreError> {
        let (idx, old) = if opts.get {
            let idx = self.read_index(key);
            let old = match idx {
                Some(i) => Some(copy_out(self.string_at(i)?)),
                None => None,
            };
            (idx, old)
        } else {
            (self.live_index(key), None)
        };
        let blocked = match opts.condition {
            SetCondition::Always => false,
            SetCondition::IfAbsent => idx.is_some(),
            SetCondition::IfPresent => idx.is_none(),
        };
        if blocked {
            return Ok(SetOutcome {
                written: false,
                old,
            });
        }
        let expire_at = match opts.expire {
            SetExpire::Clear => None,
            SetExpire::Keep => idx.and_then(|i| self.table[i].expire_at),
            SetExpire::At(t) => Some(t),
        };
        if matches!(expire_at, Some(t) if t <= self.now_ms) {
            if let Some(i) = idx {
                self.remove_at(i);
            }
            return Ok(SetOutcome { written: true, old });
        }
        match idx {
            Some(i) => {
                self.replace_value(i, Value::String(value));
                self.set_deadline(i, expire_at);
            }
            None => {
                self.insert_new(
                    Bytes::copy_from_slice(key),
                    Record {
                        value: Value::String(value),
                        expire_at,
                        access: 0,
                    },
                );
            }
        }
        Ok(SetOutcome { written: true, old })
    }

    /// GETDEL: the value, and the key is gone.
    pub fn get_del(&mut self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(None);
        };
        self.string_at(idx)?;
        let (_, record) = self.remove_at(idx);
        Ok(record.value.as_string().cloned())
    }

    /// GETEX: the value, with the deadline changed as asked. A deadline at or
    /// before now deletes the key, but its value is still returned.
    pub fn get_ex(
        &mut self,
        key: &[u8],
        update: ExpireUpdate,
    ) -> Result<Option<Bytes>, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(None);
        };
        let value = copy_out(self.string_at(idx)?);
        match update {
            ExpireUpdate::Unchanged => {}
            ExpireUpdate::Persist => self.set_deadline(idx, None),
            ExpireUpdate::At(t) if t <= self.now_ms => {
                self.remove_for_deadline(idx);
            }
            ExpireUpdate::At(t) => self.set_deadline(idx, Some(t)),
        }
        Ok(Some(value))
    }

    /// APPEND: appends `tail` (creating the key if missing) and returns the
    /// new length.
    pub fn append(&mut self, key: &[u8], tail: &[u8]) -> Result<usize, StoreError> {
        let Some(idx) = self.live_index(key) else {
            if tail.len() > self.config.max_value_len {
                return Err(StoreError::TooLarge);
            }
            self.insert_new(
                Bytes::copy_from_slice(key),
                Record::string(Bytes::copy_from_slice(tail)),
            );
            return Ok(tail.len());
        };
        let len = self.string_at(idx)?.len();
        let new_len = len
            .checked_add(tail.len())
            .filter(|&n| n <= self.config.max_value_len);
        let Some(new_len) = new_len else {
            return Err(StoreError::TooLarge);
        };
        if tail.is_empty() {
            return Ok(len);
        }
        let Value::String(old) = self.replace_value(idx, Value::String(Bytes::new())) else {
            unreachable!("checked to be a string above")
        };
        let mut buf = into_growable(old, new_len);
        buf.extend_from_slice(tail);
        self.replace_value(idx, Value::String(buf.freeze()));
        Ok(new_len)
    }

    /// STRLEN: length of the value, 0 for a missing key.
    pub fn strlen(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        match self.read_index(key) {
            Some(idx) => Ok(self.string_at(idx)?.len()),
            None => Ok(0),
        }
    }

    /// GETRANGE with Redis 7's index rules (negative counts from the end,
    /// both ends inclusive, out-of-range clamped). Returns a slice sharing the
    /// stored buffer; empty for a missing key.
    pub fn get_range(&mut self, key: &[u8], start: i64, end: i64) -> Result<Bytes, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(Bytes::new());
        };
        let value = self.string_at(idx)?;
        if start < 0 && end < 0 && start > end {
            return Ok(Bytes::new());
        }
        let len = value.len() as i128;
        let (mut start, mut end) = (i128::from(start), i128::from(end));
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        end = end.max(0).min(len - 1);
        if len == 0 || start > end {
            return Ok(Bytes::new());
        }
        Ok(copy_out_slice(value, start as usize..=end as usize))
    }

    /// SETRANGE: overwrites from `offset`, zero-padding a shorter value, and
    /// returns the new length. Empty `data` only reports the length (0 and
    /// no key for a missing one). The size limit is checked before anything
    /// is allocated.
    pub fn set_range(
        &mut self,
        key: &[u8],
        offset: usize,
        data: &[u8],
    ) -> Result<usize, StoreError> {
        if data.is_empty() {
            return self.strlen_for_write(key);
        }
        let end = offset.checked_add(data.len()).ok_or(StoreError::TooLarge)?;
        self.edit_string(key, end, |buf| {
            buf[offset..end].copy_from_slice(data);
            buf.len()
        })
    }

    /// The length of the string at `key` (0 if missing), or WRONGTYPE.
    fn strlen_for_write(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        match self.live_index(key) {
            Some(i) => Ok(self.string_at(i)?.len()),
            None => Ok(0),
        }
    }

    /// Edits the string at `key` in place (creating it empty), first
    /// growing it with zero bytes to at least `min_len` (refused past
    /// `max_value_len`); keeps its deadline. Returns what `edit` returns.
    pub(crate) fn edit_string<R>(
        &mut self,
        key: &[u8],
        min_len: usize,
        edit: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R, StoreError> {
        if min_len > self.config.max_value_len {
            return Err(StoreError::TooLarge);
        }
        let idx = self.live_index(key);
        let len = match idx {
            Some(i) => self.string_at(i)?.len(),
            None => 0,
        };
        let new_len = min_len.max(len);
        let mut buf = match idx {
            Some(i) => {
                let Value::String(old) = self.replace_value(i, Value::String(Bytes::new())) else {
                    unreachable!("checked to be a string above")
                };
                into_growable(old, new_len)
            }
            None => BytesMut::with_capacity(new_len),
        };
        if buf.len() < new_len {
            buf.resize(new_len, 0);
        }
        let out = edit(&mut buf);
        let value = Value::String(buf.freeze());
        match idx {
            Some(i) => {
                self.replace_value(i, value);
            }
            None => {
                self.insert_new(
                    Bytes::copy_from_slice(key),
                    Record {
                        value,
                        expire_at: None,
                        access: 0,
                    },
                );
            }
        }
        Ok(out)
    }

    /// INCRBY / DECRBY / INCR / DECR: adds `delta` to the integer stored at
    /// `key` (0 if missing), keeps the deadline, returns the new value.
    pub fn incr_by(&mut self, key: &[u8], delta: i64) -> Result<i64, StoreError> {
        let idx = self.live_index(key);
        let current = match idx {
            Some(i) => parse_i64(self.string_at(i)?).ok_or(StoreError::NotInteger)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or(StoreError::Overflow)?;
        self.store_number(key, idx, Bytes::from(next.to_string()));
        Ok(next)
    }

    /// INCRBYFLOAT: adds `delta` to the float stored at `key` (0 if missing),
    /// keeps the deadline, and returns the new value as stored (see
    /// [`format_f64`] for the format).
    pub fn incr_by_float(&mut self, key: &[u8], delta: f64) -> Result<Bytes, StoreError> {
        let idx = self.live_index(key);
        let current = match idx {
            Some(i) => parse_f64(self.string_at(i)?).ok_or(StoreError::NotFloat)?,
            None => 0.0,
        };
        let next = current + delta;
        if !next.is_finite() {
            return Err(StoreError::NanOrInfinity);
        }
        let text = Bytes::from(format_f64(next));
        self.store_number(key, idx, text.clone());
        Ok(text)
    }

    fn store_number(&mut self, key: &[u8], idx: Option<usize>, text: Bytes) {
        match idx {
            Some(i) => {
                self.replace_value(i, Value::String(text));
            }
            None => {
                self.insert_new(Bytes::copy_from_slice(key), Record::string(text));
            }
        }
    }
}

#[cfg(test)]
mod tests;
