//! The registry on disk: one file per tenant under `<dir>/functions/`,
//! named after the tenant's *name* (the one thing that survives a restart:
//! a [`TenantId`] is issued anew each time the server starts), written by a
//! thread of its own.
//!
//! A change marks its tenant's name dirty and returns; the writer thread
//! wakes, takes every name marked since it last looked, writes the file of
//! whatever that name holds now — the libraries of the id bound to it, or
//! of nobody (the tenant was deleted: the file goes) — (temporary file,
//! fsync, rename) and fsyncs the directory once for the batch. So a
//! `FUNCTION LOAD` costs its core neither a serialization of every tenant's
//! libraries nor an fsync, and many loads share one directory fsync.
//! [`Writer::sync`] waits until everything marked before it is on disk (the
//! server calls it when it stops).
//!
//! The single `kiln-functions.json` of earlier versions is read at start,
//! rewritten as per-tenant files and removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use dashmap::DashMap;
use kiln_isolates::{FunctionFlags, FunctionMeta, TriggerMeta};
use kiln_store::TenantId;
use serde::{Deserialize, Serialize};

use crate::registry::{Library, TenantLibraries};

/// The folder of tenant files under the data directory.
pub const DIR_NAME: &str = "functions";
/// The one-file registry of earlier versions, under the data directory.
pub const LEGACY_FILE: &str = "kiln-functions.json";

/// Everything the registry holds, as it shares it with the writer thread.
#[derive(Default)]
pub(crate) struct Shelf {
    /// Every bound tenant's libraries, by id: what each `FCALL` reads.
    pub(crate) libraries: DashMap<TenantId, Arc<TenantLibraries>>,
    /// Who each id is, and the libraries on disk no id has claimed.
    /// Changes to libraries take this lock first (then the map's entry),
    /// so a binding never moves under a change; `FCALL` never takes it.
    pub(crate) names: Mutex<Names>,
}

/// The tenant names the registry knows: the bound ids, both ways, and the
/// libraries read from disk whose name no id is bound to.
#[derive(Default)]
pub(crate) struct Names {
    pub(crate) by_id: HashMap<TenantId, Arc<str>>,
    pub(crate) by_name: HashMap<Arc<str>, TenantId>,
    /// Read at start for a name no tenant has (yet): kept, file and all,
    /// until a tenant of that name is bound (a tenant taken out of the
    /// config file and put back finds its libraries again, as it always
    /// did), never served to anyone.
    pub(crate) unclaimed: HashMap<Arc<str>, Arc<TenantLibraries>>,
}

impl Shelf {
    /// Locks the names (never poisoned for good: a panic elsewhere leaves
    /// them consistent, every change to them being one insert or remove).
    pub(crate) fn names(&self) -> MutexGuard<'_, Names> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the file of `name` should hold now: the libraries of the id
    /// bound to it, or its unclaimed ones.
    fn saved(&self, name: &str) -> Option<Arc<TenantLibraries>> {
        let names = self.names();
        match names.by_name.get(name) {
            Some(id) => self.libraries.get(id).map(|t| Arc::clone(&t)),
            None => names.unclaimed.get(name).cloned(),
        }
    }
}

/// One tenant's file: its name and its libraries.
#[derive(Serialize, Deserialize)]
struct LibrariesFile {
    version: u32,
    tenant: String,
    libraries: Vec<SavedLibrary>,
}

/// The legacy file: every tenant at once.
#[derive(Deserialize)]
struct LegacyFile {
    tenants: BTreeMap<String, Vec<SavedLibrary>>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct SavedLibrary {
    name: String,
    code: String,
    functions: Vec<SavedFunction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quarantined: Option<String>,
    /// [`Library::run_time`], in microseconds.
    #[serde(default)]
    run_time_us: u64,
    /// Its key triggers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    triggers: Vec<SavedTrigger>,
}

#[derive(Serialize, Deserialize)]
struct SavedTrigger {
    function: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    events: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedFunction {
    name: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

impl SavedLibrary {
    fn of(library: &Library) -> SavedLibrary {
        SavedLibrary {
            name: library.name.clone(),
            code: library.code.to_string(),
            quarantined: library.quarantined.clone(),
            run_time_us: u64::try_from(library.run_time.as_micros()).unwrap_or(u64::MAX),
            triggers: library
                .triggers
                .iter()
                .map(|t| SavedTrigger {
                    function: t.function.clone(),
                    prefix: t.prefix.clone(),
                    events: t.events.clone(),
                })
                .collect(),
            functions: library
                .functions
                .iter()
                .map(|f| SavedFunction {
                    name: f.name.clone(),
                    flags: f.flags.names().into_iter().map(String::from).collect(),
                    description: f.description.clone(),
                })
                .collect(),
        }
    }

    /// The library it describes (its code cache is rebuilt on first use).
    pub(crate) fn into_library(self) -> Library {
        let functions = self
            .functions
            .into_iter()
            .map(|f| FunctionMeta {
                name: f.name,
                flags: FunctionFlags::from_names(f.flags.iter().map(String::as_str)),
                description: f.description,
            })
            .collect();
        let mut library = Library::new(self.name, Arc::from(self.code), functions, None);
        library.quarantined = self.quarantined;
        library.triggers = self
            .triggers
            .into_iter()
            .map(|t| TriggerMeta {
                function: t.function,
                prefix: t.prefix,
                events: t.events,
            })
            .collect();
        library.run_time = std::time::Duration::from_micros(self.run_time_us);
        library
    }
}

/// Every tenant's saved libraries under `dir`: the tenant files, and the
/// legacy file's tenants that have none. A file that does not parse is an
/// error, never an empty registry.
pub(crate) fn read_all(dir: &Path) -> Result<BTreeMap<String, Vec<SavedLibrary>>, String> {
    let mut tenants = BTreeMap::new();
    let legacy = dir.join(LEGACY_FILE);
    if let Some(bytes) = read_if_present(&legacy)? {
        let file: LegacyFile =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", legacy.display()))?;
        tenants.extend(file.tenants);
    }
    let folder = dir.join(DIR_NAME);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tenants),
        Err(e) => return Err(format!("{}: {e}", folder.display())),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: {e}", folder.display()))?
            .path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: LibrariesFile =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        tenants.insert(file.tenant, file.libraries);
    }
    Ok(tenants)
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes every tenant read at start (all unclaimed yet) now and removes
/// the legacy file: the one-time move to per-tenant files.
pub(crate) fn migrate(dir: &Path, shelf: &Shelf) -> Result<(), String> {
    let legacy = dir.join(LEGACY_FILE);
    if !legacy.exists() {
        return Ok(());
    }
    let folder = dir.join(DIR_NAME);
    fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let unclaimed: Vec<(Arc<str>, Arc<TenantLibraries>)> = shelf
        .names()
        .unclaimed
        .iter()
        .map(|(name, libraries)| (Arc::clone(name), Arc::clone(libraries)))
        .collect();
    for (name, libraries) in unclaimed {
        write_tenant(&folder, &name, Some(&libraries))
            .map_err(|e| format!("{}: {e}", folder.display()))?;
    }
    sync_dir(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    fs::remove_file(&legacy).map_err(|e| format!("{}: {e}", legacy.display()))?;
    sync_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// The file of `tenant` under `folder`: its name hex-encoded, so any
/// tenant name is a safe file name.
fn tenant_path(folder: &Path, tenant: &str) -> PathBuf {
    let hex: String = tenant.bytes().map(|b| format!("{b:02x}")).collect();
    folder.join(format!("tenant-{hex}.json"))
}

/// Writes `tenant`'s file, or removes it when it has no libraries.
fn write_tenant(
    folder: &Path,
    tenant: &str,
    libraries: Option<&Arc<TenantLibraries>>,
) -> std::io::Result<()> {
    let path = tenant_path(folder, tenant);
    let libraries: Vec<SavedLibrary> = libraries
        .map(|t| t.libraries.values().map(|l| SavedLibrary::of(l)).collect())
        .unwrap_or_default();
    if libraries.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let json = serde_json::to_vec_pretty(&LibrariesFile {
        version: 1,
        tenant: tenant.to_owned(),
        libraries,
    })
    .map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut out = fs::File::create(&tmp)?;
        out.write_all(&json)?;
        out.sync_all()?;
    }
    fs::rename(&tmp, &path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// What the registry and its writer thread share.
#[derive(Default)]
struct Queue {
    /// Tenant names whose files are to be written.
    dirty: BTreeSet<Arc<str>>,
    /// Changes marked, ever.
    marked: u64,
    /// Of those, how many the writer has written (or tried to).
    written: u64,
    stop: bool,
}

/// The writer thread and its queue.
pub(crate) struct Writer {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// How long a tenant whose file could not be written waits to be tried
/// again.
const RETRY: Duration = Duration::from_secs(1);

impl Writer {
    /// Starts the thread writing the files of `shelf`'s tenants under
    /// `<dir>/functions/`.
    pub(crate) fn start(dir: &Path, shelf: Arc<Shelf>) -> std::io::Result<Writer> {
        let folder = dir.join(DIR_NAME);
        fs::create_dir_all(&folder)?;
        let shared: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let queue = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kiln-functions-writer".into())
            .spawn(move || write_loop(&folder, &shelf, &queue))?;
        Ok(Writer {
            shared,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant called `name` changed (or is gone): its file is written
    /// (or removed) soon.
    pub(crate) fn mark(&self, name: Arc<str>) {
        let mut queue = self.lock();
        queue.dirty.insert(name);
        queue.marked += 1;
        self.shared.1.notify_all();
    }

    /// Waits until every change marked so far has been written (or failed
    /// and been logged).
    pub(crate) fn sync(&self) {
        let mut queue = self.lock();
        let target = queue.marked;
        while queue.written < target && !queue.stop {
            queue = self.shared.1.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.sync();
        self.lock().stop = true;
        self.shared.1.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(folder: &Path, shelf: &Shelf, shared: &(Mutex<Queue>, Condvar)) {
    let (lock, wake) = shared;
    let relock = || lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let (batch, target) = {
            let mut queue = relock();
            while queue.dirty.is_empty() && !queue.stop {
                queue = wake.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
            if queue.dirty.is_empty() {
                return;
            }
            (std::mem::take(&mut queue.dirty), queue.marked)
        };
        let mut failed = BTreeSet::new();
        for tenant in batch {
            let snapshot = shelf.saved(&tenant);
            if let Err(error) = write_tenant(folder, &tenant, snapshot.as_ref()) {
                tracing::error!(%tenant, %error, "could not save functions");
                failed.insert(tenant);
            }
        }
        if let Err(error) = sync_dir(folder) {
            tracing::error!(folder = %folder.display(), %error, "could not sync the functions folder");
        }
        let retry = !failed.is_empty();
        {
            let mut queue = relock();
            queue.written = target;
            queue.dirty.extend(failed);
            wake.notify_all();
        }
        if retry {
            if relock().stop {
                return;
            }
            std::thread::sleep(RETRY);
        }
    }
}
