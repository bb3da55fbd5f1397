//! Reading an RDB snapshot back at start ([`super::loading`]): each core
//! streams the files and keeps the keys of its own slots.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Instant;

use kiln_persist::rdb::file::{FileReader, Item, TENANT_AUX};
use kiln_store::Record;

use super::Engine;
use super::loading::Loading;
use crate::shared::unix_ms;
use crate::tenant::TenantId;

/// The snapshot files still to read, and where the reading is.
pub struct SnapshotLoad {
    files: VecDeque<PathBuf>,
    current: Option<(PathBuf, FileReader<BufReader<File>>)>,
    /// Whose keys the entries are; `None` for a tenant that is gone (or a
    /// database other than 0), whose entries are skipped.
    tenant: Option<TenantId>,
    keys: u64,
    expired: u64,
    skipped: u64,
}

impl SnapshotLoad {
    /// The reading of `files`, in order.
    pub fn new(files: Vec<PathBuf>) -> SnapshotLoad {
        SnapshotLoad {
            files: files.into(),
            current: None,
            tenant: Some(TenantId::DEFAULT),
            keys: 0,
            expired: 0,
            skipped: 0,
        }
    }
}

impl Engine {
    /// Loads snapshot entries until `until`; at the end, the core serves.
    pub(super) fn load_snapshot_some(&mut self, mut loading: Loading, until: Instant) {
        let Some(mut load) = loading.take_snapshot() else {
            return;
        };
        let outcome = loop {
            match self.load_entries(&mut load, until) {
                Ok(true) => break Ok(true),
                Ok(false) if Instant::now() >= until => break Ok(false),
                Ok(false) => {}
                Err(why) => break Err(why),
            }
        };
        match outcome {
            Ok(false) => {
                loading.put_snapshot(load);
                self.loading = Some(loading);
            }
            Ok(true) => {
                tracing::info!(
                    core = self.id,
                    keys = load.keys,
                    expired = load.expired,
                    skipped = load.skipped,
                    ms = loading.elapsed().as_millis() as u64,
                    "snapshot loaded"
                );
                self.finish_loading(loading);
            }
            Err(why) => self
                .shared
                .fail(format!("core {}: cannot load the snapshot: {why}", self.id)),
        }
    }

    /// Reads up to a batch of items; `true` once every file is read.
    fn load_entries(&mut self, load: &mut SnapshotLoad, until: Instant) -> Result<bool, String> {
        if load.current.is_none() {
            let Some(path) = load.files.pop_front() else {
                return Ok(true);
            };
            let file =
                File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let reader = FileReader::new(BufReader::new(file), self.load_budget())
                .map_err(|e| format!("{} is corrupt: {e}", path.display()))?;
            tracing::info!(core = self.id, file = %path.display(), version = reader.version(), "loading snapshot");
            load.tenant = Some(TenantId::DEFAULT);
            load.current = Some((path, reader));
        }
        let limits = self.shared.runtime.encoding_limits().0;
        let now = unix_ms();
        let (path, reader) = load.current.as_mut().expect("a file is open");
        let mut read = 0u32;
        loop {
            read = read.wrapping_add(1);
            if read.is_multiple_of(64) && Instant::now() >= until {
                return Ok(false);
            }
            let item = reader
                .next_item()
                .map_err(|e| format!("{} is corrupt: {e}", path.display()))?;
            let Some(item) = item else {
                load.current = None;
                return Ok(load.files.is_empty());
            };
            match item {
                Item::Aux(name, value) if name == TENANT_AUX.as_bytes() => {
                    let name = String::from_utf8_lossy(&value);
                    load.tenant = self.shared.tenants.id_of(&name);
                    if load.tenant.is_none() {
                        tracing::warn!(core = self.id, tenant = %name, "snapshot names a tenant that no longer exists: its keys are skipped");
                    }
                }
                Item::Aux(..) => {}
                Item::SelectDb(0) => {}
                Item::SelectDb(db) => {
                    tracing::warn!(
                        core = self.id,
                        db,
                        "Kiln has one database per tenant: the keys of database {db} are skipped"
                    );
                    load.tenant = None;
                }
                Item::Function(_) => {
                    tracing::warn!(
                        core = self.id,
                        "the snapshot holds a Lua function library, which Kiln cannot run: skipped"
                    );
                }
                Item::Entry {
                    key,
                    value,
                    expire_at,
                } => {
                    if self.shared.slots.owner_of(&key) != self.id {
                        continue;
                    }
                    let Some(tenant) = load.tenant else {
                        load.skipped += 1;
                        continue;
                    };
                    if expire_at.is_some_and(|at| at <= now) {
                        load.expired += 1;
                        continue;
                    }
                    let record =
                        Record::new(crate::commands::dump::build(value, &limits), expire_at);
                    if let Some(shard) = self.keyspaces.get_mut(tenant.index(), tenant.generation())
                    {
                        shard.put_record(&key, record, true);
                        load.keys += 1;
                    }
                }
            }
        }
    }

    /// Decoded bytes one snapshot entry may take: a value the protocol
    /// could not have written is refused.
    fn load_budget(&self) -> usize {
        (self.shared.settings.proto_max_bulk_len as usize).saturating_mul(4)
    }
}
