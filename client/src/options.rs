//! Option and reply types of the typed API (`SET`, `GETEX`, `EXPIRE`,
//! `SCAN`), kept apart from the methods that use them.

use bytes::Bytes;

#[cfg(doc)]
use crate::Client;

/// The expiry part of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`
    Ex(u64),
    /// `PX milliseconds`
    Px(u64),
    /// `EXAT unix-seconds`
    ExAt(u64),
    /// `PXAT unix-milliseconds`
    PxAt(u64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

/// The condition part of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIf {
    /// `NX`: only if the key does not exist.
    Nx,
    /// `XX`: only if the key exists.
    Xx,
}

/// Options of [`Client::set_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetWithOptions {
    /// `EX` / `PX` / `EXAT` / `PXAT` / `KEEPTTL`.
    pub expire: Option<Expiry>,
    /// `NX` / `XX`.
    pub condition: Option<SetIf>,
    /// `GET`: return the previous value.
    pub get: bool,
}

/// What [`Client::set_with`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetReply {
    /// The value was written (`OK`).
    Written,
    /// `NX` / `XX` prevented the write (nil).
    NotWritten,
    /// With `get`: the previous value (`None` if the key did not exist).
    Previous(Option<Bytes>),
}

/// The expiry part of `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExExpiry {
    /// `EX seconds`
    Ex(u64),
    /// `PX milliseconds`
    Px(u64),
    /// `EXAT unix-seconds`
    ExAt(u64),
    /// `PXAT unix-milliseconds`
    PxAt(u64),
    /// `PERSIST`: remove the time to live.
    Persist,
}

/// The condition of `EXPIRE` and friends (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireIf {
    /// Only if the key has no expiry.
    Nx,
    /// Only if the key has an expiry.
    Xx,
    /// Only if the new expiry is later.
    Gt,
    /// Only if the new expiry is sooner.
    Lt,
}

impl ExpireIf {
    pub(crate) fn word(self) -> &'static str {
        match self {
            ExpireIf::Nx => "NX",
            ExpireIf::Xx => "XX",
            ExpireIf::Gt => "GT",
            ExpireIf::Lt => "LT",
        }
    }
}

/// Options of [`Client::scan`]: `MATCH`, `COUNT`, `TYPE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// `MATCH pattern`
    pub pattern: Option<Vec<u8>>,
    /// `COUNT hint`
    pub count: Option<u64>,
    /// `TYPE type`
    pub key_type: Option<String>,
}

impl ScanOptions {
    /// Only keys matching this glob pattern.
    pub fn pattern(mut self, pattern: impl AsRef<[u8]>) -> Self {
        self.pattern = Some(pattern.as_ref().to_vec());
        self
    }

    /// How much work each call should do.
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Only keys of this type (`string`, ...).
    pub fn key_type(mut self, key_type: impl Into<String>) -> Self {
        self.key_type = Some(key_type.into());
        self
    }
}
