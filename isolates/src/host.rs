//! The trusted host API's other side: what a function may do to the store.
//!
//! The server implements [`Host`] over the calling tenant's keyspace on the
//! core running the call. Every method is given the key as the function
//! named it; the implementation checks that the key belongs to this core
//! (else a `CROSSSLOT` error) and that writes are allowed.

use bytes::Bytes;
use kiln_net::{Args, Reply};

/// An error the host raises into JavaScript as a thrown `Error`; the text
/// keeps Redis's form, error code first (`"WRONGTYPE Operation against..."`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError(pub String);

impl HostError {
    /// An error from a static or formatted message.
    pub fn new(message: impl Into<String>) -> HostError {
        HostError(message.into())
    }
}

/// Store operations a running function may perform. Implemented by the
/// server for the duration of one call.
pub trait Host {
    /// The string value at `key`, shared with the record (not copied), or
    /// `None` when absent.
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, HostError>;
    /// Sets `key` to `value`, with an optional time to live.
    fn put(&mut self, key: &[u8], value: Bytes, ttl_ms: Option<u64>) -> Result<(), HostError>;
    /// Deletes `key`; whether it existed.
    fn del(&mut self, key: &[u8]) -> Result<bool, HostError>;
    /// Whether `key` exists.
    fn exists(&mut self, key: &[u8]) -> Result<bool, HostError>;
    /// Adds `delta` to the integer at `key`; the new value.
    fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, HostError>;
    /// Runs any data command of the command table (`args[0]` is its name)
    /// and returns its reply; an error reply is thrown into JavaScript.
    fn call(&mut self, args: Args<'_>) -> Reply;
}
