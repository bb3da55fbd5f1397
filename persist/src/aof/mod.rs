//! Append-only logs, one per core.
//!
//! ```text
//! <dir>/<appenddirname>/
//!   kiln.lock                              held (flock) while a server runs
//!   appendonly.aof.core0.manifest          core 0's files, in load order
//!   appendonly.aof.core0.1.base.aof        a rewrite's compacted state
//!   appendonly.aof.core0.1.incr.aof        what core 0 ran since
//!   appendonly.aof.core1.manifest ...
//! ```
//!
//! Each core writes only its own files, so no lock is shared on the write
//! path. A file is RESP commands, as Redis writes them; `SELECT 0` names the
//! default tenant and `TENANT <name>` any other, and holds for the commands
//! after it. The manifest uses Redis 7's line format
//! (`file <name> seq <n> type b|i`), replaced atomically (write, fsync,
//! rename, fsync the directory).
//!
//! [`Log`] is a core's writer: commands are encoded into a buffer as they
//! run and written once per event-loop turn ([`Log::commit`]), which under
//! `appendfsync always` also fsyncs, so every client of the turn shares one
//! fsync (group commit). Under `everysec` a thread of the log fsyncs once a
//! second. [`Records`] reads a file back for the loader, telling a torn last
//! record (a crash mid-write) from corruption.

mod dir;
mod emit;
mod encode;
mod manifest;
mod reader;
mod writer;

use std::fmt;
use std::str::FromStr;

pub use dir::{AofDir, CoreFiles, LoadFile, NewBase};
pub use emit::{emit_claim, emit_record};
pub use encode::Encoder;
pub use manifest::{FileKind, Manifest, ManifestEntry};
pub use reader::{ReadError, Record, Records};
pub use writer::{Log, LogStatus};

/// `appendfsync`: when a core's log reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fsync {
    /// After every turn's writes, before their replies leave.
    Always,
    /// Once a second, in the background: at most about two seconds of
    /// acknowledged writes are lost in a crash.
    #[default]
    EverySec,
    /// When the kernel decides.
    No,
}

impl FromStr for Fsync {
    type Err = String;

    fn from_str(s: &str) -> Result<Fsync, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(Fsync::Always),
            "everysec" => Ok(Fsync::EverySec),
            "no" => Ok(Fsync::No),
            _ => Err(format!("'{s}' is not one of always, everysec, no")),
        }
    }
}

impl fmt::Display for Fsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        })
    }
}

/// The default tenant's record: Redis's own `SELECT 0`, so a log holding
/// only the default tenant reads as a Redis log.
pub const DEFAULT_TENANT: &str = "default";
