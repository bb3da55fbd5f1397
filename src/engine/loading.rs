//! Bringing a core's keyspaces back from its log — or, with `appendonly
//! no`, from the last RDB snapshot — at start, a slice per event-loop turn,
//! so the core answers `-LOADING` meanwhile (as Redis) instead of leaving
//! clients unanswered.
//!
//! From a snapshot each core reads both files through and keeps the keys
//! of its own slots; an expired key is dropped, a tenant that no longer
//! exists is skipped with a warning, and a corrupt file stops the start
//! with its name and offset.
//!
//! Replay runs every tenant's commands in the order they first ran, with
//! the shards' clock stopped at zero: nothing expires while loading (Redis
//! neither), and the logged `PEXPIREAT`s put back the deadlines. A torn last
//! record is cut off with a warning (`aof-load-truncated yes`); anything
//! else that is not a command stops the server with the file and offset.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_net::{OwnedArgs, Reply};
use kiln_persist::aof::{AofDir, FileKind, LoadFile, Log, ReadError, Record, Records};

use super::Engine;
use crate::commands::{self, Command, Executed, Lookup, Site};
use crate::journal::Journal;
use crate::shared::unix_ms;
use crate::tenant::TenantId;

/// Longest one turn spends replaying.
const SLICE: Duration = Duration::from_millis(2);
/// The clock replay runs at: before every deadline.
const REPLAY_NOW_MS: u64 = 0;

/// The `-LOADING` refusal.
pub const LOADING: Reply = Reply::error("LOADING Kiln is loading the dataset in memory");

/// A core's log (or snapshot), being replayed.
pub struct Loading {
    /// The log's directory; `None` when loading a snapshot.
    dir: Option<Arc<Mutex<AofDir>>>,
    snapshot: Option<super::load_rdb::SnapshotLoad>,
    files: VecDeque<LoadFile>,
    current: Option<(LoadFile, Records)>,
    /// The tenant records act as; `None` after a tenant that no longer
    /// exists (its records are skipped).
    tenant: Option<TenantId>,
    records: u64,
    started: Instant,
}

impl Loading {
    /// The replay of core `core`'s files in `dir`.
    pub fn new(dir: Arc<Mutex<AofDir>>, core: usize) -> Loading {
        let files = dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .load_files(core)
            .into();
        Loading {
            dir: Some(dir),
            snapshot: None,
            files,
            current: None,
            tenant: Some(TenantId::DEFAULT),
            records: 0,
            started: Instant::now(),
        }
    }

    /// The reading of snapshot files, in order.
    pub fn snapshot(files: Vec<std::path::PathBuf>) -> Loading {
        Loading {
            dir: None,
            snapshot: Some(super::load_rdb::SnapshotLoad::new(files)),
            files: VecDeque::new(),
            current: None,
            tenant: Some(TenantId::DEFAULT),
            records: 0,
            started: Instant::now(),
        }
    }

    /// The snapshot reading, taken out to run a slice of it.
    pub(super) fn take_snapshot(&mut self) -> Option<super::load_rdb::SnapshotLoad> {
        self.snapshot.take()
    }

    /// Puts the snapshot reading back after a slice.
    pub(super) fn put_snapshot(&mut self, load: super::load_rdb::SnapshotLoad) {
        self.snapshot = Some(load);
    }

    /// How long the load has run.
    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The next record, `None` after the last file; `Err` stops the load.
    fn next(&mut self, truncated_ok: bool) -> Result<Option<Record>, String> {
        loop {
            if self.current.is_none() {
                let Some(file) = self.files.pop_front() else {
                    return Ok(None);
                };
                let records = Records::open(&file.path)
                    .map_err(|e| format!("cannot read {}: {e}", file.path.display()))?;
                self.current = Some((file, records));
            }
            let (file, records) = self.current.as_mut().expect("a file is open");
            match records.next() {
                Some(Ok(record)) => return Ok(Some(record)),
                None => self.current = None,
                Some(Err(ReadError::Truncated { offset })) if file.last && truncated_ok => {
                    tracing::warn!(
                        file = %file.path.display(),
                        offset,
                        "the log's last record is incomplete (a crash mid-write): cut off"
                    );
                    cut(file, offset)?;
                    self.current = None;
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "{} is corrupt: {e} (set aof-load-truncated yes to cut a torn tail)",
                        file.path.display()
                    ));
                }
            }
        }
    }

    /// Where the current record came from, for an error.
    fn position(&self, record: &Record) -> String {
        let file = self
            .current
            .as_ref()
            .map(|(f, _)| f.path.display().to_string());
        format!("{} at offset {}", file.unwrap_or_default(), record.offset)
    }
}

/// Cuts `file` at `offset`, dropping a torn record.
fn cut(file: &LoadFile, offset: u64) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file.path)
        .and_then(|f| f.set_len(offset))
        .map_err(|e| format!("cannot cut {}: {e}", file.path.display()))
}

impl Engine {
    /// Starts loading this core's log from `dir`; writes go to the log once
    /// the load is done.
    pub fn load_from(&mut self, dir: Arc<Mutex<AofDir>>) {
        self.shared.loading.fetch_add(1, Ordering::Relaxed);
        self.loading = Some(Loading::new(dir, self.id));
    }

    /// Starts loading this core's keys from the snapshot `files`.
    pub fn load_snapshot(&mut self, files: Vec<std::path::PathBuf>) {
        self.shared.loading.fetch_add(1, Ordering::Relaxed);
        self.loading = Some(Loading::snapshot(files));
    }

    /// Whether this core is still loading.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Replays the log for one slice of time; at the end opens the log for
    /// writing. A failure stops the server.
    pub(super) fn load_some(&mut self) {
        let Some(mut loading) = self.loading.take() else {
            return;
        };
        let truncated_ok = self.shared.settings.aof.load_truncated;
        let until = Instant::now() + SLICE;
        if loading.snapshot.is_some() {
            return self.load_snapshot_some(loading, until);
        }
        self.keyspaces.set_now(REPLAY_NOW_MS);
        let outcome = loop {
            match loading.next(truncated_ok) {
                Ok(Some(record)) => {
                    if let Err(why) = self.replay(&mut loading, &record) {
                        break Err(format!("{}: {why}", loading.position(&record)));
                    }
                    loading.records += 1;
                    if loading.records % 64 == 0 && Instant::now() >= until {
                        break Ok(false);
                    }
                }
                Ok(None) => break Ok(true),
                Err(why) => break Err(why),
            }
        };
        self.keyspaces.set_now(unix_ms());
        match outcome {
            Ok(false) => self.loading = Some(loading),
            Ok(true) => self.finish_loading(loading),
            Err(why) => self
                .shared
                .fail(format!("core {}: cannot load its log: {why}", self.id)),
        }
    }

    /// Runs one record read back.
    fn replay(&mut self, loading: &mut Loading, record: &Record) -> Result<(), String> {
        let name = &record.args[0];
        if name.eq_ignore_ascii_case(b"SELECT") {
            loading.tenant = Some(TenantId::DEFAULT);
            return Ok(());
        }
        if name.eq_ignore_ascii_case(b"TENANT") {
            let tenant = record.args.get(1).map(|n| String::from_utf8_lossy(n));
            loading.tenant = tenant.as_deref().and_then(|n| self.shared.tenants.id_of(n));
            if loading.tenant.is_none() {
                tracing::warn!(core = self.id, tenant = ?tenant, "log names a tenant that no longer exists: its records are skipped");
            }
            return Ok(());
        }
        let Some(tenant) = loading.tenant else {
            return Ok(());
        };
        let args = OwnedArgs::new(record.args.iter().map(|a| &a[..]));
        let spec = match commands::lookup(args.args()) {
            Lookup::Found(spec) => spec,
            Lookup::Unknown(reply) => return Err(format!("{reply:?}")),
        };
        let operator = self.shared.tenants.is_operator(tenant);
        let Some((shard, others)) = self
            .keyspaces
            .split_mut(tenant.index(), tenant.generation())
        else {
            return Ok(());
        };
        let site = Site {
            core: self.id,
            shard,
            // An operator's FLUSHALL empties every tenant, as it did.
            others: operator.then_some(others),
            shared: &self.shared,
            stats: &mut self.stats,
            functions: None,
            waiters: None,
            evicting: false,
            woken: false,
            journal: None,
        };
        let cmd = Command {
            spec,
            args: args.args(),
            tenant,
        };
        // A command that failed when it ran was never logged, but one can
        // fail again harmlessly (a DEL of a record moved away).
        if let Executed::Reply(Reply::Error(e)) = commands::execute::replay(site, cmd) {
            tracing::debug!(core = self.id, error = %e, "replayed command failed");
        }
        Ok(())
    }

    pub(super) fn finish_loading(&mut self, loading: Loading) {
        let Some(dir) = loading.dir.clone() else {
            self.shared.loading.fetch_sub(1, Ordering::Relaxed);
            self.publish_memory();
            return;
        };
        let opened = dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .open_incr(self.id)
            .and_then(|(file, path)| Log::new(file, &path, self.shared.runtime.appendfsync()));
        match opened {
            Ok(log) => {
                self.journal = Journal::new(log);
                self.journal.rewrites.base_size = base_size(&dir, self.id);
                self.aof_dir = Some(dir);
            }
            Err(e) => {
                return self
                    .shared
                    .fail(format!("core {}: cannot open its log: {e}", self.id));
            }
        }
        self.shared.loading.fetch_sub(1, Ordering::Relaxed);
        self.publish_memory();
        let keys: usize = self.keyspaces.iter().map(|(_, _, s)| s.len()).sum();
        tracing::info!(
            core = self.id,
            records = loading.records,
            keys,
            ms = loading.started.elapsed().as_millis() as u64,
            "log loaded"
        );
    }
}

/// Bytes in core `core`'s base file (0 without one).
fn base_size(dir: &Mutex<AofDir>, core: usize) -> u64 {
    let files = dir
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .load_files(core);
    files
        .iter()
        .filter(|f| f.kind == FileKind::Base)
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum()
}
