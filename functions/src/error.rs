//! Errors of the function layer, worded as Redis words them.

use kiln_net::Reply;

/// A `FUNCTION` command's failure. `Display` is the Redis message without
/// its `ERR ` code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// The first line is not `#!<engine> ...`.
    #[error("Missing library metadata")]
    MissingMetadata,
    /// An engine other than `js`.
    #[error("Engine '{0}' not found")]
    EngineNotFound(String),
    /// No `name=`.
    #[error("Library name was not given")]
    NoName,
    /// `name=` twice.
    #[error("Invalid metadata value, name argument was given multiple times")]
    DuplicateName,
    /// An unknown `key=value`.
    #[error("Invalid metadata value given: {0}")]
    InvalidMetadata(String),
    /// A name with characters other than letters, digits and `_`.
    #[error(
        "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
    )]
    InvalidLibraryName,
    /// Over the source size cap.
    #[error("Library code is {size} bytes, more than the {limit} bytes allowed")]
    TooLarge { size: usize, limit: usize },
    /// LOAD of an existing library without REPLACE.
    #[error("Library '{0}' already exists")]
    LibraryExists(String),
    /// A function name another library of the tenant has.
    #[error("Function {0} already exists")]
    FunctionExists(String),
    /// Over the per-tenant function count cap.
    #[error("Too many functions: the limit is {0} per tenant")]
    TooManyFunctions(usize),
    /// The tenant's libraries would take longer to install on a core than
    /// the load budget allows.
    #[error(
        "the tenant's libraries would take {expected_ms} ms to run when a core installs them, more than the {budget_ms} ms load budget"
    )]
    InstallTooLong { expected_ms: u128, budget_ms: u128 },
    /// DELETE of an unknown library.
    #[error("Library not found")]
    LibraryNotFound,
    /// A RESTORE payload that does not check out.
    #[error("payload version or checksum are wrong")]
    BadPayload,
    /// Loading failed in V8 (syntax error, exception, timeout...).
    #[error("{0}")]
    Load(String),
    /// A change for a tenant the registry does not know (deleted since the
    /// request was sent).
    #[error("the tenant no longer exists")]
    UnknownTenant,
    /// The registry file could not be written.
    #[error("functions changed in memory but could not be saved: {0}")]
    Persist(String),
}

impl FunctionError {
    /// The error reply.
    pub fn reply(&self) -> Reply {
        Reply::error_owned(format!("ERR {self}"))
    }
}

impl From<kiln_isolates::LoadError> for FunctionError {
    fn from(error: kiln_isolates::LoadError) -> Self {
        FunctionError::Load(error.to_string())
    }
}
