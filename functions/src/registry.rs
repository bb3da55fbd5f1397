//! The registry: every tenant's libraries, shared by all cores.
//!
//! Each tenant's libraries are one immutable [`TenantLibraries`] snapshot
//! behind an `Arc` in a `DashMap`; a change builds a new snapshot with a new
//! version and swaps it in under the map's entry lock, so readers (every
//! FCALL) take a read lock for an `Arc` clone and never see a half-applied
//! change. Cores compare the version with the one their isolate compiled
//! and reinstall lazily when it moved.
//!
//! Every change is written to the tenant's own file under
//! `<dir>/functions/` by a writer thread ([`crate::persist`]), and the files
//! are read back at startup, so functions survive a restart.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use kiln_isolates::{FunctionMeta, Watch};

use crate::error::FunctionError;
use crate::persist::{self, Writer};

/// One loaded library.
#[derive(Debug)]
pub struct Library {
    /// Its name.
    pub name: String,
    /// Its source, metadata line included.
    pub code: Arc<str>,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionMeta>,
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

    /// The library that registered function `name`.
    pub fn library_of(&self, name: &str) -> Option<&Arc<Library>> {
        self.libraries.get(self.functions.get(name)?)
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
    tenants: persist::Tenants,
    version: AtomicU64,
    writer: Option<Writer>,
    limits: RegistryLimits,
    watches: Mutex<Vec<Arc<Watch>>>,
}

impl Registry {
    /// An empty registry kept only in memory.
    pub fn in_memory(limits: RegistryLimits) -> Registry {
        Registry {
            tenants: Arc::new(DashMap::new()),
            version: AtomicU64::new(1),
            writer: None,
            limits,
            watches: Mutex::new(Vec::new()),
        }
    }

    /// The registry persisted under `dir`, loaded from its files.
    pub fn open(dir: &Path, limits: RegistryLimits) -> Result<Registry, FunctionError> {
        let mut registry = Registry::in_memory(limits);
        let saved = persist::read_all(dir).map_err(FunctionError::Persist)?;
        for (tenant, libraries) in saved {
            let libraries = libraries
                .into_iter()
                .map(|saved| {
                    let library = saved.into_library();
                    (library.name.clone(), Arc::new(library))
                })
                .collect();
            let version = registry.next_version();
            registry
                .tenants
                .insert(tenant, Arc::new(TenantLibraries::with(libraries, version)));
        }
        persist::migrate(dir, &registry.tenants).map_err(FunctionError::Persist)?;
        let writer = Writer::start(dir, Arc::clone(&registry.tenants))
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

    /// `tenant`'s libraries now (empty if it has none).
    pub fn tenant(&self, tenant: &str) -> Arc<TenantLibraries> {
        self.tenants
            .get(tenant)
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// Applies `change` to `tenant`'s libraries atomically and saves.
    fn change(
        &self,
        tenant: &str,
        change: impl FnOnce(&TenantLibraries) -> Result<BTreeMap<String, Arc<Library>>, FunctionError>,
    ) -> Result<(), FunctionError> {
        {
            let mut entry = self.tenants.entry(tenant.to_owned()).or_default();
            let libraries = change(&entry)?;
            let next = TenantLibraries::with(libraries, self.next_version());
            if next.function_count() > self.limits.max_functions {
                return Err(FunctionError::TooManyFunctions(self.limits.max_functions));
            }
            *entry = Arc::new(next);
        }
        if let Some(writer) = &self.writer {
            writer.mark(tenant);
        }
        Ok(())
    }

    /// Adds `library` (replacing one of the same name when `replace`).
    pub fn add(&self, tenant: &str, library: Library, replace: bool) -> Result<(), FunctionError> {
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
        tenant: &str,
        libraries: Vec<Library>,
        policy: RestorePolicy,
        install_budget: Duration,
    ) -> Result<(), FunctionError> {
        self.change(tenant, |current| {
            let merged = merge(current, libraries, policy)?;
            let expected: Duration = merged
                .values()
                .filter(|lib| lib.quarantined.is_none())
                .map(|lib| lib.run_time)
                .sum();
            // The check admits no more than the budget; an install gets
            // twice the budget (`Runtime`), so a busy machine does not
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
    pub fn delete(&self, tenant: &str, name: &str) -> Result<(), FunctionError> {
        self.change(tenant, |current| {
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
        tenant: &str,
        library: &Arc<Library>,
        reason: String,
    ) -> Result<(), FunctionError> {
        self.change(tenant, |current| {
            let mut libraries = current.libraries.clone();
            if let Some(entry) = libraries.get_mut(&library.name)
                && Arc::ptr_eq(entry, library)
            {
                tracing::warn!(tenant, library = %library.name, %reason, "library quarantined");
                *entry = Arc::new(library.quarantine(reason));
            }
            Ok(libraries)
        })
    }

    /// Deletes all of a tenant's libraries.
    pub fn flush(&self, tenant: &str) -> Result<(), FunctionError> {
        self.change(tenant, |_| Ok(BTreeMap::new()))
    }

    /// Registers a core's watch, so `FUNCTION KILL` can reach its calls.
    pub fn add_watch(&self, watch: Arc<Watch>) {
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(watch);
    }

    /// Terminates `tenant`'s running calls on every core; whether any ran.
    pub fn kill(&self, tenant: &str) -> bool {
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
        let r = Registry::in_memory(RegistryLimits::default());
        r.add("a", lib("l1", &["f", "g"]), false).unwrap();
        assert_eq!(
            r.add("a", lib("l1", &["h"]), false),
            Err(FunctionError::LibraryExists("l1".into()))
        );
        assert_eq!(
            r.add("a", lib("l2", &["f"]), false),
            Err(FunctionError::FunctionExists("f".into()))
        );
        r.add("b", lib("l1", &["f"]), false).unwrap();
        r.add("a", lib("l1", &["h"]), true).unwrap();
        let a = r.tenant("a");
        assert_eq!(a.function_count(), 1);
        assert!(a.function("h").is_some() && a.function("f").is_none());
        assert_eq!(r.tenant("b").function_count(), 1);
    }

    #[test]
    fn every_change_moves_the_version() {
        let r = Registry::in_memory(RegistryLimits::default());
        let v0 = r.tenant("a").version;
        r.add("a", lib("l1", &["f"]), false).unwrap();
        let v1 = r.tenant("a").version;
        assert!(v1 > v0);
        assert_eq!(r.delete("a", "nope"), Err(FunctionError::LibraryNotFound));
        assert_eq!(r.tenant("a").version, v1, "a failed change changes nothing");
        r.delete("a", "l1").unwrap();
        assert!(r.tenant("a").version > v1);
    }

    #[test]
    fn function_count_is_capped() {
        let r = Registry::in_memory(RegistryLimits {
            max_functions: 2,
            ..RegistryLimits::default()
        });
        r.add("a", lib("l1", &["f", "g"]), false).unwrap();
        assert_eq!(
            r.add("a", lib("l2", &["h"]), false),
            Err(FunctionError::TooManyFunctions(2))
        );
    }

    #[test]
    fn restore_policies() {
        let r = Registry::in_memory(RegistryLimits::default());
        r.add("a", lib("l1", &["f"]), false).unwrap();
        assert_eq!(
            r.restore(
                "a",
                vec![lib("l1", &["g"])],
                RestorePolicy::Append,
                Duration::MAX
            ),
            Err(FunctionError::LibraryExists("l1".into()))
        );
        r.restore(
            "a",
            vec![lib("l1", &["g"]), lib("l2", &["h"])],
            RestorePolicy::Replace,
            Duration::MAX,
        )
        .unwrap();
        assert_eq!(r.tenant("a").libraries.len(), 2);
        r.restore(
            "a",
            vec![lib("l3", &["f"])],
            RestorePolicy::Flush,
            Duration::MAX,
        )
        .unwrap();
        assert_eq!(
            r.tenant("a").libraries.keys().collect::<Vec<_>>(),
            vec!["l3"]
        );
    }

    #[test]
    fn libraries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
            let mut l = lib("l1", &["f"]);
            l.functions[0].flags.no_writes = true;
            l.functions[0].description = Some("d".into());
            r.add("a", l, false).unwrap();
            r.add("b", lib("l2", &["g"]), false).unwrap();
            r.flush("b").unwrap();
        }
        let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
        let a = r.tenant("a");
        let f = a.function("f").unwrap();
        assert!(f.flags.no_writes);
        assert_eq!(f.description.as_deref(), Some("d"));
        assert_eq!(&*a.libraries["l1"].code, "#!js name=l1");
        assert!(r.tenant("b").libraries.is_empty());
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
            let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
            assert!(!dir.path().join(persist::LEGACY_FILE).exists(), "migrated");
            assert_eq!(r.tenant("old").function_count(), 1);
            r.add("a/../b", lib("l1", &["f"]), false).unwrap();
            r.sync();
            // "old", hex-encoded.
            let old = dir
                .path()
                .join(persist::DIR_NAME)
                .join("tenant-6f6c64.json");
            let before = std::fs::read(&old).unwrap();
            r.add("c", lib("l2", &["g"]), false).unwrap();
            r.sync();
            assert_eq!(files().len(), 3, "{:?}", files());
            let after = std::fs::read(&old).unwrap();
            assert_eq!(before, after, "a change writes only its tenant's file");
            r.flush("c").unwrap();
        }
        assert_eq!(files().len(), 2, "an emptied tenant's file is removed");
        let r = Registry::open(dir.path(), RegistryLimits::default()).unwrap();
        assert_eq!(r.tenant("old").function_count(), 1);
        assert_eq!(r.tenant("a/../b").function_count(), 1);
        assert!(r.tenant("c").libraries.is_empty());
    }
}
