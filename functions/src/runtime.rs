//! One core's function runtime: its tenants' isolates and the `FCALL` /
//! `FUNCTION` logic, scoped to the calling tenant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use kiln_isolates::{CallOptions, Host, LibrarySource, Limits, TenantIsolate, Watch};
use kiln_net::Reply;
use kiln_store::TenantId;

use crate::dump;
use crate::error::FunctionError;
use crate::library;
use crate::registry::{Library, Registry, RestorePolicy, TenantLibraries};
use crate::share::{CpuShare, ShareMeter};

/// Bounds on the isolates one core keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeLimits {
    /// Most tenant isolates kept at once.
    pub max_isolates: usize,
    /// Most V8 heap, over all kept isolates.
    pub max_isolate_bytes: usize,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        RuntimeLimits {
            max_isolates: 500,
            max_isolate_bytes: 1 << 30,
        }
    }
}

/// A core's isolate figures ([`FunctionRuntime::isolate_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsolateCounts {
    /// Isolates kept now.
    pub kept: usize,
    /// Their V8 heap, as last weighed.
    pub heap_bytes: usize,
    /// Isolates created, ever.
    pub created: u64,
    /// Isolates evicted to make room, ever.
    pub evicted: u64,
    /// Calls refused because their tenant had spent its CPU share, ever.
    pub throttled: u64,
}

/// One `FCALL`, as [`FunctionRuntime::call`] takes it.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The calling tenant.
    pub tenant: TenantId,
    /// Its libraries now (`Registry::tenant`).
    pub libraries: &'a TenantLibraries,
    /// Its limits.
    pub limits: Limits,
    /// The share of this core its functions may use over time.
    pub share: CpuShare,
    /// The function's name.
    pub function: &'a str,
    /// The declared keys.
    pub keys: &'a [&'a [u8]],
    /// The other arguments.
    pub args: &'a [&'a [u8]],
    /// `FCALL_RO` or not.
    pub options: CallOptions,
}

/// How often (in calls) an isolate's heap is weighed again.
const REWEIGH_EVERY: u64 = 64;

/// One tenant's isolate on this core and the libraries it holds.
struct Kept {
    isolate: TenantIsolate,
    /// The libraries run in its live context, by name: compared by
    /// identity with the registry's, so only what changed is run again.
    installed: BTreeMap<String, Arc<Library>>,
    last_used: u64,
    weight: usize,
    calls: u64,
}

/// One tenant's isolates created and evicted on one core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IsolateChurn {
    /// Isolates built for it (its first call, or after an eviction).
    pub created: u64,
    /// Its isolates evicted to make room for another tenant's.
    pub evicted: u64,
}

/// One core's function runtime.
pub struct FunctionRuntime {
    registry: Arc<Registry>,
    watch: Arc<Watch>,
    isolates: HashMap<TenantId, Kept>,
    shares: HashMap<TenantId, ShareMeter>,
    clock: u64,
    weight: usize,
    /// [`Registry::unbinds`] when this runtime last dropped what deleted
    /// tenants left here.
    unbinds: u64,
    limits: RuntimeLimits,
    created: u64,
    evicted: u64,
    /// Isolates created and evicted per tenant on this core (the
    /// tenants' shares of `created` and `evicted`).
    churn: HashMap<TenantId, IsolateChurn>,
    throttled: u64,
}

impl FunctionRuntime {
    /// A runtime over the shared `registry`.
    pub fn new(registry: Arc<Registry>, limits: RuntimeLimits) -> FunctionRuntime {
        let watch = Watch::new();
        registry.add_watch(watch.clone());
        FunctionRuntime {
            registry,
            watch,
            isolates: HashMap::new(),
            shares: HashMap::new(),
            clock: 0,
            weight: 0,
            unbinds: 0,
            limits,
            created: 0,
            evicted: 0,
            churn: HashMap::new(),
            throttled: 0,
        }
    }

    /// The shared registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// How many isolates this core keeps, what they weigh, and how many it
    /// has created and evicted.
    pub fn isolate_stats(&self) -> IsolateCounts {
        IsolateCounts {
            kept: self.isolates.len(),
            heap_bytes: self.weight,
            created: self.created,
            evicted: self.evicted,
            throttled: self.throttled,
        }
    }

    /// How many isolates of `tenant` this core created and evicted.
    pub fn isolate_churn(&self, tenant: TenantId) -> IsolateChurn {
        self.churn.get(&tenant).copied().unwrap_or_default()
    }

    /// Whether `tenant` has an isolate on this core now.
    pub fn has_isolate(&self, tenant: TenantId) -> bool {
        self.isolates.contains_key(&tenant)
    }

    /// `FCALL` / `FCALL_RO`: runs `call.function` in the tenant's isolate
    /// on this core, the store reached through `host`.
    ///
    /// Everything the call costs this core — installing changed libraries
    /// as well as running the function — is charged to the tenant's
    /// [`CpuShare`]; a tenant that has spent it gets `TRYAGAIN` until its
    /// share has refilled.
    pub fn call(&mut self, call: Call<'_>, host: &mut dyn Host) -> Reply {
        let Call {
            tenant,
            libraries,
            limits,
            share,
            function: name,
            keys,
            args,
            options,
        } = call;
        let Some(library) = libraries.library_of(name) else {
            return Reply::error("ERR Function not found");
        };
        if let Some(reason) = &library.quarantined {
            return quarantined(name, &library.name, reason);
        }
        let started = Instant::now();
        if !self.meter(tenant, share).admit(started) {
            self.throttled += 1;
            return share.refusal();
        }
        let reply = self.run(tenant, limits, libraries, name, keys, args, host, options);
        let spent = started.elapsed();
        self.meter(tenant, share).charge(spent);
        reply
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        tenant: TenantId,
        limits: Limits,
        libraries: &TenantLibraries,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        options: CallOptions,
    ) -> Reply {
        let kept = match self.ready(tenant, limits, libraries) {
            Ok(kept) => kept,
            Err(error) => return error.reply(),
        };
        let result = kept.isolate.call(name, keys, args, host, options);
        kept.calls += 1;
        let reweigh = kept.calls.is_multiple_of(REWEIGH_EVERY);
        let condemned = kept.isolate.is_condemned();
        if condemned {
            self.drop_isolate(tenant);
        } else if reweigh {
            self.reweigh(tenant);
        }
        result.unwrap_or_else(|error| Reply::error_owned(error.to_string()))
    }

    /// Drops the isolates and meters of tenants deleted since this core
    /// last looked (one atomic load when none was).
    fn forget_deleted(&mut self) {
        let unbinds = self.registry.unbinds();
        if unbinds == self.unbinds {
            return;
        }
        self.unbinds = unbinds;
        let registry = Arc::clone(&self.registry);
        let gone: Vec<TenantId> = self
            .isolates
            .keys()
            .copied()
            .filter(|id| !registry.is_bound(*id))
            .collect();
        for id in gone {
            self.drop_isolate(id);
        }
        self.shares.retain(|id, _| registry.is_bound(*id));
        self.churn.retain(|id, _| registry.is_bound(*id));
    }

    /// The tenant's CPU meter on this core (every entry point starts here).
    fn meter(&mut self, tenant: TenantId, share: CpuShare) -> &mut ShareMeter {
        self.forget_deleted();
        let meter = self
            .shares
            .entry(tenant)
            .or_insert_with(|| ShareMeter::full(share, Instant::now()));
        meter.share = share;
        meter
    }

    /// The tenant's isolate (created if needed), without running any
    /// library in it.
    fn kept(&mut self, tenant: TenantId, limits: Limits) -> &mut Kept {
        self.clock += 1;
        let stale = self
            .isolates
            .get(&tenant)
            .is_some_and(|kept| kept.isolate.limits() != limits);
        if stale {
            self.drop_isolate(tenant);
        }
        if !self.isolates.contains_key(&tenant) {
            self.make_room();
            let isolate = TenantIsolate::new(tenant, limits, self.watch.clone());
            self.created += 1;
            self.churn.entry(tenant).or_default().created += 1;
            self.isolates.insert(
                tenant,
                Kept {
                    isolate,
                    installed: BTreeMap::new(),
                    last_used: 0,
                    weight: 0,
                    calls: 0,
                },
            );
        }
        let kept = self.isolates.get_mut(&tenant).expect("inserted above");
        kept.last_used = self.clock;
        kept
    }

    /// The tenant's isolate, brought up to `libraries`.
    fn ready(
        &mut self,
        tenant: TenantId,
        limits: Limits,
        libraries: &TenantLibraries,
    ) -> Result<&mut Kept, FunctionError> {
        let kept = self.kept(tenant, limits);
        if kept.isolate.version() != Some(libraries.version) {
            self.sync(tenant, libraries)?;
        }
        Ok(self.isolates.get_mut(&tenant).expect("kept above"))
    }

    /// Runs in the tenant's live context only the libraries that changed
    /// since it was last brought up to date (from their code caches where
    /// present), under one load budget, and drops the functions of those
    /// removed or replaced. A library that fails here passed `FUNCTION
    /// LOAD` and fails only now: it is quarantined for the tenant, on every
    /// core, so its top level never runs again.
    fn sync(&mut self, tenant: TenantId, libraries: &TenantLibraries) -> Result<(), FunctionError> {
        let kept = self
            .isolates
            .get_mut(&tenant)
            .expect("created by the caller");
        let wanted = |lib: &Arc<Library>| lib.quarantined.is_none();
        let remove: Vec<&str> = kept
            .installed
            .iter()
            .filter(|(name, lib)| {
                libraries
                    .libraries
                    .get(*name)
                    .is_none_or(|now| !Arc::ptr_eq(now, lib) || !wanted(now))
            })
            .map(|(name, _)| name.as_str())
            .collect();
        let add: Vec<&Arc<Library>> = libraries
            .libraries
            .values()
            .filter(|lib| wanted(lib))
            .filter(|lib| {
                kept.installed
                    .get(&lib.name)
                    .is_none_or(|old| !Arc::ptr_eq(old, lib))
            })
            .collect();
        let sources: Vec<LibrarySource<'_>> = add.iter().map(|lib| source(lib)).collect();
        let result = kept.isolate.extend(&sources, &remove, libraries.version);
        let removed: Vec<String> = remove.iter().map(|name| (*name).to_owned()).collect();
        for name in &removed {
            kept.installed.remove(name);
        }
        let failed = result
            .as_ref()
            .err()
            .and_then(|e| e.library())
            .map(str::to_owned);
        let ran = add
            .iter()
            .take_while(|lib| failed.as_deref() != Some(lib.name.as_str()));
        for lib in ran {
            kept.installed.insert(lib.name.clone(), Arc::clone(lib));
        }
        let condemned = kept.isolate.is_condemned();
        match result {
            Ok(loaded) => {
                for (library, loaded) in add.iter().zip(loaded) {
                    if let Some(cache) = loaded.code_cache {
                        let _ = library.code_cache.set(Arc::from(cache));
                    }
                }
                self.reweigh(tenant);
                Ok(())
            }
            Err(error) => {
                if condemned || failed.is_none() {
                    self.drop_isolate(tenant);
                }
                let culprit = failed.and_then(|name| libraries.libraries.get(&name));
                if let Some(library) = culprit {
                    let reason = format!("{error} (when installed on a core)");
                    self.registry.quarantine(tenant, library, reason)?;
                }
                Err(error.into())
            }
        }
    }

    fn reweigh(&mut self, tenant: TenantId) {
        if let Some(kept) = self.isolates.get_mut(&tenant) {
            let weight = kept.isolate.heap_size();
            self.weight = self.weight - kept.weight + weight;
            kept.weight = weight;
        }
    }

    fn drop_isolate(&mut self, tenant: TenantId) {
        if let Some(kept) = self.isolates.remove(&tenant) {
            self.weight -= kept.weight;
        }
    }

    /// Evicts least recently used isolates until one more fits.
    fn make_room(&mut self) {
        while !self.isolates.is_empty()
            && (self.isolates.len() >= self.limits.max_isolates
                || self.weight >= self.limits.max_isolate_bytes)
        {
            let oldest = self
                .isolates
                .iter()
                .min_by_key(|(_, kept)| kept.last_used)
                .map(|(t, _)| *t);
            let Some(oldest) = oldest else { break };
            self.drop_isolate(oldest);
            self.evicted += 1;
            self.churn.entry(oldest).or_default().evicted += 1;
        }
    }

    /// Parses, size-checks and runs the given library sources, each in a
    /// scratch context of the tenant's isolate and all of them within one
    /// load budget; the libraries to register. The tenant's other
    /// libraries do not run.
    fn prepare(
        &mut self,
        tenant: TenantId,
        limits: Limits,
        codes: &[&[u8]],
    ) -> Result<Vec<Library>, FunctionError> {
        let max = self.registry.limits().max_library_bytes;
        let mut parsed = Vec::with_capacity(codes.len());
        for code in codes {
            if code.len() > max {
                return Err(FunctionError::TooLarge {
                    size: code.len(),
                    limit: max,
                });
            }
            let code = std::str::from_utf8(code)
                .map_err(|_| FunctionError::Load("Library code is not valid UTF-8".into()))?;
            parsed.push((library::parse(code)?, code));
        }
        let sources: Vec<LibrarySource<'_>> = parsed
            .iter()
            .map(|(metadata, code)| LibrarySource {
                name: &metadata.name,
                code,
                code_cache: None,
            })
            .collect();
        let kept = self.kept(tenant, limits);
        let started = Instant::now();
        let result = kept.isolate.inspect_all(&sources);
        // Libraries loaded together share their run time evenly.
        let run_time = started.elapsed() / sources.len().max(1) as u32;
        if kept.isolate.is_condemned() {
            self.drop_isolate(tenant);
        }
        let loaded = result?;
        Ok(parsed
            .into_iter()
            .zip(loaded)
            .map(|((metadata, code), loaded)| {
                let mut library = Library::new(
                    metadata.name,
                    Arc::from(code),
                    loaded.functions,
                    loaded.code_cache,
                );
                library.run_time = run_time;
                library.triggers = loaded.triggers;
                library
            })
            .collect())
    }

    /// `FUNCTION LOAD [REPLACE] code`: the library's name. Only the new
    /// library runs, once, within the load budget; cores run it in their
    /// live contexts on their next call.
    pub fn load(
        &mut self,
        tenant: TenantId,
        limits: Limits,
        share: CpuShare,
        code: &[u8],
        replace: bool,
    ) -> Reply {
        let started = Instant::now();
        if !self.meter(tenant, share).admit(started) {
            self.throttled += 1;
            return share.refusal();
        }
        let result = self
            .prepare(tenant, limits, &[code])
            .and_then(|mut prepared| {
                let library = prepared.pop().expect("one library prepared");
                let name = library.name.clone();
                let policy = if replace {
                    RestorePolicy::Replace
                } else {
                    RestorePolicy::Append
                };
                self.registry
                    .restore(tenant, vec![library], policy, limits.load_budget)
                    .map(|()| name)
            });
        self.meter(tenant, share).charge(started.elapsed());
        match result {
            Ok(name) => Reply::Bulk(Bytes::from(name)),
            Err(error) => error.reply(),
        }
    }

    /// `FUNCTION DELETE name`.
    pub fn delete(&self, tenant: TenantId, name: &[u8]) -> Reply {
        let name = String::from_utf8_lossy(name);
        ok_or_error(self.registry.delete(tenant, &name))
    }

    /// `FUNCTION FLUSH`.
    pub fn flush(&self, tenant: TenantId) -> Reply {
        ok_or_error(self.registry.flush(tenant))
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
    pub fn list(&self, tenant: TenantId, pattern: Option<&[u8]>, with_code: bool) -> Reply {
        let libraries = self.registry.tenant(tenant);
        let listed = libraries
            .libraries
            .values()
            .filter(|lib| {
                pattern.is_none_or(|p| kiln_store::glob::glob_match(p, lib.name.as_bytes(), false))
            })
            .map(|lib| {
                let functions = lib
                    .functions
                    .iter()
                    .map(|f| {
                        Reply::Map(vec![
                            (bulk("name"), bulk(&f.name)),
                            (
                                bulk("description"),
                                f.description.as_deref().map_or(Reply::Nil, bulk),
                            ),
                            (
                                bulk("flags"),
                                Reply::Set(f.flags.names().into_iter().map(bulk).collect()),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (bulk("library_name"), bulk(&lib.name)),
                    (bulk("engine"), bulk("JS")),
                    (bulk("functions"), Reply::Array(functions)),
                ];
                if with_code {
                    fields.push((bulk("library_code"), bulk(&lib.code)));
                }
                if let Some(reason) = &lib.quarantined {
                    fields.push((bulk("quarantined"), bulk(reason)));
                }
                Reply::Map(fields)
            })
            .collect();
        Reply::Array(listed)
    }

    /// `FUNCTION DUMP`.
    pub fn dump(&self, tenant: TenantId) -> Reply {
        let libraries = self.registry.tenant(tenant);
        Reply::Bulk(dump::encode(libraries.libraries.values().map(|lib| &*lib.code)).into())
    }

    /// `FUNCTION RESTORE payload [policy]`: every library of the payload
    /// runs once, all within one load budget.
    pub fn restore(
        &mut self,
        tenant: TenantId,
        limits: Limits,
        share: CpuShare,
        payload: &[u8],
        policy: RestorePolicy,
    ) -> Reply {
        let Some(sources) = dump::decode(payload) else {
            return FunctionError::BadPayload.reply();
        };
        let codes: Vec<&[u8]> = sources.iter().map(|s| s.as_bytes()).collect();
        let started = Instant::now();
        if !self.meter(tenant, share).admit(started) {
            self.throttled += 1;
            return share.refusal();
        }
        let prepared = self.prepare(tenant, limits, &codes);
        self.meter(tenant, share).charge(started.elapsed());
        match prepared {
            Ok(libraries) => {
                ok_or_error(
                    self.registry
                        .restore(tenant, libraries, policy, limits.load_budget),
                )
            }
            Err(error) => error.reply(),
        }
    }

    /// `FUNCTION STATS`: no call runs while this core answers, so
    /// `running_script` is nil; the engine's counts are the tenant's.
    pub fn stats(&self, tenant: TenantId) -> Reply {
        let libraries = self.registry.tenant(tenant);
        let js = Reply::Map(vec![
            (
                bulk("libraries_count"),
                Reply::Integer(libraries.libraries.len() as i64),
            ),
            (
                bulk("functions_count"),
                Reply::Integer(libraries.function_count() as i64),
            ),
        ]);
        Reply::Map(vec![
            (bulk("running_script"), Reply::Nil),
            (bulk("engines"), Reply::Map(vec![(bulk("JS"), js)])),
        ])
    }

    /// `FUNCTION KILL`: stops the tenant's calls running on other cores.
    pub fn kill(&self, tenant: TenantId) -> Reply {
        if self.registry.kill(tenant) {
            Reply::OK
        } else {
            Reply::error("NOTBUSY No scripts in execution right now.")
        }
    }
}

/// What the isolate compiles for `library`.
fn source(library: &Library) -> LibrarySource<'_> {
    LibrarySource {
        name: &library.name,
        code: &library.code,
        code_cache: library.code_cache.get().map(|c| &**c),
    }
}

/// The reply for a function of a quarantined library.
fn quarantined(function: &str, library: &str, reason: &str) -> Reply {
    Reply::error_owned(format!(
        "ERR Function '{function}' is unavailable: library '{library}' is quarantined: {reason}; load it again with FUNCTION LOAD REPLACE or delete it"
    ))
}

fn ok_or_error(result: Result<(), FunctionError>) -> Reply {
    match result {
        Ok(()) => Reply::OK,
        Err(error) => error.reply(),
    }
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

#[cfg(test)]
mod tests;
