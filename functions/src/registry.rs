//! The registry: every tenant's libraries, shared by all cores.
//!
//! Each tenant's libraries are one immutable [`TenantLibraries`] snapshot
//! behind an `Arc` in a `DashMap` keyed by [`TenantId`]; a change builds a
//! new snapshot with a new version and swaps it in under the map's entry
//! lock, so readers (every FCALL) take a read lock for an `Arc` clone and
//! never see a half-applied change. Cores compare the version with the one
//! their isolate compiled and reinstall lazily when it moved.
//!
//! # Ids and names
//!
//! Everything here is keyed by the tenant's id; its name matters only on
//! disk (and in logs), because an id does not outlive the server. So the
//! server tells the registry who each id is:
//!
//! - [`Registry::bind`] when a tenant comes to exist: at startup for
//!   `default` and every tenant of the config or tenant file, and at the
//!   `ACL SETUSER` that creates a user. Libraries read from disk under that
//!   name are attached to the id then.
//! - [`Registry::unbind`] when it is deleted (`ACL DELUSER`): its libraries
//!   are dropped, in memory and on disk, so a tenant created later under
//!   the same name (a new id: the slot's generation moved) starts without
//!   them, as its keys do.
//!
//! A change for an id that is not bound (a late job of a deleted tenant)
//! is refused ([`FunctionError::UnknownTenant`]); reads of one find no
//! libraries. Libraries on disk whose name no tenant has at startup (a
//! tenant taken out of the config file) stay on disk, unserved, until a
//! tenant of that name is bound.
//!
//! Every change is written to the tenant's own file under
//! `<dir>/functions/` by a writer thread ([`crate::persist`]), and the files
//! are read back at startup, so functions survive a restart.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kiln_isolates::{FunctionMeta, TriggerMeta, Watch};
use kiln_store::TenantId;

use crate::error::FunctionError;
use crate::persist::{self, Shelf, Writer};

/// One loaded library.
#[derive(Debug)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// Its source, metadata line included.
    pub code: Arc<str>,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionMeta>,
    /// Its key triggers (`kiln.onKeyEvent`), in registration order.
    pub triggers: Vec<TriggerMeta>,
    /// V8's code cache for `code`, filled by the first core that compiles it.
    pub code_cache: OnceLock<Arc<[u8]>>,
    /// Why the library is out of service, when it passed `FUNCTION LOAD`
    /// but failed later, installed on a core (a top level that throws or
    /// runs past its budget only after a while). Its functions answer an
    /// error instead of running it again; `FUNCTION LIST` shows the reason;
    /// loading it anew (`REPLACE`) or deleting it clears it.
    pub quarantined: Option<String>,
    /// How long its top level (compile included) ran when it was loaded:
    /// what installing it on a core is expected to cost.
    pub run_time: Duration,
}

impl Library {
    /// A library with its functions and, if there is one, a code cache.
    pub fn new(
        name: String,
        code: Arc<str>,
        functions: Vec<FunctionMeta>,
        code_cache: Option<Vec<u8>>,
    ) -> Library {
        let cache = OnceLock::new();
        if let Some(bytes) = code_cache {
            let _ = cache.set(Arc::from(bytes));
        }
        Library {
            name,
            code,
            functions,
            triggers: Vec::new(),
            code_cache: cache,
            quarantined: None,
            run_time: Duration::ZERO,
        }
    }

    /// This library, out of service for `reason`.
    fn quarantine(&self, reason: String) -> Library {
        Library {
            name: self.name.clone(),
            code: self.code.clone(),
            functions: self.functions.clone(),
            triggers: self.triggers.clone(),
            code_cache: self.code_cache.clone(),
            quarantined: Some(reason),
            run_time: self.run_time,
        }
    }
}

/// One tenant's libraries at one version.
#[derive(Debug, Default)]
pub struct TenantLibraries {
    /// Stamped from the registry's counter at each change.
    pub version: u64,
    /// By name, in name order (`FUNCTION LIST` order).
    pub libraries: BTreeMap<String, Arc<Library>>,
    /// Function name → its library's name.
    pub functions: HashMap<String, String>,
}

impl TenantLibraries {
    fn with(libraries: BTreeMap<String, Arc<Library>>, version: u64) -> TenantLibraries {
        let functions = libraries
            .values()
            .flat_map(|lib| {
                lib.functions
                    .iter()
                    .map(|f| (f.name.clone(), lib.name.clone()))
            })
            .collect();
        TenantLibraries {
            version,
            libraries,
            functions,
        }
    }

    /// Number of functions over all libraries.
    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// A function's metadata.
    pub fn function(&self, name: &str) -> Option<&FunctionMeta> {
        let library = self.libraries.get(self.functions.get(name)?)?;
        library.functions.iter().find(|f| f.name == name)
    }

    /// The library that registered function `name` (or the trigger of
    /// that internal name, `<library>@<n>`).
    pub fn library_of(&self, name: &str) -> Option<&Arc<Library>> {
        match self.functions.get(name) {
            Some(library) => self.libraries.get(library),
            None => {
                let library = self.libraries.get(name.split_once('@')?.0)?;
                library
                    .triggers
                    .iter()
                    .any(|t| t.function == name)
                    .then_some(library)
            }
        }
    }

    /// Whether any library registers a key trigger.
    pub fn has_triggers(&self) -> bool {
        self.libraries.values().any(|l| !l.triggers.is_empty())
    }

    /// The triggers a change `event` of `key` fires, with their library.
    pub fn triggers_for<'a>(
        &'a self,
        key: &'a [u8],
        event: &'a str,
    ) -> impl Iterator<Item = (&'a Library, &'a TriggerMeta)> + 'a {
        self.libraries.values().flat_map(move |library| {
            library
                .triggers
                .iter()
                .filter(move |t| t.fires_on(key, event))
                .map(move |t| (&**library, t))
        })
    }
}

/// Caps on what a tenant may load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    /// Largest library source, in bytes.
    pub max_library_bytes: usize,
    /// Most functions per tenant, over all its libraries.
    pub max_functions: usize,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        RegistryLimits {
            max_library_bytes: 1 << 20,
            max_functions: 1000,
        }
    }
}

/// How `FUNCTION RESTORE` treats existing libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestorePolicy {
    /// Add; fail if a library already exists.
    #[default]
    Append,
    /// Replace libraries of the same name.
    Replace,
    /// Drop every library first.
    Flush,
}

/// All tenants' libraries.
pub struct Registry {
    shelf: Arc<Shelf>,
    /// Tenants unbound, ever: runtimes drop a deleted tenant's isolate and
    /// meter when it moves.
    unbinds: AtomicU64,
    version: AtomicU64,
    writer: Option<Writer>,
    limits: RegistryLimits,
    watches: Mutex<Vec<Arc<Watch>>>,
}

impl Registry {
    /// An empty registry kept only in memory.
    pub fn in_memory(limits: RegistryLimits) -> Registry {
        Registry {
            shelf: Arc::default(),
            unbinds: AtomicU64::new(0),
            version: AtomicU64::new(1),
            writer: None,
            limits,
            watches: Mutex::new(Vec::new()),
        }
    }

    /// The registry persisted under `dir`, loaded from its files. The
    /// libraries read belong to nobody until their tenants are bound
    /// ([`Registry::bind`]).
    pub fn open(dir: &Path, limits: RegistryLimits) -> Result<Registry, FunctionError> {
        let mut registry = Registry::in_memory(limits);
        let saved = persist::read_all(dir).map_err(FunctionError::Persist)?;
        {
            let mut names = registry.shelf.names();
            for (tenant, libraries) in saved {
                let libraries = libraries
                    .into_iter()
                    .map(|saved| {
                        let library = saved.into_library();
                        (library.name.clone(), Arc::new(library))
                    })
                    .collect();
                let version = registry.next_version();
                names.unclaimed.insert(
                    Arc::from(tenant),
                    Arc::new(TenantLibraries::with(libraries, version)),
                );
            }
        }
        persist::migrate(dir, &registry.shelf).map_err(FunctionError::Persist)?;
        let writer = Writer::start(dir, Arc::clone(&registry.shelf))
            .map_err(|e| FunctionError::Persist(format!("{}: {e}", dir.display())))?;
        registry.writer = Some(writer);
        Ok(registry)
    }

    /// Waits until every change so far is on disk (a no-op in memory).
    pub fn sync(&self) {
        if let Some(writer) = &self.writer {
            writer.sync();
        }
    }

    /// The caps it enforces.
    pub fn limits(&self) -> RegistryLimits {
        self.limits
    }

    fn next_version(&self) -> u64 {
        self.version.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Makes `id` the tenant called `name`: its changes are saved in that
    /// name's file from now on, and the libraries on disk under the name,
    /// if any, become its own. Binding an id to the name it already has
    /// does nothing. Names and ids pair one to one: a name bound to another
    /// id moves to `id` with its libraries (they are the name's file), and
    /// a name `id` had before keeps its libraries on disk, unclaimed.
    pub fn bind(&self, id: TenantId, name: &str) {
        let mut names = self.shelf.names();
        if names.by_id.get(&id).is_some_and(|bound| &**bound == name) {
            return;
        }
        if let Some(previous) = names.by_id.remove(&id) {
            names.by_name.remove(&previous);
            if let Some((_, libraries)) = self.shelf.libraries.remove(&id) {
                names.unclaimed.insert(previous, libraries);
            }
        }
        let name: Arc<str> = Arc::from(name);
        let carried = match names.by_name.remove(&name) {
            Some(other) => {
                names.by_id.remove(&other);
                self.shelf.libraries.remove(&other).map(|(_, l)| l)
            }
            None => names.unclaimed.remove(&name),
        };
        if let Some(libraries) = carried {
            tracing::debug!(tenant = %name, %id, libraries = libraries.libraries.len(), "function libraries attached");
            // A fresh version: no core's isolate for `id` holds them yet.
            let version = self.next_version();
            let libraries = TenantLibraries::with(libraries.libraries.clone(), version);
            self.shelf.libraries.insert(id, Arc::new(libraries));
        }
        names.by_name.insert(Arc::clone(&name), id);
        names.by_id.insert(id, name);
    }

    /// `id` is deleted: its libraries go, in memory and on disk (its file
    /// is removed soon), and later changes for it are refused. Whether it
    /// was bound.
    pub fn unbind(&self, id: TenantId) -> bool {
        let name = {
            let mut names = self.shelf.names();
            let Some(name) = names.by_id.remove(&id) else {
                return false;
            };
            names.by_name.remove(&name);
            self.shelf.libraries.remove(&id);
            self.unbinds.fetch_add(1, Ordering::Release);
            name
        };
        if let Some(writer) = &self.writer {
            writer.mark(name);
        }
        true
    }

    /// How many tenants were unbound so far: when it moves, a runtime
    /// looks for isolates of deleted tenants ([`Registry::is_bound`]).
    pub fn unbinds(&self) -> u64 {
        self.unbinds.load(Ordering::Acquire)
    }

    /// Whether `id` is bound (a live tenant).
    pub fn is_bound(&self, id: TenantId) -> bool {
        self.shelf.names().by_id.contains_key(&id)
    }

    /// The name `id` is bound to, if it is (logs and the like: never on a
    /// call's path).
    pub fn name(&self, id: TenantId) -> Option<Arc<str>> {
        self.shelf.names().by_id.get(&id).cloned()
    }

    /// `tenant`'s libraries now (empty if it has none).
    pub fn tenant(&self, tenant: TenantId) -> Arc<TenantLibraries> {
        self.shelf
            .libraries
            .get(&tenant)
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Applies `change` to `tenant`'s libraries atomically and saves;
    /// `change` is given the tenant's name too.
    fn change(
        &self,
        tenant: TenantId,
        change: impl FnOnce(
            &str,
            &TenantLibraries,
        ) -> Result<BTreeMap<String, Arc<Library>>, FunctionError>,
    ) -> Result<(), FunctionError> {
        let name = {
            let names = self.shelf.names();
            let name = names
                .by_id
                .get(&tenant)
                .cloned()
                .ok_or(FunctionError::UnknownTenant)?;
            let mut entry = self.shelf.libraries.entry(tenant).or_default();
            let libraries = change(&name, &entry)?;
            let next = TenantLibraries::with(libraries, self.next_version());
            if next.function_count() > self.limits.max_functions {
                return Err(FunctionError::TooManyFunctions(self.limits.max_functions));
            }
            *entry = Arc::new(next);
            name
        };
        if let Some(writer) = &self.writer {
            writer.mark(name);
        }
        Ok(())
    }

    /// Adds `library` (replacing one of the same name when `replace`).
    pub fn add(
        &self,
        tenant: TenantId,
        library: Library,
        replace: bool,
    ) -> Result<(), FunctionError> {
        let policy = if replace {
            RestorePolicy::Replace
        } else {
            RestorePolicy::Append
        };
        self.restore(tenant, vec![library], policy, Duration::MAX)
    }

    /// Adds several libraries under one policy (`FUNCTION RESTORE`), if
    /// installing all of the tenant's libraries afterwards is expected to
    /// fit `install_budget` (their top levels run again, one after another,
    /// whenever a core builds the tenant's isolate afresh).
    pub fn restore(
        &self,
        tenant: TenantId,
        libraries: Vec<Library>,
        policy: RestorePolicy,
        install_budget: Duration,
    ) -> Result<(), FunctionError> {
        self.change(tenant, |_, current| {
            let merged = merge(current, libraries, policy)?;
            let expected: Duration = merged
                .values()
                .filter(|lib| lib.quarantined.is_none())
                .map(|lib| lib.run_time)
                .sum();
            // The check admits no more than the budget; an install gets
            // twice the budget (`FunctionRuntime`), so a busy machine does not
            // turn a library that fit into a quarantined one.
            if expected > install_budget {
                return Err(FunctionError::InstallTooLong {
                    expected_ms: expected.as_millis(),
                    budget_ms: install_budget.as_millis(),
                });
            }
            Ok(merged)
        })
    }

    /// Deletes a library.
    pub fn delete(&self, tenant: TenantId, name: &str) -> Result<(), FunctionError> {
        self.change(tenant, |_, current| {
            let mut libraries = current.libraries.clone();
            libraries
                .remove(name)
                .ok_or(FunctionError::LibraryNotFound)?;
            Ok(libraries)
        })
    }

    /// Puts `library` out of service for `reason`, if it is still the
    /// tenant's library of that name (a `REPLACE` since then wins).
    pub fn quarantine(
        &self,
        tenant: TenantId,
        library: &Arc<Library>,
        reason: String,
    ) -> Result<(), FunctionError> {
        self.change(tenant, |name, current| {
            let mut libraries = current.libraries.clone();
            if let Some(entry) = libraries.get_mut(&library.name)
                && Arc::ptr_eq(entry, library)
            {
                tracing::warn!(tenant = name, library = %library.name, %reason, "library quarantined");
                *entry = Arc::new(library.quarantine(reason));
            }
            Ok(libraries)
        })
    }

    /// Deletes all of a tenant's libraries.
    pub fn flush(&self, tenant: TenantId) -> Result<(), FunctionError> {
        self.change(tenant, |_, _| Ok(BTreeMap::new()))
    }

    /// Registers a core's watch, so `FUNCTION KILL` can reach its calls.
    pub fn add_watch(&self, watch: Arc<Watch>) {
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(watch);
    }

    /// Terminates `tenant`'s running calls on every core; whether any ran.
    pub fn kill(&self, tenant: TenantId) -> bool {
        let watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches
            .iter()
            .fold(false, |killed, watch| watch.kill(tenant) | killed)
    }
}

/// `current` with `incoming` added under `policy`, checking names.
fn merge(
    current: &TenantLibraries,
    incoming: Vec<Library>,
    policy: RestorePolicy,
) -> Result<BTreeMap<String, Arc<Library>>, FunctionError> {
    let mut libraries = match policy {
        RestorePolicy::Flush => BTreeMap::new(),
        _ => current.libraries.clone(),
    };
    for library in incoming {
        if libraries.contains_key(&library.name) && policy != RestorePolicy::Replace {
            return Err(FunctionError::LibraryExists(library.name));
        }
        libraries.insert(library.name.clone(), Arc::new(library));
    }
    let mut owners = HashMap::new();
    for library in libraries.values() {
        for function in &library.functions {
            if owners
                .insert(function.name.as_str(), library.name.as_str())
                .is_some()
            {
                return Err(FunctionError::FunctionExists(function.name.clone()));
            }
        }
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use kiln_isolates::FunctionFlags;

    use super::*;

    const A: TenantId = TenantId::new(1, 0);
    const B: TenantId = TenantId::new(2, 0);
    const C: TenantId = TenantId::new(3, 0);

    /// `registry` with `a`, `b` and `c` bound to `A`, `B` and `C`.
    fn bound(registry: Registry) -> Registry {
        registry.bind(A, "a");
        registry.bind(B, "b");
        registry.bind(C, "c");
        registry
    }

    fn lib(name: &str, functions: &[&str]) -> Library {
        let functions = functions
            .iter()
            .map(|f| FunctionMeta {
                name: f.to_string(),
                flags: FunctionFlags::default(),
                description: None,
            })
            .collect();
        Library::new(
            name.into(),
            Arc::from(format!("#!js name={name}")),
            functions,
            None,
        )
    }

    #[test]
    fn names_are_unique_within_a_tenant_only() {
        let r = bound(Registry::in_memory(RegistryLimits::default()));
        r.add(A, lib("l1", &["f", "g"]), false).unwrap();
        assert_eq!(
            r.add(A, lib("l1", &["h"]), false),
            Err(FunctionError::LibraryExists("l1".into()))
        );
        assert_eq!(
            r.add(A, lib("l2", &["f"]), false),
            Err(FunctionError::FunctionExists("f".into()))
        );
        r.add(B, lib("l1", &["f"]), false).unwrap();
        r.add(A, lib("l1", &["h"]), true).unwrap();
        let a = r.tenant(A);
        assert_eq!(a.function_count(), 1);
        assert!(a.function("h").is_some() && a.function("f").is_none());
        assert_eq!(r.tenant(B).function_count(), 1);
    }

    #[test]
    fn every_change_moves_the_version() {
        let r = bound(Registry::in_memory(RegistryLimits::default()));
        let v0 = r.tenant(A).version;
        r.add(A, lib("l1", &["f"]), false).unwrap();
        let v1 = r.tenant(A).version;
        assert!(v1 > v0);
        assert_eq!(r.delete(A, "nope"), Err(FunctionError::LibraryNotFound));
        assert_eq!(r.tenant(A).version, v1, "a failed change changes nothing");
        r.delete(A, "l1").unwrap();
        assert!(r.tenant(A).version > v1);
    }

    #[test]
    fn function_count_is_capped() {
        let r = bound(Registry::in_memory(RegistryLimits {
            max_functions: 2,
            ..RegistryLimits::default()
        }));
        r.add(A, lib("l1", &["f", "g"]), false).unwrap();
        assert_eq!(
            r.add(A, lib("l2", &["h"]), false),
            Err(FunctionError::TooManyFunctions(2))
        );
    }

    #[test]
    fn restore_policies() {
        let r = bound(Registry::in_memory(RegistryLimits::default()));
        r.add(A, lib("l1", &["f"]), false).unwrap();
        assert_eq!(
            r.restore(
                A,
                vec![lib("l1", &["g"])],
                RestorePolicy::Append,
                Duration::MAX
            ),
            Err(FunctionError::LibraryExists("l1".into()))
        );
        r.restore(
            A,
            vec![lib("l1", &["g"]), lib("l2", &["h"])],
            RestorePolicy::Replace,
            Duration::MAX,
        )
        .unwrap();
        assert_eq!(r.tenant(A).libraries.len(), 2);
        r.restore(
            A,
            vec![lib("l3", &["f"])],
            RestorePolicy::Flush,
            Duration::MAX,
        )
        .unwrap();
        assert_eq!(r.tenant(A).libraries.keys().collect::<Vec<_>>(), vec!["l3"]);
    }

    #[test]
    fn libraries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
            let mut l = lib("l1", &["f"]);
            l.functions[0].flags.no_writes = true;
            l.functions[0].description = Some("d".into());
            r.add(A, l, false).unwrap();
            r.add(B, lib("l2", &["g"]), false).unwrap();
            r.flush(B).unwrap();
        }
        let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
        let a = r.tenant(A);
        let f = a.function("f").unwrap();
        assert!(f.flags.no_writes);
        assert_eq!(f.description.as_deref(), Some("d"));
        assert_eq!(&*a.libraries["l1"].code, "#!js name=l1");
        assert!(r.tenant(B).libraries.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_registry() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(persist::LEGACY_FILE), b"{not json").unwrap();
        assert!(matches!(
            Registry::open(dir.path(), RegistryLimits::default()),
            Err(FunctionError::Persist(_))
        ));
    }

    #[test]
    fn each_tenant_has_its_own_file_and_the_old_single_file_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = r##"{"version":1,"tenants":{"old":[{"name":"l0","code":"#!js name=l0","functions":[{"name":"f0"}]}]}}"##;
        std::fs::write(dir.path().join(persist::LEGACY_FILE), legacy).unwrap();
        let files = || {
            let mut names: Vec<String> = std::fs::read_dir(dir.path().join(persist::DIR_NAME))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        {
            let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
            assert!(!dir.path().join(persist::LEGACY_FILE).exists(), "migrated");
            r.bind(OLD, "old");
            r.bind(ODD, "a/../b");
            assert_eq!(r.tenant(OLD).function_count(), 1);
            r.add(ODD, lib("l1", &["f"]), false).unwrap();
            r.sync();
            // "old", hex-encoded.
            let old = dir
                .path()
                .join(persist::DIR_NAME)
                .join("tenant-6f6c64.json");
            let before = std::fs::read(&old).unwrap();
            r.add(C, lib("l2", &["g"]), false).unwrap();
            r.sync();
            assert_eq!(files().len(), 3, "{:?}", files());
            let after = std::fs::read(&old).unwrap();
            assert_eq!(before, after, "a change writes only its tenant's file");
            r.flush(C).unwrap();
        }
        assert_eq!(files().len(), 2, "an emptied tenant's file is removed");
        let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
        r.bind(OLD, "old");
        r.bind(ODD, "a/../b");
        assert_eq!(r.tenant(OLD).function_count(), 1);
        assert_eq!(r.tenant(ODD).function_count(), 1);
        assert!(r.tenant(C).libraries.is_empty());
    }

    const OLD: TenantId = TenantId::new(4, 0);
    const ODD: TenantId = TenantId::new(5, 0);

    #[test]
    fn libraries_follow_the_name_to_the_id_it_has_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
            r.add(A, lib("la", &["f"]), false).unwrap();
            r.add(B, lib("lb", &["g"]), false).unwrap();
        }
        // The next run issues other ids (another slot order, say).
        let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
        assert!(
            r.tenant(A).libraries.is_empty(),
            "nothing is served unbound"
        );
        let (new_a, new_b) = (TenantId::new(7, 0), TenantId::new(1, 0));
        r.bind(new_a, "a");
        r.bind(new_b, "b");
        assert!(r.tenant(new_a).function("f").is_some());
        assert!(r.tenant(new_b).function("g").is_some());
        assert_eq!(r.name(new_a).as_deref(), Some("a"));
        // Binding again changes nothing, not even the version.
        let version = r.tenant(new_a).version;
        r.bind(new_a, "a");
        assert_eq!(r.tenant(new_a).version, version);
    }

    #[test]
    fn a_deleted_tenants_libraries_go_and_a_new_one_of_its_name_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(persist::DIR_NAME).join("tenant-61.json");
        let new_a = TenantId::new(A.index(), A.generation() + 1);
        {
            let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
            r.add(A, lib("la", &["f"]), false).unwrap();
            r.sync();
            assert!(file.exists());
            let before = r.unbinds();
            assert!(r.unbind(A));
            assert!(!r.unbind(A), "once");
            assert!(r.unbinds() > before);
            assert!(!r.is_bound(A) && r.name(A).is_none());
            assert!(r.tenant(A).libraries.is_empty());
            // A late change of the deleted tenant is refused, not kept.
            assert_eq!(
                r.add(A, lib("late", &["h"]), false),
                Err(FunctionError::UnknownTenant)
            );
            assert_eq!(r.flush(A), Err(FunctionError::UnknownTenant));
            r.sync();
            assert!(!file.exists(), "its file is removed");
            // The slot's next tenant, under the same name, starts empty.
            r.bind(new_a, "a");
            assert!(r.tenant(new_a).libraries.is_empty());
            r.add(new_a, lib("la2", &["f2"]), false).unwrap();
        }
        let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
        r.bind(new_a, "a");
        let a = r.tenant(new_a);
        assert!(a.function("f2").is_some() && a.function("f").is_none());
    }

    #[test]
    fn libraries_of_a_name_nobody_has_wait_on_disk_until_one_is_bound() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(persist::DIR_NAME).join("tenant-61.json");
        {
            let r = bound(Registry::open(dir.path(), RegistryLimits::default()).unwrap());
            r.add(A, lib("la", &["f"]), false).unwrap();
        }
        {
            // `a` left the config: its file stays, its libraries unserved.
            let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
            r.bind(B, "b");
            r.add(B, lib("lb", &["g"]), false).unwrap();
            r.sync();
            assert!(file.exists());
            assert!(r.tenant(A).libraries.is_empty());
            // `ACL SETUSER a` later: they are its again.
            r.bind(C, "a");
            assert!(r.tenant(C).function("f").is_some());
        }
        assert!(file.exists());
    }

    #[test]
    fn names_and_ids_pair_one_to_one() {
        let r = bound(Registry::in_memory(RegistryLimits::default()));
        r.add(A, lib("la", &["f"]), false).unwrap();
        // The name `a` moves to another id, with its libraries.
        r.bind(ODD, "a");
        assert!(!r.is_bound(A));
        assert!(r.tenant(A).libraries.is_empty());
        assert!(r.tenant(ODD).function("f").is_some());
        // An id bound to a new name leaves its old name's libraries
        // unclaimed, to go back to whoever is bound to that name next.
        r.bind(ODD, "z");
        assert!(r.tenant(ODD).libraries.is_empty());
        assert_eq!(r.name(ODD).as_deref(), Some("z"));
        r.bind(OLD, "a");
        assert!(r.tenant(OLD).function("f").is_some());
    }
}
