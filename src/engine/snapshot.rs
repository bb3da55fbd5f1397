//! A core's part of an RDB snapshot ([`crate::save`]).
//!
//! The core begins a snapshot of every one of its shards in one turn (so
//! its part is of that instant), then walks them a slice per turn while it
//! serves: a write to a record not yet written encodes it first (see
//! [`kiln_store::Shard::begin_snapshot`]). What the shards encode goes to
//! the core's two part files — the `default` tenant's and the others',
//! each run of another tenant's records behind an aux field naming it.

use std::time::{Duration, Instant};

use kiln_persist::rdb::file::{TENANT_AUX, put_aux, put_entry};

use super::Engine;
use crate::save::{Parts, Saves};
use crate::tenant::TenantId;

/// Longest one turn spends on a background snapshot.
const SLICE: Duration = Duration::from_millis(1);
/// Positions walked between clock checks.
const WALK_STEP: usize = 64;

/// This core's part under way.
pub(super) struct CoreSnapshot {
    parts: Parts,
    /// Keyspaces whose walk is not done; the first is being walked.
    todo: Vec<TenantId>,
    /// The tenant the tenants part's last records belong to.
    last_tenant: Option<TenantId>,
    started: Instant,
}

impl Engine {
    /// Whether a background snapshot asks for this core's time.
    pub(super) fn snapshot_pending(&self) -> bool {
        self.snapshot.is_some() || self.shared.saves.wants_begin(self.id)
    }

    /// Runs a background snapshot for one slice of a turn (beginning it
    /// if `BGSAVE` or the schedule just asked).
    pub(super) fn snapshot_some(&mut self) {
        if self.snapshot.is_none() && self.shared.saves.take_begin(self.id) {
            match self.begin_snapshot() {
                Ok(snapshot) => self.snapshot = Some(snapshot),
                Err(why) => return self.part_done(Err(why)),
            }
        }
        let Some(mut snapshot) = self.snapshot.take() else {
            return;
        };
        match self.snapshot_step(&mut snapshot, Some(Instant::now() + SLICE)) {
            Ok(false) => self.snapshot = Some(snapshot),
            Ok(true) => {
                let done = self.finish_part(snapshot);
                self.part_done(done);
            }
            Err(why) => {
                self.cancel_snapshot();
                self.part_done(Err(why));
            }
        }
    }

    /// `SAVE` and the save at shutdown: this core's whole part, now.
    pub fn save_part_now(&mut self) -> Result<(), String> {
        self.cancel_snapshot();
        let mut snapshot = self.begin_snapshot()?;
        match self.snapshot_step(&mut snapshot, None) {
            Ok(_) => self.finish_part(snapshot),
            Err(why) => {
                self.cancel_snapshot();
                Err(why)
            }
        }
    }

    fn begin_snapshot(&mut self) -> Result<CoreSnapshot, String> {
        let parts = Parts::create(&self.shared, self.id)
            .map_err(|e| format!("cannot create the snapshot's part files: {e}"))?;
        let mut todo = Vec::new();
        for (index, generation, shard) in self.keyspaces.iter_mut() {
            shard.begin_snapshot(put_entry);
            todo.push(TenantId::new(index, generation));
        }
        tracing::info!(core = self.id, "snapshot started");
        Ok(CoreSnapshot {
            parts,
            todo,
            last_tenant: None,
            started: Instant::now(),
        })
    }

    /// Walks until `until` (to the end with `None`); `true` once every
    /// keyspace is written.
    fn snapshot_step(
        &mut self,
        snapshot: &mut CoreSnapshot,
        until: Option<Instant>,
    ) -> Result<bool, String> {
        while let Some(&tenant) = snapshot.todo.first() {
            let walked = match self.keyspaces.get_mut(tenant.index(), tenant.generation()) {
                Some(shard) => shard.snapshot_step(WALK_STEP),
                // The tenant was deleted: its keys go with it.
                None => true,
            };
            if walked {
                self.drain(snapshot, tenant)?;
                snapshot.todo.remove(0);
            }
            match until {
                Some(until) if Instant::now() >= until || snapshot.parts.behind() => break,
                Some(_) => {}
                None if snapshot.parts.behind() => snapshot
                    .parts
                    .catch_up()
                    .map_err(|e| format!("cannot write the snapshot's part: {e}"))?,
                None => {}
            }
        }
        // What writes encoded early, in every keyspace.
        let tenants: Vec<TenantId> = self
            .keyspaces
            .iter()
            .filter(|(_, _, shard)| shard.snapshotting())
            .map(|(index, generation, _)| TenantId::new(index, generation))
            .collect();
        for tenant in tenants {
            self.drain(snapshot, tenant)?;
        }
        Ok(snapshot.todo.is_empty())
    }

    /// Moves `tenant`'s encoded records into the part files.
    fn drain(&mut self, snapshot: &mut CoreSnapshot, tenant: TenantId) -> Result<(), String> {
        let Some(shard) = self.keyspaces.get_mut(tenant.index(), tenant.generation()) else {
            return Ok(());
        };
        let Some((bytes, _)) = shard.take_snapshot_bytes() else {
            return Ok(());
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let default = tenant.is_default();
        let mut head = Vec::new();
        if !default && snapshot.last_tenant != Some(tenant) {
            put_aux(
                &mut head,
                TENANT_AUX,
                self.shared.tenants.name(tenant).as_bytes(),
            );
            snapshot.last_tenant = Some(tenant);
        }
        let parts = &mut snapshot.parts;
        parts
            .push(default, &head)
            .and_then(|()| parts.push(default, &bytes))
            .map_err(|e| format!("cannot write the snapshot's part: {e}"))
    }

    fn finish_part(&mut self, snapshot: CoreSnapshot) -> Result<(), String> {
        let ms = snapshot.started.elapsed().as_millis() as u64;
        snapshot
            .parts
            .finish()
            .map_err(|e| format!("cannot write the snapshot's part: {e}"))?;
        tracing::info!(core = self.id, ms, "snapshot part written");
        Ok(())
    }

    fn cancel_snapshot(&mut self) {
        self.snapshot = None;
        for (_, _, shard) in self.keyspaces.iter_mut() {
            shard.cancel_snapshot();
        }
    }

    /// Tells the coordinator this core's part is written (or failed); the
    /// last part of a background save starts the files' assembly.
    fn part_done(&mut self, result: Result<(), String>) {
        if self.shared.saves.part_done(result) {
            Saves::assemble_in_background(self.shared.clone());
        }
    }

    /// Starts a background save when the `save` schedule calls for one
    /// (core 0 keeps the schedule).
    pub(super) fn check_save_schedule(&mut self) {
        if self.id == 0 && self.shared.saves.due() && self.shared.saves.begin(true).is_ok() {
            tracing::info!("save schedule reached: background saving started");
            self.shared.bell.ring_all();
        }
    }
}
