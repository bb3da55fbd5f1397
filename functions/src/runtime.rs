//! One core's function runtime: its tenants' isolates and the `FCALL` /
//! `FUNCTION` logic, scoped to the calling tenant.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use kiln_isolates::{CallOptions, Host, LibrarySource, Limits, TenantIsolate, Watch};
use kiln_net::Reply;

use crate::dump;
use crate::error::FunctionError;
use crate::library;
use crate::registry::{Library, Registry, RestorePolicy, TenantLibraries};

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

/// A core's isolate figures ([`Runtime::isolate_stats`]).
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
}

/// One `FCALL`, as [`Runtime::call`] takes it.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The calling tenant.
    pub tenant: &'a str,
    /// Its libraries now (`Registry::tenant`).
    pub libraries: &'a TenantLibraries,
    /// Its limits.
    pub limits: Limits,
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

struct Slot {
    isolate: TenantIsolate,
    last_used: u64,
    weight: usize,
    calls: u64,
}

/// One core's function runtime.
pub struct Runtime {
    registry: Arc<Registry>,
    watch: Arc<Watch>,
    isolates: HashMap<String, Slot>,
    clock: u64,
    weight: usize,
    limits: RuntimeLimits,
    created: u64,
    evicted: u64,
}

impl Runtime {
    /// A runtime over the shared `registry`.
    pub fn new(registry: Arc<Registry>, limits: RuntimeLimits) -> Runtime {
        let watch = Watch::new();
        registry.add_watch(watch.clone());
        Runtime {
            registry,
            watch,
            isolates: HashMap::new(),
            clock: 0,
            weight: 0,
            limits,
            created: 0,
            evicted: 0,
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
        }
    }

    /// `FCALL` / `FCALL_RO`: runs `call.function` in the tenant's isolate
    /// on this core, the store reached through `host`.
    pub fn call(&mut self, call: Call<'_>, host: &mut dyn Host) -> Reply {
        let Call {
            tenant,
            libraries,
            limits,
            function: name,
            keys,
            args,
            options,
        } = call;
        if !libraries.functions.contains_key(name) {
            return Reply::error("ERR Function not found");
        }
        let slot = match self.ready(tenant, limits, libraries) {
            Ok(slot) => slot,
            Err(error) => return error.reply(),
        };
        let result = slot.isolate.call(name, keys, args, host, options);
        slot.calls += 1;
        let reweigh = slot.calls.is_multiple_of(REWEIGH_EVERY);
        let condemned = slot.isolate.is_condemned();
        if condemned {
            self.drop_isolate(tenant);
        } else if reweigh {
            self.reweigh(tenant);
        }
        result.unwrap_or_else(|error| Reply::error_owned(error.to_string()))
    }

    /// The tenant's isolate, created or reinstalled as needed.
    fn ready(
        &mut self,
        tenant: &str,
        limits: Limits,
        libraries: &TenantLibraries,
    ) -> Result<&mut Slot, FunctionError> {
        self.clock += 1;
        let stale = self
            .isolates
            .get(tenant)
            .is_some_and(|slot| slot.isolate.limits() != limits);
        if stale {
            self.drop_isolate(tenant);
        }
        if !self.isolates.contains_key(tenant) {
            self.make_room();
            let isolate = TenantIsolate::new(tenant, limits, self.watch.clone());
            self.created += 1;
            self.isolates.insert(
                tenant.to_owned(),
                Slot {
                    isolate,
                    last_used: 0,
                    weight: 0,
                    calls: 0,
                },
            );
        }
        let installed = self.isolates[tenant].isolate.version() == Some(libraries.version);
        if !installed {
            self.install(tenant, libraries)?;
        }
        let slot = self.isolates.get_mut(tenant).expect("inserted above");
        slot.last_used = self.clock;
        Ok(slot)
    }

    /// Compiles the tenant's libraries into its isolate (from their code
    /// caches where present) and weighs it.
    fn install(&mut self, tenant: &str, libraries: &TenantLibraries) -> Result<(), FunctionError> {
        let slot = self
            .isolates
            .get_mut(tenant)
            .expect("created by the caller");
        let sources: Vec<LibrarySource<'_>> = libraries
            .libraries
            .values()
            .map(|lib| LibrarySource {
                name: &lib.name,
                code: &lib.code,
                code_cache: lib.code_cache.get().map(|c| &**c),
            })
            .collect();
        let result = slot.isolate.install(&sources, libraries.version);
        let condemned = slot.isolate.is_condemned();
        match result {
            Ok(loaded) => {
                for (library, loaded) in libraries.libraries.values().zip(loaded) {
                    if let Some(cache) = loaded.code_cache {
                        let _ = library.code_cache.set(Arc::from(cache));
                    }
                }
                self.reweigh(tenant);
                Ok(())
            }
            Err(error) => {
                if condemned {
                    self.drop_isolate(tenant);
                }
                Err(error.into())
            }
        }
    }

    fn reweigh(&mut self, tenant: &str) {
        if let Some(slot) = self.isolates.get_mut(tenant) {
            let weight = slot.isolate.heap_size();
            self.weight = self.weight - slot.weight + weight;
            slot.weight = weight;
        }
    }

    fn drop_isolate(&mut self, tenant: &str) {
        if let Some(slot) = self.isolates.remove(tenant) {
            self.weight -= slot.weight;
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
                .min_by_key(|(_, slot)| slot.last_used)
                .map(|(t, _)| t.clone());
            let Some(oldest) = oldest else { break };
            self.drop_isolate(&oldest);
            self.evicted += 1;
        }
    }

    /// Parses, size-checks and runs one library's source in the tenant's
    /// isolate, returning the library to register.
    fn prepare(
        &mut self,
        tenant: &str,
        limits: Limits,
        code: &[u8],
    ) -> Result<Library, FunctionError> {
        let max = self.registry.limits().max_library_bytes;
        if code.len() > max {
            return Err(FunctionError::TooLarge {
                size: code.len(),
                limit: max,
            });
        }
        let code = std::str::from_utf8(code)
            .map_err(|_| FunctionError::Load("Library code is not valid UTF-8".into()))?;
        let metadata = library::parse(code)?;
        let libraries = self.registry.tenant(tenant);
        let slot = self.ready(tenant, limits, &libraries)?;
        let source = LibrarySource {
            name: &metadata.name,
            code,
            code_cache: None,
        };
        let result = slot.isolate.inspect(source);
        if slot.isolate.is_condemned() {
            self.drop_isolate(tenant);
        }
        let loaded = result?;
        Ok(Library::new(
            metadata.name,
            Arc::from(code),
            loaded.functions,
            loaded.code_cache,
        ))
    }

    /// `FUNCTION LOAD [REPLACE] code`: the library's name.
    pub fn load(&mut self, tenant: &str, limits: Limits, code: &[u8], replace: bool) -> Reply {
        let result = self.prepare(tenant, limits, code).and_then(|library| {
            let name = library.name.clone();
            self.registry.add(tenant, library, replace).map(|()| name)
        });
        match result {
            Ok(name) => Reply::Bulk(Bytes::from(name)),
            Err(error) => error.reply(),
        }
    }

    /// `FUNCTION DELETE name`.
    pub fn delete(&self, tenant: &str, name: &[u8]) -> Reply {
        let name = String::from_utf8_lossy(name);
        ok_or_error(self.registry.delete(tenant, &name))
    }

    /// `FUNCTION FLUSH`.
    pub fn flush(&self, tenant: &str) -> Reply {
        ok_or_error(self.registry.flush(tenant))
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`.
    pub fn list(&self, tenant: &str, pattern: Option<&[u8]>, with_code: bool) -> Reply {
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
                Reply::Map(fields)
            })
            .collect();
        Reply::Array(listed)
    }

    /// `FUNCTION DUMP`.
    pub fn dump(&self, tenant: &str) -> Reply {
        let libraries = self.registry.tenant(tenant);
        Reply::Bulk(dump::encode(libraries.libraries.values().map(|lib| &*lib.code)).into())
    }

    /// `FUNCTION RESTORE payload [policy]`.
    pub fn restore(
        &mut self,
        tenant: &str,
        limits: Limits,
        payload: &[u8],
        policy: RestorePolicy,
    ) -> Reply {
        let Some(sources) = dump::decode(payload) else {
            return FunctionError::BadPayload.reply();
        };
        let mut libraries = Vec::with_capacity(sources.len());
        for source in sources {
            match self.prepare(tenant, limits, source.as_bytes()) {
                Ok(library) => libraries.push(library),
                Err(error) => return error.reply(),
            }
        }
        ok_or_error(self.registry.restore(tenant, libraries, policy))
    }

    /// `FUNCTION STATS`: no call runs while this core answers, so
    /// `running_script` is nil; the engine's counts are the tenant's.
    pub fn stats(&self, tenant: &str) -> Reply {
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
    pub fn kill(&self, tenant: &str) -> Reply {
        if self.registry.kill(tenant) {
            Reply::OK
        } else {
            Reply::error("NOTBUSY No scripts in execution right now.")
        }
    }
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
mod tests {
    use kiln_isolates::MemoryHost;

    use super::*;
    use crate::registry::RegistryLimits;

    const LIB: &str =
        "#!js name=lib\nlet calls = 0;\nkiln.registerFunction('calls', () => ++calls);";

    fn call(rt: &mut Runtime, tenant: &str, name: &str) -> Reply {
        let libraries = rt.registry().tenant(tenant);
        let call = Call {
            tenant,
            libraries: &libraries,
            limits: Limits::default(),
            function: name,
            keys: &[],
            args: &[],
            options: CallOptions::default(),
        };
        rt.call(call, &mut MemoryHost::default())
    }

    #[test]
    fn isolates_are_evicted_least_recently_used_and_rebuilt() {
        let registry = Arc::new(Registry::in_memory(RegistryLimits::default()));
        let mut rt = Runtime::new(
            registry,
            RuntimeLimits {
                max_isolates: 2,
                ..RuntimeLimits::default()
            },
        );
        for tenant in ["a", "b", "c"] {
            assert_eq!(
                rt.load(tenant, Limits::default(), LIB.as_bytes(), false),
                Reply::Bulk(Bytes::from_static(b"lib"))
            );
        }
        assert_eq!(call(&mut rt, "a", "calls"), Reply::Integer(1));
        assert_eq!(call(&mut rt, "b", "calls"), Reply::Integer(1));
        assert_eq!(call(&mut rt, "a", "calls"), Reply::Integer(2));
        // A third tenant evicts the least recently used one, `b`.
        assert_eq!(call(&mut rt, "c", "calls"), Reply::Integer(1));
        let counts = rt.isolate_stats();
        assert_eq!(counts.kept, 2);
        assert!(counts.evicted >= 1 && counts.created >= 3);
        assert_eq!(
            call(&mut rt, "a", "calls"),
            Reply::Integer(3),
            "a kept its isolate"
        );
        assert_eq!(
            call(&mut rt, "b", "calls"),
            Reply::Integer(1),
            "b's isolate was rebuilt"
        );
    }

    #[test]
    fn a_replaced_library_is_reinstalled_on_next_call() {
        let registry = Arc::new(Registry::in_memory(RegistryLimits::default()));
        let mut rt = Runtime::new(registry.clone(), RuntimeLimits::default());
        rt.load("a", Limits::default(), LIB.as_bytes(), false);
        assert_eq!(call(&mut rt, "a", "calls"), Reply::Integer(1));
        let v2 = "#!js name=lib\nkiln.registerFunction('calls', () => 'v2');";
        assert_eq!(
            rt.load("a", Limits::default(), v2.as_bytes(), true),
            Reply::Bulk(Bytes::from_static(b"lib"))
        );
        assert_eq!(
            call(&mut rt, "a", "calls"),
            Reply::Bulk(Bytes::from_static(b"v2"))
        );
        assert_eq!(
            call(&mut rt, "b", "calls"),
            Reply::error("ERR Function not found"),
            "tenants do not share functions"
        );
        let too_big = format!(
            "#!js name=big\n//{}",
            "x".repeat(registry.limits().max_library_bytes)
        );
        assert!(
            matches!(rt.load("a", Limits::default(), too_big.as_bytes(), false), Reply::Error(e) if e.contains("bytes allowed"))
        );
    }
}
