//! RDB snapshots of the whole server: `SAVE`, `BGSAVE`, the `save`
//! schedule and the save at shutdown.
//!
//! Each core writes its own part — the records of its shards, point in time
//! as of the turn it began, a slice per turn ([`crate::engine`]'s snapshot)
//! — into part files beside the data; the last core to finish hands the
//! parts to a thread of its own, which joins them under one RDB header into
//! the final files and renames them into place. No core waits on another
//! and none holds a lock the others take on their request path: this
//! coordinator's lock is taken when a save begins and when a part ends.
//!
//! Two files, both in Redis's RDB format (version 10):
//! - `dbfilename` (`dump.rdb`): the `default` tenant's keyspace, a file
//!   `redis-server` loads as it is;
//! - `tenants-<dbfilename>`: every other tenant's keyspace, each behind an
//!   aux field `kiln-tenant` naming it (Redis would load the keys and
//!   ignore the names; Kiln puts each back in its tenant).
//!
//! Tenants are independent, so the two files need not be of one instant.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kiln_persist::rdb::file::{Assembler, put_select};

use crate::commands::connection::REDIS_VERSION;
use crate::shared::{Shared, unix_ms};

/// `save`'s rules: a snapshot is due once `changes` writes happened in
/// the last `seconds` (any rule).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavePoints(pub Vec<(u64, u64)>);

impl SavePoints {
    /// Redis's default schedule: an hour after one change, five minutes
    /// after 100, a minute after 10,000.
    pub fn redis_default() -> SavePoints {
        SavePoints(vec![(3600, 1), (300, 100), (60, 10_000)])
    }

    /// Parses `save`'s value, as Redis does: pairs of seconds and changes;
    /// `""` for none.
    pub fn parse(text: &str) -> Result<SavePoints, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err("Invalid save parameters".into());
        }
        let mut points = Vec::new();
        for pair in words.chunks(2) {
            let (Ok(seconds), Ok(changes)) = (pair[0].parse::<u64>(), pair[1].parse::<u64>())
            else {
                return Err("Invalid save parameters".into());
            };
            points.push((seconds, changes));
        }
        Ok(SavePoints(points))
    }

    /// Whether a snapshot is due after `changes` writes, `since` after the
    /// last one.
    pub fn due(&self, changes: u64, since: Duration) -> bool {
        self.0
            .iter()
            .any(|&(seconds, min)| changes >= min && since.as_secs() >= seconds)
    }
}

impl std::fmt::Display for SavePoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (seconds, changes) in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{seconds} {changes}")?;
        }
        Ok(())
    }
}

/// What `SHUTDOWN` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtShutdown {
    /// Save if the schedule has rules (as Redis).
    Default,
    /// `SHUTDOWN SAVE`.
    Save,
    /// `SHUTDOWN NOSAVE`.
    NoSave,
}

/// The server's snapshots.
pub struct Saves {
    state: Mutex<State>,
    /// Writes each core ran (its own counter, published each turn).
    pub changes: Vec<AtomicU64>,
    /// A background save asks each core to begin its part.
    begin: Vec<AtomicBool>,
    /// 0 default, 1 save, 2 nosave.
    at_shutdown: AtomicU64,
    /// The save at shutdown has replaced whatever save was under way.
    shutdown_begun: AtomicBool,
    /// A background save's files are being joined (on their thread).
    assembling: AtomicBool,
    cores: usize,
}

#[derive(Debug)]
struct State {
    points: SavePoints,
    running: Option<Running>,
    /// Changes counted when the last successful save began.
    saved_changes: u64,
    last_ok: bool,
    /// Unix seconds of the last successful save (the start, before one).
    last_save: u64,
    last_secs: i64,
    last_try: Instant,
    saves: u64,
}

#[derive(Debug)]
struct Running {
    background: bool,
    parts_left: usize,
    failure: Option<String>,
    changes_at_start: u64,
    started: Instant,
}

/// `INFO persistence`'s view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveInfo {
    /// `rdb_changes_since_last_save`.
    pub changes_since_last_save: u64,
    /// `rdb_bgsave_in_progress`.
    pub in_progress: bool,
    /// `rdb_last_save_time` (unix seconds).
    pub last_save: u64,
    /// `rdb_last_bgsave_status`.
    pub last_ok: bool,
    /// `rdb_last_bgsave_time_sec` (-1 before one).
    pub last_secs: i64,
    /// `rdb_current_bgsave_time_sec` (-1 without one).
    pub current_secs: i64,
    /// `rdb_saves`.
    pub saves: u64,
}

/// Redis's refusal while a save runs.
pub const IN_PROGRESS: &str = "ERR Background save already in progress";

impl Saves {
    /// No save yet; `points` the schedule.
    pub fn new(cores: usize, points: SavePoints, started_unix: u64) -> Saves {
        Saves {
            state: Mutex::new(State {
                points,
                running: None,
                saved_changes: 0,
                last_ok: true,
                last_save: started_unix,
                last_secs: -1,
                last_try: Instant::now(),
                saves: 0,
            }),
            changes: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            begin: (0..cores).map(|_| AtomicBool::new(false)).collect(),
            at_shutdown: AtomicU64::new(0),
            shutdown_begun: AtomicBool::new(false),
            assembling: AtomicBool::new(false),
            cores,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn total_changes(&self) -> u64 {
        self.changes.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The schedule.
    pub fn points(&self) -> SavePoints {
        self.state().points.clone()
    }

    /// Replaces the schedule (`CONFIG SET save`).
    pub fn set_points(&self, points: SavePoints) {
        self.state().points = points;
    }

    /// Starts a save on every core: `background` (BGSAVE: each core begins
    /// at its next turn) or not (SAVE: the caller runs every part now).
    pub fn begin(&self, background: bool) -> Result<(), &'static str> {
        let mut state = self.state();
        if state.running.is_some() {
            return Err(IN_PROGRESS);
        }
        state.last_try = Instant::now();
        state.running = Some(Running {
            background,
            parts_left: self.cores,
            failure: None,
            changes_at_start: self.total_changes(),
            started: Instant::now(),
        });
        if background {
            self.begin
                .iter()
                .for_each(|b| b.store(true, Ordering::Release));
        }
        Ok(())
    }

    /// Whether core `core` is asked to begin its part (once).
    pub fn take_begin(&self, core: usize) -> bool {
        self.begin[core].load(Ordering::Relaxed) && self.begin[core].swap(false, Ordering::AcqRel)
    }

    /// Whether core `core` has a part to begin, without taking it.
    pub fn wants_begin(&self, core: usize) -> bool {
        self.begin[core].load(Ordering::Relaxed)
    }

    /// Core's part is written (or failed); `true` for the last part of a
    /// background save, whose caller assembles the files
    /// ([`Saves::assemble_in_background`]).
    pub fn part_done(&self, result: Result<(), String>) -> bool {
        let background = self.state().running.as_ref().is_some_and(|r| r.background);
        self.part_written(result) && background
    }

    /// Joins the parts into the final files and records the outcome.
    pub fn finish(&self, shared: &Shared) -> Result<(), String> {
        let failure = self.state().running.as_mut().and_then(|r| r.failure.take());
        let outcome = match failure {
            Some(why) => Err(why),
            None => assemble(shared),
        };
        remove_parts(shared);
        let mut state = self.state();
        let Some(running) = state.running.take() else {
            return outcome;
        };
        state.last_secs = running.started.elapsed().as_secs() as i64;
        state.last_ok = outcome.is_ok();
        match &outcome {
            Ok(()) => {
                state.saved_changes = running.changes_at_start;
                state.last_save = unix_ms() / 1000;
                state.saves += 1;
                tracing::info!(
                    ms = running.started.elapsed().as_millis() as u64,
                    "DB saved on disk"
                );
            }
            Err(why) => tracing::warn!(error = %why, "snapshot failed"),
        }
        outcome
    }

    /// [`Saves::finish`] on a thread of its own.
    pub fn assemble_in_background(shared: std::sync::Arc<Shared>) {
        shared.saves.assembling.store(true, Ordering::Release);
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("kiln-save".into())
            .spawn(move || {
                let shared = thread_shared;
                let _ = shared.saves.finish(&shared);
                shared.saves.assembling.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the snapshot thread");
            let _ = shared.saves.finish(&shared);
            shared.saves.assembling.store(false, Ordering::Release);
        }
    }

    /// Whether the schedule calls for a background save now.
    pub fn due(&self) -> bool {
        let state = self.state();
        if state.running.is_some() || state.points.0.is_empty() {
            return false;
        }
        // After a failure Redis retries no sooner than 5 s later.
        if !state.last_ok && state.last_try.elapsed() < Duration::from_secs(5) {
            return false;
        }
        let changes = self.total_changes().saturating_sub(state.saved_changes);
        let since = Duration::from_secs((unix_ms() / 1000).saturating_sub(state.last_save));
        state.points.due(changes, since)
    }

    /// `SHUTDOWN`'s choice.
    pub fn set_at_shutdown(&self, what: AtShutdown) {
        let code = match what {
            AtShutdown::Default => 0,
            AtShutdown::Save => 1,
            AtShutdown::NoSave => 2,
        };
        self.at_shutdown.store(code, Ordering::Relaxed);
    }

    /// Whether the server saves as it stops (each stopped core asks
    /// before its part); the first to ask replaces a background save under
    /// way with the final one.
    pub fn save_at_shutdown(&self) -> bool {
        let save = match self.at_shutdown.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => !self.state().points.0.is_empty(),
        };
        if save && !self.shutdown_begun.swap(true, Ordering::AcqRel) {
            // A background save's files being joined are let finish (its
            // thread would otherwise end this save's bookkeeping).
            let deadline = Instant::now() + Duration::from_secs(600);
            while self.assembling.load(Ordering::Acquire) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.begin
                .iter()
                .for_each(|b| b.store(false, Ordering::Relaxed));
            self.state().running = Some(Running {
                background: false,
                parts_left: self.cores,
                failure: None,
                changes_at_start: self.total_changes(),
                started: Instant::now(),
            });
        }
        save
    }

    /// A stopped core's final part is written (or failed); `true` for the
    /// last, whose caller joins the files ([`Saves::finish`]).
    pub fn part_written(&self, result: Result<(), String>) -> bool {
        let mut state = self.state();
        let Some(running) = state.running.as_mut() else {
            return false;
        };
        if let Err(why) = result {
            running.failure.get_or_insert(why);
        }
        running.parts_left = running.parts_left.saturating_sub(1);
        running.parts_left == 0
    }

    /// `LASTSAVE`.
    pub fn last_save(&self) -> u64 {
        self.state().last_save
    }

    /// The figures `INFO persistence` prints.
    pub fn info(&self) -> SaveInfo {
        let state = self.state();
        SaveInfo {
            changes_since_last_save: self.total_changes().saturating_sub(state.saved_changes),
            in_progress: state.running.is_some(),
            last_save: state.last_save,
            last_ok: state.last_ok,
            last_secs: state.last_secs,
            current_secs: state
                .running
                .as_ref()
                .map_or(-1, |r| r.started.elapsed().as_secs() as i64),
            saves: state.saves,
        }
    }
}

/// The file the `default` tenant's keys go to.
pub fn default_file(shared: &Shared) -> PathBuf {
    shared.settings.dir.join(&shared.settings.dbfilename)
}

/// The file the other tenants' keys go to.
pub fn tenants_file(shared: &Shared) -> PathBuf {
    shared
        .settings
        .dir
        .join(format!("tenants-{}", shared.settings.dbfilename))
}

/// Core `core`'s part of the default file (`tenants`: of the tenants file).
pub fn part_file(shared: &Shared, core: usize, tenants: bool) -> PathBuf {
    let kind = if tenants { "tenants" } else { "default" };
    shared.settings.dir.join(format!(
        "temp-{}-{kind}-core{core}.part",
        std::process::id()
    ))
}

fn remove_parts(shared: &Shared) {
    for core in 0..shared.cores() {
        for tenants in [false, true] {
            let _ = std::fs::remove_file(part_file(shared, core, tenants));
        }
    }
}

/// Joins every core's parts into both files.
fn assemble(shared: &Shared) -> Result<(), String> {
    for tenants in [false, true] {
        let target = if tenants {
            tenants_file(shared)
        } else {
            default_file(shared)
        };
        let parts: Vec<PathBuf> = (0..shared.cores())
            .map(|core| part_file(shared, core, tenants))
            .collect();
        assemble_file(shared, &target, &parts)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(())
}

/// Writes `target` from `parts` through a temporary file, fsynced and
/// renamed into place, so a crash leaves the old file or the new one.
fn assemble_file(shared: &Shared, target: &Path, parts: &[PathBuf]) -> io::Result<()> {
    let temp = target.with_file_name(format!("temp-{}.rdb", std::process::id()));
    let ctime = (unix_ms() / 1000).to_string();
    let used = shared.used_memory().to_string();
    let aux: [(&str, &[u8]); 5] = [
        ("redis-ver", REDIS_VERSION.as_bytes()),
        ("redis-bits", b"64"),
        ("ctime", ctime.as_bytes()),
        ("used-mem", used.as_bytes()),
        ("kiln-ver", env!("CARGO_PKG_VERSION").as_bytes()),
    ];
    let mut file = Assembler::new(BufWriter::new(File::create(&temp)?), &aux)?;
    let mut select = Vec::new();
    put_select(&mut select, 0);
    file.write(&select)?;
    for part in parts {
        file.copy_from(io::BufReader::new(File::open(part)?))?;
    }
    let file = file.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&temp, target)?;
    if let Some(dir) = target.parent() {
        // The rename itself is durable once the directory is.
        File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(())
}

/// Bytes a core hands its part writer at a time.
const CHUNK: usize = 256 << 10;
/// Chunks in flight to the part writer before a core's walk waits a turn.
const CHUNKS_IN_FLIGHT: usize = 16;

/// A core's part files, written by a thread of their own as the walk goes:
/// a slow or throttled disk holds that thread, never the core, whose walk
/// pauses for a turn when the writer is behind ([`Parts::behind`]).
pub struct Parts {
    tx: std::sync::mpsc::SyncSender<(bool, Vec<u8>)>,
    writer: std::thread::JoinHandle<io::Result<()>>,
    /// Bytes not yet handed over: the default tenant's, the others'.
    pending: [Vec<u8>; 2],
}

impl Parts {
    /// Creates core `core`'s part files and their writer.
    pub fn create(shared: &Shared, core: usize) -> io::Result<Parts> {
        let open = |tenants| File::create(part_file(shared, core, tenants)).map(BufWriter::new);
        let mut files = [open(false)?, open(true)?];
        let (tx, rx) = std::sync::mpsc::sync_channel::<(bool, Vec<u8>)>(CHUNKS_IN_FLIGHT);
        let writer = std::thread::Builder::new()
            .name(format!("kiln-save-{core}"))
            .spawn(move || {
                for (default, bytes) in rx {
                    files[usize::from(!default)].write_all(&bytes)?;
                }
                // Parts are scratch: the joined file is fsynced, not them.
                files.iter_mut().try_for_each(|f| f.flush())
            })?;
        Ok(Parts {
            tx,
            writer,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Adds bytes of the default tenant's part or the others'.
    pub fn push(&mut self, default_tenant: bool, bytes: &[u8]) -> io::Result<()> {
        let i = usize::from(!default_tenant);
        self.pending[i].extend_from_slice(bytes);
        if self.pending[i].len() >= CHUNK {
            self.hand_over(i, false)?;
        }
        Ok(())
    }

    /// Whether the writer is behind: a full chunk waits for room.
    pub fn behind(&self) -> bool {
        self.pending.iter().any(|p| p.len() >= CHUNK)
    }

    /// Hands what is pending over, waiting for room (`SAVE`, which holds
    /// its core anyway).
    pub fn catch_up(&mut self) -> io::Result<()> {
        self.hand_over(0, true)
            .and_then(|()| self.hand_over(1, true))
    }

    /// Hands pending bytes `i` to the writer; `wait`: until it has room.
    fn hand_over(&mut self, i: usize, wait: bool) -> io::Result<()> {
        use std::sync::mpsc::TrySendError;
        if self.pending[i].is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.pending[i]);
        let gone = || io::Error::other("the snapshot's part writer stopped");
        if wait {
            return self.tx.send((i == 0, chunk)).map_err(|_| gone());
        }
        match self.tx.try_send((i == 0, chunk)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full((_, chunk))) => {
                self.pending[i] = chunk;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(gone()),
        }
    }

    /// Hands over what is pending (waiting for room) and waits for the
    /// writer to finish both files.
    pub fn finish(mut self) -> io::Result<()> {
        let sent = self
            .hand_over(0, true)
            .and_then(|()| self.hand_over(1, true));
        drop(self.tx);
        let written = self
            .writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the snapshot's part writer panicked")));
        sent.and(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points_parse_print_and_fall_due_as_redis() {
        let points = SavePoints::parse("3600 1 300 100").unwrap();
        assert_eq!(points.to_string(), "3600 1 300 100");
        assert_eq!(SavePoints::parse("").unwrap(), SavePoints::default());
        assert!(SavePoints::parse("3600").is_err());
        assert!(SavePoints::parse("x 1").is_err());
        assert!(SavePoints::parse("-1 1").is_err());
        assert!(!points.due(0, Duration::from_secs(7200)));
        assert!(points.due(1, Duration::from_secs(3600)));
        assert!(!points.due(99, Duration::from_secs(3000)));
        assert!(points.due(100, Duration::from_secs(300)));
        assert_eq!(
            SavePoints::redis_default().to_string(),
            "3600 1 300 100 60 10000"
        );
    }

    #[test]
    fn one_save_at_a_time_and_the_last_background_part_assembles() {
        let saves = Saves::new(2, SavePoints::default(), 0);
        saves.begin(true).unwrap();
        assert_eq!(saves.begin(false), Err(IN_PROGRESS));
        assert!(saves.take_begin(0) && !saves.take_begin(0));
        assert!(!saves.part_done(Ok(())));
        assert!(saves.part_done(Err("disk full".into())));
        assert!(saves.info().in_progress);
    }
}
