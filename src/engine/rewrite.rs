//! `BGREWRITEAOF`: a core compacts its log into a new base file between
//! requests, without a fork and without holding the core for more than a
//! slice of a turn.
//!
//! 1. **Walk.** Each turn writes a slice of the core's records, keyspace by
//!    keyspace, as the commands that rebuild them, into a temporary base
//!    file; the core serves requests in between, and the journal notes
//!    every key a write touches meanwhile. The walk follows SCAN's order, so
//!    a record present throughout is written at least once, maybe twice: a
//!    collection is written after a `DEL`, so twice is harmless.
//! 2. **Rounds.** The touched keys are written again, as they are now (or
//!    as a `DEL`), a slice per turn, while new writes touch more; a round
//!    with few keys left (or the last allowed round) runs in one turn.
//! 3. **Switch**, in that same turn: the base is fsynced and renamed, a new
//!    empty incremental file follows it, the manifest names just those two,
//!    and the old files are removed. Replaying the base gives the
//!    keyspaces as they are at that turn, where the new incremental file
//!    starts.
//!
//! A flush or a tenant's deletion during the walk starts it over.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_persist::aof::{Encoder, Log, NewBase, emit_record};
use kiln_store::{Record, Value};

use super::Engine;
use crate::tenant::TenantId;

/// Longest one turn spends on a rewrite (but the final round).
const SLICE: Duration = Duration::from_millis(1);
/// Slots walked between clock checks.
const WALK_STEP: usize = 64;
/// A round with at most this many keys left runs to the end in one turn.
const FINAL_ROUND_KEYS: usize = 1024;
/// Rounds before the last one runs whatever is left in one turn.
const MAX_ROUNDS: usize = 8;

/// A rewrite under way.
pub(super) struct Rewrite {
    base: NewBase,
    /// Keyspaces still to walk; the first is being walked at `cursor`.
    todo: Vec<TenantId>,
    cursor: u64,
    /// The round's keys still to write again.
    again: Vec<(TenantId, Bytes)>,
    /// Keys touched since the last round started.
    touched: HashSet<(TenantId, Bytes)>,
    rounds: usize,
    names: HashMap<TenantId, String>,
    started: Instant,
}

impl Engine {
    /// Whether a rewrite is asked for or under way (it runs between turns).
    pub(super) fn rewriting(&self) -> bool {
        self.rewrite.is_some() || self.journal.rewrites.requested
    }

    /// Starts the rewrite `BGREWRITEAOF` or the automatic rule asked for.
    fn begin_rewrite(&mut self) -> Option<Rewrite> {
        self.journal.rewrites.requested = false;
        let dir = self.aof_dir.clone()?;
        let base = dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .begin_rewrite(self.id);
        let base = match base {
            Ok(base) => base,
            Err(e) => {
                self.rewrite_failed(&format!("cannot create its new base: {e}"));
                return None;
            }
        };
        self.journal.track(true);
        self.journal.rewrites.in_progress = true;
        tracing::info!(core = self.id, "log rewrite started");
        Some(Rewrite {
            base,
            todo: self
                .keyspaces
                .iter()
                .map(|(index, generation, _)| TenantId::new(index, generation))
                .collect(),
            cursor: 0,
            again: Vec::new(),
            touched: HashSet::new(),
            rounds: 0,
            names: HashMap::new(),
            started: Instant::now(),
        })
    }

    /// Runs the rewrite for one slice of a turn.
    pub(super) fn rewrite_some(&mut self) {
        let rewrite = match self.rewrite.take() {
            Some(rewrite) => rewrite,
            None => match self.begin_rewrite() {
                Some(rewrite) => rewrite,
                None => return,
            },
        };
        match self.rewrite_step(rewrite) {
            Ok(Some(rewrite)) => self.rewrite = Some(rewrite),
            Ok(None) => {}
            Err(why) => self.rewrite_failed(&why),
        }
    }

    /// One slice; `None` once the rewrite is done (or started over).
    fn rewrite_step(&mut self, mut rw: Rewrite) -> Result<Option<Rewrite>, String> {
        let until = Instant::now() + SLICE;
        let touched = self.journal.take_touched();
        if touched.restart {
            tracing::info!(
                core = self.id,
                "a flush during the log rewrite: it starts over"
            );
            drop(rw);
            self.journal.track(false);
            self.journal.rewrites.in_progress = false;
            self.journal.rewrites.requested = true;
            return Ok(None);
        }
        rw.touched.extend(touched.keys);
        while !rw.todo.is_empty() && Instant::now() < until {
            self.walk_some(&mut rw);
        }
        if rw.todo.is_empty() {
            loop {
                if rw.again.is_empty() {
                    let last = rw.touched.len() <= FINAL_ROUND_KEYS || rw.rounds >= MAX_ROUNDS;
                    rw.again = rw.touched.drain().collect();
                    rw.rounds += 1;
                    if last {
                        self.write_again(&mut rw, None);
                        return self.switch(rw).map(|()| None);
                    }
                }
                self.write_again(&mut rw, Some(until));
                if Instant::now() >= until {
                    break;
                }
            }
        }
        rw.base
            .write_out()
            .map_err(|e| format!("cannot write {}: {e}", rw.base.path().display()))?;
        Ok(Some(rw))
    }

    /// Walks a step of the first keyspace left.
    fn walk_some(&mut self, rw: &mut Rewrite) {
        let tenant = rw.todo[0];
        let Some(shard) = self.keyspaces.get(tenant.index(), tenant.generation()) else {
            rw.todo.remove(0);
            rw.cursor = 0;
            return;
        };
        let name = tenant_name(&mut rw.names, self, tenant);
        let out = rw.base.out();
        out.select(name);
        rw.cursor = shard.walk(rw.cursor, WALK_STEP, |key, record| {
            write_record(out, key, record)
        });
        if rw.cursor == 0 {
            rw.todo.remove(0);
        }
    }

    /// Writes the round's keys again as they are now, until `until` (all
    /// of them with `None`).
    fn write_again(&mut self, rw: &mut Rewrite, until: Option<Instant>) {
        let mut written = 0;
        while let Some((tenant, key)) = rw.again.pop() {
            let name = tenant_name(&mut rw.names, self, tenant);
            let out = rw.base.out();
            out.select(name);
            out.append(&[b"DEL", &key]);
            if let Some(shard) = self.keyspaces.get(tenant.index(), tenant.generation())
                && let Some(record) = shard.stored(&key)
                && !record.is_expired_at(shard.now())
            {
                emit_record(&key, record, |args| out.append(args));
            }
            written += 1;
            if written % WALK_STEP == 0 && until.is_some_and(|u| Instant::now() >= u) {
                return;
            }
        }
    }

    /// Makes the finished base the core's log.
    fn switch(&mut self, mut rw: Rewrite) -> Result<(), String> {
        self.journal.track(false);
        // What this turn logged so far goes to the old file first; the base
        // holds it too, so a failure there loses nothing.
        if let Some(log) = self.journal.log_mut() {
            let _ = log.commit();
        }
        rw.base
            .write_out()
            .map_err(|e| format!("cannot write {}: {e}", rw.base.path().display()))?;
        let base_size = rw.base.size();
        let dir = self.aof_dir.clone().ok_or("no log directory")?;
        let fsync = self.shared.runtime.appendfsync();
        let (file, path) = dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finish_rewrite(self.id, rw.base)
            .map_err(|e| format!("cannot switch to the new base: {e}"))?;
        let log = Log::new(file, &path, fsync)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        self.journal.replace_log(log);
        let stats = &mut self.journal.rewrites;
        stats.in_progress = false;
        stats.done += 1;
        stats.last_failed = false;
        stats.base_size = base_size;
        tracing::info!(
            core = self.id,
            base_bytes = base_size,
            rounds = rw.rounds,
            ms = rw.started.elapsed().as_millis() as u64,
            "log rewritten"
        );
        Ok(())
    }

    fn rewrite_failed(&mut self, why: &str) {
        tracing::warn!(
            core = self.id,
            error = why,
            "log rewrite failed; the old log stays"
        );
        self.journal.track(false);
        let stats = &mut self.journal.rewrites;
        stats.in_progress = false;
        stats.last_failed = true;
    }

    /// Asks for a rewrite when the log has grown past Redis's rule
    /// (`auto-aof-rewrite-percentage`, `auto-aof-rewrite-min-size`).
    pub(super) fn check_auto_rewrite(&mut self) {
        let Some(log) = self.journal.log() else {
            return;
        };
        let stats = self.journal.rewrites;
        let size = stats.base_size + log.status().size;
        if !self.rewriting()
            && !stats.last_failed
            && self.shared.settings.aof.rewrite_due(size, stats.base_size)
        {
            tracing::info!(core = self.id, bytes = size, "log grown: rewriting it");
            self.journal.rewrites.requested = true;
        }
    }
}

/// The name `tenant`'s records are logged under, looked up once.
fn tenant_name<'a>(
    names: &'a mut HashMap<TenantId, String>,
    engine: &Engine,
    tenant: TenantId,
) -> &'a str {
    names
        .entry(tenant)
        .or_insert_with(|| engine.shared.tenants.name(tenant))
}

/// One record as the walk writes it: a collection after a `DEL`, as the
/// walk may meet it twice.
fn write_record(out: &mut Encoder, key: &[u8], record: &Record) {
    if !matches!(record.value, Value::String(_)) {
        out.append(&[b"DEL", key]);
    }
    emit_record(key, record, |args| out.append(args));
}
