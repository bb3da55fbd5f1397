//! `SLOWLOG`: the commands that ran longer than `slowlog-log-slower-than`
//! microseconds, kept per core (each core logs what it ran, entries
//! numbered by one server-wide counter) and merged when read.
//!
//! Each entry names its tenant: a tenant reads and resets only its own
//! entries; an operator sees everyone's. A command runs where its keys
//! are, so that core logs it; a command split over several cores (MSET,
//! DEL of keys on both) is logged per part, each with its part's
//! arguments, and one run on every core (INFO, DBSIZE, SLOWLOG itself)
//! is not logged. Arguments are cut as Redis cuts
//! them: at most 32 (the last one saying how many more there were), each
//! at most 128 bytes (with how many more there were).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use kiln_net::{Args, Reply};

use crate::tenant::TenantId;

/// Most arguments an entry keeps (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
pub const MAX_ARGS: usize = 32;
/// Most bytes an entry keeps of one argument (`SLOWLOG_ENTRY_MAX_STRING`).
pub const MAX_ARG_BYTES: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its number, unique on the server.
    pub id: u64,
    /// When it ran, unix seconds.
    pub time: u64,
    /// How long it ran, microseconds.
    pub micros: u64,
    /// Its arguments, cut as Redis cuts them.
    pub args: Vec<Bytes>,
    /// The client's address (empty for a command another core sent here).
    pub addr: String,
    /// The client's name.
    pub name: String,
    /// Whose command it was.
    pub tenant: TenantId,
}

impl Entry {
    /// The entry as `SLOWLOG GET` answers it.
    pub fn reply(&self) -> Reply {
        Reply::Array(vec![
            Reply::Integer(self.id as i64),
            Reply::Integer(self.time as i64),
            Reply::Integer(self.micros as i64),
            Reply::Array(self.args.iter().cloned().map(Reply::Bulk).collect()),
            Reply::bulk_from(self.addr.clone()),
            Reply::bulk_from(self.name.clone()),
        ])
    }
}

/// `args` as an entry keeps them.
pub fn cut_args(args: Args<'_>) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGS);
    let mut out: Vec<Bytes> = args
        .iter()
        .take(kept)
        .map(|arg| {
            if arg.len() <= MAX_ARG_BYTES {
                return Bytes::copy_from_slice(arg);
            }
            let mut cut = BytesMut::with_capacity(MAX_ARG_BYTES + 32);
            cut.put_slice(&arg[..MAX_ARG_BYTES]);
            cut.put_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES).as_bytes());
            cut.freeze()
        })
        .collect();
    if kept < args.len() {
        let more = args.len() - kept + 1;
        out[kept - 1] = Bytes::from(format!("... ({more} more arguments)"));
    }
    out
}

/// One core's slow log, newest first.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
}

impl SlowLog {
    /// Adds `entry`, keeping at most `max_len` entries.
    pub fn push(&mut self, entry: Entry, max_len: usize) {
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }

    /// The entries `tenant` may read (`None`: everyone's), newest first.
    pub fn entries(&self, tenant: Option<TenantId>) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| tenant.is_none_or(|t| t == e.tenant))
    }

    /// Drops the entries of `tenant` (`None`: every entry).
    pub fn reset(&mut self, tenant: Option<TenantId>) {
        self.entries
            .retain(|e| tenant.is_some_and(|t| t != e.tenant));
    }
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;

    #[test]
    fn arguments_are_cut_as_redis_cuts_them() {
        let long = "x".repeat(200);
        let args = OwnedArgs::new([b"SET".as_slice(), b"k", long.as_bytes()]);
        let cut = cut_args(args.args());
        assert_eq!(cut[2].len(), 128 + "... (72 more bytes)".len());
        assert!(cut[2].ends_with(b"... (72 more bytes)"));
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let args = OwnedArgs::new(many.iter().map(|a| a.as_bytes()));
        let cut = cut_args(args.args());
        assert_eq!(cut.len(), 32);
        assert_eq!(&cut[30][..], b"30");
        assert_eq!(&cut[31][..], b"... (9 more arguments)");
    }

    #[test]
    fn a_tenant_reads_and_resets_only_its_own_entries() {
        let mut log = SlowLog::default();
        let entry = |id, tenant| Entry {
            id,
            time: 0,
            micros: 1,
            args: Vec::new(),
            addr: String::new(),
            name: String::new(),
            tenant,
        };
        let (a, b) = (TenantId::new(1, 0), TenantId::new(2, 0));
        for id in 0..5 {
            log.push(entry(id, if id % 2 == 0 { a } else { b }), 4);
        }
        let ids = |log: &SlowLog, t| log.entries(t).map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(&log, None), [4, 3, 2, 1], "newest first, at most 4");
        assert_eq!(ids(&log, Some(a)), [4, 2]);
        log.reset(Some(a));
        assert_eq!(ids(&log, None), [3, 1]);
        log.reset(None);
        assert!(ids(&log, None).is_empty());
    }
}
