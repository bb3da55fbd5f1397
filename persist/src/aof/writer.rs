//! A core's log writer: commands buffered as they run, written (and under
//! `always` fsynced) once per event-loop turn.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Fsync;
use super::encode::Encoder;

/// How often `everysec` fsyncs.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What `INFO persistence` and `-MISCONF` report about a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStatus {
    /// The last write or fsync failed with this error (writes are refused
    /// with `-MISCONF` until one succeeds).
    pub error: Option<String>,
    /// Bytes in the current file.
    pub size: u64,
}

/// A core's append-only log.
pub struct Log {
    fsync: Fsync,
    file: Arc<File>,
    path: PathBuf,
    /// Encoded commands not yet written.
    out: Encoder,
    /// Bytes of the file known whole (a failed write is cut back to it).
    size: u64,
    /// Written but not yet fsynced, under `always`.
    unsynced: bool,
    error: Option<String>,
    syncer: Syncer,
}

impl Log {
    /// A log appending to `file` (at `path`), already `size` bytes long.
    pub fn new(file: File, path: &Path, fsync: Fsync) -> io::Result<Log> {
        let size = file.metadata()?.len();
        let file = Arc::new(file);
        Ok(Log {
            fsync,
            syncer: Syncer::start(Arc::clone(&file), fsync == Fsync::EverySec),
            file,
            path: path.to_owned(),
            out: Encoder::with_capacity(64 * 1024),
            size,
            unsynced: false,
            error: None,
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fsync policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    /// Changes the fsync policy (`CONFIG SET appendfsync`).
    pub fn set_fsync(&mut self, fsync: Fsync) {
        if fsync != self.fsync {
            self.fsync = fsync;
            self.syncer.enable(fsync == Fsync::EverySec);
        }
    }

    /// Makes the next commands act as `tenant` (see [`Encoder::select`]).
    pub fn select(&mut self, tenant: &str) {
        self.out.select(tenant);
    }

    /// Appends one command, as RESP.
    pub fn append(&mut self, args: &[&[u8]]) {
        self.out.append(args);
    }

    /// Appends one command of `count` arguments.
    pub fn append_iter<'a>(&mut self, count: usize, args: impl Iterator<Item = &'a [u8]>) {
        self.out.append_iter(count, args);
    }

    /// Whether replies must wait for [`Log::commit`]: under `always`, the
    /// log holds commands not yet on disk.
    pub fn holds_replies(&self) -> bool {
        self.fsync == Fsync::Always && (!self.out.bytes().is_empty() || self.unsynced)
    }

    /// Writes what was appended (and under `always` fsyncs it). A failed
    /// write is cut back so the file never keeps half a record, and its
    /// commands stay buffered for the next try.
    pub fn commit(&mut self) -> io::Result<()> {
        let result = self.write_and_sync();
        match &result {
            Ok(()) => self.error = None,
            Err(e) => {
                if self.error.is_none() {
                    tracing::warn!(path = %self.path.display(), error = %e, "log write failed; writes refused until it succeeds");
                }
                self.error = Some(e.to_string());
            }
        }
        result
    }

    fn write_and_sync(&mut self) -> io::Result<()> {
        if self.out.bytes().is_empty()
            && !self.unsynced
            && self.error.is_none()
            && !self.syncer.failed()
        {
            return Ok(());
        }
        if let Some(error) = self.syncer.take_error() {
            // The background fsync failed: the file may have lost pages the
            // kernel could not write; fsync again before trusting it.
            self.unsynced = true;
            tracing::warn!(path = %self.path.display(), %error, "background fsync failed");
        }
        if !self.out.bytes().is_empty() {
            if let Err(e) = (&*self.file).write_all(self.out.bytes()) {
                // Never leave part of a record behind.
                let _ = self.file.set_len(self.size);
                return Err(e);
            }
            self.size += self.out.bytes().len() as u64;
            self.out.clear();
            match self.fsync {
                Fsync::Always => self.unsynced = true,
                Fsync::EverySec => self.syncer.mark_dirty(),
                Fsync::No => {}
            }
        }
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Writes and fsyncs everything, whatever the policy (shutdown).
    pub fn sync_all(&mut self) -> io::Result<()> {
        self.commit()?;
        self.file.sync_data()
    }

    /// The log's state for `INFO` and `-MISCONF`.
    pub fn status(&self) -> LogStatus {
        LogStatus {
            error: self.error.clone(),
            size: self.size + self.out.bytes().len() as u64,
        }
    }

    /// The error writes are refused with, if the last write failed.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if let Err(e) = self.sync_all() {
            tracing::error!(path = %self.path.display(), error = %e, "final log write failed");
        }
    }
}

/// The `everysec` fsync thread of one log.
struct Syncer {
    shared: Arc<SyncShared>,
    thread: Option<JoinHandle<()>>,
}

struct SyncShared {
    enabled: AtomicBool,
    dirty: AtomicBool,
    stop: AtomicBool,
    /// `error` holds a failure not yet taken.
    failed: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Syncer {
    fn start(file: Arc<File>, enabled: bool) -> Syncer {
        let shared = Arc::new(SyncShared {
            enabled: AtomicBool::new(enabled),
            dirty: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kiln-aof-fsync".into())
            .spawn(move || {
                while !state.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(SYNC_EVERY);
                    if state.enabled.load(Ordering::Acquire)
                        && state.dirty.swap(false, Ordering::AcqRel)
                        && let Err(e) = file.sync_data()
                    {
                        *state.error.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(e.to_string());
                        state.failed.store(true, Ordering::Release);
                    }
                }
            })
            .ok();
        Syncer { shared, thread }
    }

    fn enable(&self, on: bool) {
        self.shared.enabled.store(on, Ordering::Release);
    }

    fn mark_dirty(&self) {
        self.shared.dirty.store(true, Ordering::Release);
    }

    /// Whether a background fsync failed since [`Syncer::take_error`].
    fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    fn take_error(&self) -> Option<String> {
        if !self.shared.failed.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.shared
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::Records;
    use super::*;

    fn log_in(dir: &Path, fsync: Fsync) -> Log {
        let path = dir.join("x.aof");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        Log::new(file, &path, fsync).unwrap()
    }

    #[test]
    fn commands_reach_the_file_at_commit_with_tenant_records() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = log_in(tmp.path(), Fsync::Always);
        log.select("default");
        log.append(&[b"SET", b"k", b"v"]);
        log.select("default");
        log.append(&[b"DEL", b"k"]);
        log.select("alice");
        log.append(&[b"INCR", b"n"]);
        assert!(log.holds_replies());
        assert_eq!(std::fs::metadata(log.path()).unwrap().len(), 0);
        log.commit().unwrap();
        assert!(!log.holds_replies());
        let records: Vec<Vec<bytes::Bytes>> = Records::open(log.path())
            .unwrap()
            .map(|r| r.unwrap().args)
            .collect();
        let names: Vec<&[u8]> = records.iter().map(|r| &r[0][..]).collect();
        assert_eq!(names, [&b"SELECT"[..], b"SET", b"DEL", b"TENANT", b"INCR"]);
        assert_eq!(records[3][1], "alice");
        assert_eq!(
            log.status().size,
            std::fs::metadata(log.path()).unwrap().len()
        );
    }

    #[test]
    fn everysec_never_holds_replies() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = log_in(tmp.path(), Fsync::EverySec);
        log.append(&[b"SET", b"k", b"v"]);
        assert!(!log.holds_replies());
        log.commit().unwrap();
        drop(log);
        assert!(std::fs::metadata(tmp.path().join("x.aof")).unwrap().len() > 0);
    }

    #[test]
    fn a_failed_write_keeps_its_commands_and_reports_the_error() {
        // /dev/full fails every write with ENOSPC, like a full disk.
        let Ok(file) = std::fs::OpenOptions::new().append(true).open("/dev/full") else {
            return;
        };
        let mut log = Log::new(file, Path::new("/dev/full"), Fsync::No).unwrap();
        log.append(&[b"SET", b"k", b"v"]);
        let err = log.commit().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert!(log.error().unwrap().contains("No space left"));
        assert!(log.status().size > 0, "the command is still buffered");
    }
}
