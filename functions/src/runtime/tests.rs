//! The runtime's unit tests: isolate eviction, incremental installs,
//! quarantine, load budgets and CPU shares.
use kiln_isolates::MemoryHost;

use std::time::Duration;

use super::*;
use crate::registry::RegistryLimits;

const A: TenantId = TenantId::new(1, 0);
const B: TenantId = TenantId::new(2, 0);
const C: TenantId = TenantId::new(3, 0);

/// An in-memory registry with tenants `a`, `b` and `c` bound.
fn registry() -> Arc<Registry> {
    let registry = Registry::in_memory(RegistryLimits::default());
    for (id, name) in [(A, "a"), (B, "b"), (C, "c")] {
        registry.bind(id, name);
    }
    Arc::new(registry)
}

const LIB: &str = "#!js name=lib\nlet calls = 0;\nkiln.registerFunction('calls', () => ++calls);";

fn call(rt: &mut FunctionRuntime, tenant: TenantId, name: &str) -> Reply {
    let libraries = rt.registry().tenant(tenant);
    let call = Call {
        tenant,
        libraries: &libraries,
        limits: Limits::default(),
        share: CpuShare::WHOLE_CORE,
        function: name,
        keys: &[],
        args: &[],
        options: CallOptions::default(),
    };
    rt.call(call, &mut MemoryHost::default())
}

#[test]
fn isolates_are_evicted_least_recently_used_and_rebuilt() {
    let registry = registry();
    let mut rt = FunctionRuntime::new(
        registry,
        RuntimeLimits {
            max_isolates: 2,
            ..RuntimeLimits::default()
        },
    );
    for tenant in [A, B, C] {
        assert_eq!(
            rt.load(
                tenant,
                Limits::default(),
                CpuShare::WHOLE_CORE,
                LIB.as_bytes(),
                false
            ),
            Reply::Bulk(Bytes::from_static(b"lib"))
        );
    }
    assert_eq!(call(&mut rt, A, "calls"), Reply::Integer(1));
    assert_eq!(call(&mut rt, B, "calls"), Reply::Integer(1));
    assert_eq!(call(&mut rt, A, "calls"), Reply::Integer(2));
    // A third tenant evicts the least recently used one, `b`.
    assert_eq!(call(&mut rt, C, "calls"), Reply::Integer(1));
    let counts = rt.isolate_stats();
    assert_eq!(counts.kept, 2);
    assert!(counts.evicted >= 1 && counts.created >= 3);
    assert_eq!(
        call(&mut rt, A, "calls"),
        Reply::Integer(3),
        "a kept its isolate"
    );
    assert_eq!(
        call(&mut rt, B, "calls"),
        Reply::Integer(1),
        "b's isolate was rebuilt"
    );
}

#[test]
fn a_replaced_library_is_reinstalled_on_next_call() {
    let registry = registry();
    let mut rt = FunctionRuntime::new(registry.clone(), RuntimeLimits::default());
    rt.load(
        A,
        Limits::default(),
        CpuShare::WHOLE_CORE,
        LIB.as_bytes(),
        false,
    );
    assert_eq!(call(&mut rt, A, "calls"), Reply::Integer(1));
    let v2 = "#!js name=lib\nkiln.registerFunction('calls', () => 'v2');";
    assert_eq!(
        rt.load(
            A,
            Limits::default(),
            CpuShare::WHOLE_CORE,
            v2.as_bytes(),
            true
        ),
        Reply::Bulk(Bytes::from_static(b"lib"))
    );
    assert_eq!(
        call(&mut rt, A, "calls"),
        Reply::Bulk(Bytes::from_static(b"v2"))
    );
    assert_eq!(
        call(&mut rt, B, "calls"),
        Reply::error("ERR Function not found"),
        "tenants do not share functions"
    );
    let too_big = format!(
        "#!js name=big\n//{}",
        "x".repeat(registry.limits().max_library_bytes)
    );
    assert!(
        matches!(rt.load(A, Limits::default(), CpuShare::WHOLE_CORE, too_big.as_bytes(), false), Reply::Error(e) if e.contains("bytes allowed"))
    );
}

fn load(rt: &mut FunctionRuntime, tenant: TenantId, code: &str) -> Reply {
    rt.load(
        tenant,
        Limits::default(),
        CpuShare::WHOLE_CORE,
        code.as_bytes(),
        true,
    )
}

fn runtime() -> FunctionRuntime {
    let registry = registry();
    FunctionRuntime::new(registry, RuntimeLimits::default())
}

#[test]
fn a_load_runs_only_the_library_it_loads_and_installs_only_what_changed() {
    let mut rt = runtime();
    // A library's state lives as long as the context that ran it: a
    // count that carries on across a load shows nothing ran again.
    let counter = |name: &str| {
        format!("#!js name={name}\nlet calls = 0;\nkiln.registerFunction('{name}', () => ++calls);")
    };
    load(&mut rt, A, &counter("one"));
    assert_eq!(call(&mut rt, A, "one"), Reply::Integer(1));
    load(&mut rt, A, &counter("two"));
    assert_eq!(call(&mut rt, A, "two"), Reply::Integer(1));
    assert_eq!(
        call(&mut rt, A, "one"),
        Reply::Integer(2),
        "`one` did not run again"
    );
    load(&mut rt, A, &counter("one"));
    assert_eq!(
        call(&mut rt, A, "one"),
        Reply::Integer(1),
        "a replaced library runs anew"
    );
    assert_eq!(call(&mut rt, A, "two"), Reply::Integer(2));
    rt.delete(A, b"one");
    assert_eq!(
        call(&mut rt, A, "one"),
        Reply::error("ERR Function not found")
    );
    assert_eq!(call(&mut rt, A, "two"), Reply::Integer(3));
}

#[test]
fn a_library_that_fails_only_when_installed_is_quarantined_once() {
    let mut rt = runtime();
    // Long enough for the load below on a busy machine (a debug build
    // running the whole suite has taken more than 150 ms).
    let fuse_ms: u64 = 1000;
    let bomb = format!(
        "#!js name=bomb\nif (Date.now() > {at}) throw new Error('boom');\nkiln.registerFunction('tick', () => 1);",
        at = now_ms() + u128::from(fuse_ms),
    );
    assert_eq!(
        load(&mut rt, A, &bomb),
        Reply::Bulk(Bytes::from_static(b"bomb"))
    );
    load(
        &mut rt,
        A,
        "#!js name=ok\nkiln.registerFunction('fine', () => 2);",
    );
    std::thread::sleep(Duration::from_millis(fuse_ms + 50));
    // The install that trips the bomb fails, and quarantines it.
    let first = call(&mut rt, A, "fine");
    assert!(
        matches!(&first, Reply::Error(e) if e.contains("boom")),
        "{first:?}"
    );
    assert_eq!(
        call(&mut rt, A, "fine"),
        Reply::Integer(2),
        "the rest installs"
    );
    let tick = call(&mut rt, A, "tick");
    assert!(
        matches!(&tick, Reply::Error(e) if e.contains("quarantined") && e.contains("boom")),
        "{tick:?}"
    );
    let listed = format!("{:?}", rt.list(A, Some(b"bomb"), false));
    assert!(listed.contains("quarantined"), "{listed}");
    // Another core (a fresh runtime over the same registry) never runs it.
    let mut other = FunctionRuntime::new(rt.registry().clone(), RuntimeLimits::default());
    assert_eq!(call(&mut other, A, "fine"), Reply::Integer(2));
    // Loading it anew clears the quarantine.
    load(
        &mut rt,
        A,
        "#!js name=bomb\nkiln.registerFunction('tick', () => 1);",
    );
    assert_eq!(call(&mut rt, A, "tick"), Reply::Integer(1));
}

#[test]
fn a_tenant_past_its_share_is_told_to_retry_and_others_are_not() {
    let mut rt = runtime();
    load(
        &mut rt,
        A,
        "#!js name=spin\nkiln.registerFunction('spin', () => { const end = Date.now() + 20; while (Date.now() < end) {} return 1; });",
    );
    load(
        &mut rt,
        B,
        "#!js name=quick\nkiln.registerFunction('quick', () => 1);",
    );
    let share = CpuShare { percent: 5 };
    let call_as = |rt: &mut FunctionRuntime, tenant: TenantId, name: &str| {
        let libraries = rt.registry().tenant(tenant);
        rt.call(
            Call {
                tenant,
                libraries: &libraries,
                limits: Limits {
                    cpu_budget: Duration::from_millis(100),
                    ..Limits::default()
                },
                share,
                function: name,
                keys: &[],
                args: &[],
                options: CallOptions::default(),
            },
            &mut MemoryHost::default(),
        )
    };
    // 5% of a second is 50 ms: a few 20 ms calls spend it.
    let replies: Vec<Reply> = (0..6).map(|_| call_as(&mut rt, A, "spin")).collect();
    assert!(replies[0] == Reply::Integer(1));
    let refused = replies.last().unwrap();
    assert!(
        matches!(refused, Reply::Error(e) if e.starts_with("TRYAGAIN")),
        "{refused:?}"
    );
    assert!(rt.isolate_stats().throttled >= 1);
    assert_eq!(
        call_as(&mut rt, B, "quick"),
        Reply::Integer(1),
        "b has its own share"
    );
}

#[test]
fn a_deleted_tenants_isolate_and_meter_go_and_its_calls_find_nothing() {
    let mut rt = runtime();
    load(&mut rt, A, LIB);
    load(&mut rt, B, LIB);
    assert_eq!(call(&mut rt, A, "calls"), Reply::Integer(1));
    assert_eq!(call(&mut rt, B, "calls"), Reply::Integer(1));
    assert_eq!(rt.isolate_stats().kept, 2);
    assert!(rt.registry().unbind(A));
    assert_eq!(
        call(&mut rt, A, "calls"),
        Reply::error("ERR Function not found")
    );
    assert_eq!(call(&mut rt, B, "calls"), Reply::Integer(2));
    assert_eq!(rt.isolate_stats().kept, 1, "a's isolate was dropped");
    assert!(!rt.shares.contains_key(&A), "and its meter");
    // The slot's next tenant, with a name of its own, starts afresh.
    let next = TenantId::new(A.index(), A.generation() + 1);
    rt.registry().bind(next, "a");
    assert_eq!(
        call(&mut rt, next, "calls"),
        Reply::error("ERR Function not found")
    );
    assert!(
        matches!(load(&mut rt, A, LIB), Reply::Error(e) if e.contains("no longer exists")),
        "a late load of the deleted tenant is refused"
    );
}

#[test]
fn a_load_is_refused_when_the_tenants_libraries_would_not_fit_one_install() {
    let mut rt = runtime();
    let limits = Limits {
        load_budget: Duration::from_millis(300),
        ..Limits::default()
    };
    let slow = |name: &str| {
        format!(
            "#!js name={name}\nconst end = Date.now() + 120; while (Date.now() < end) {{}}\nkiln.registerFunction('{name}', () => 1);"
        )
    };
    let load = |rt: &mut FunctionRuntime, code: &str| {
        rt.load(A, limits, CpuShare::WHOLE_CORE, code.as_bytes(), false)
    };
    assert_eq!(load(&mut rt, &slow("one")), Reply::bulk_from("one"));
    assert_eq!(load(&mut rt, &slow("two")), Reply::bulk_from("two"));
    // Each fits on its own; three would make a fresh core run 360 ms
    // of top levels, past the 300 ms budget.
    let third = load(&mut rt, &slow("three"));
    assert!(
        matches!(&third, Reply::Error(e) if e.contains("more than the 300 ms load budget")),
        "{third:?}"
    );
    assert_eq!(rt.registry().tenant(A).libraries.len(), 2);
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}
