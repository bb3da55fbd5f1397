//! The engine runs every command through one path: its rules hold, a panic
//! is contained, and the caller's keyspace and quota are the ones it acts on.

use kiln_net::OwnedArgs;

use super::*;
use crate::commands::KeySpec;

/// Runs a command as a job (no session) and returns its reply.
fn job(engine: &mut Engine, spec: &'static CommandSpec, args: Args<'_>, tenant: TenantId) -> Reply {
    let cmd = Command { spec, args, tenant };
    match engine.execute(cmd, Caller::Job(&[]), Out::Value) {
        Executed::Reply(reply) => reply,
        _ => panic!("not a reply"),
    }
}

fn explode(_: &mut crate::commands::Ctx<'_>, _: Args<'_>) -> Reply {
    panic!("a bug in a command")
}

static EXPLODING: CommandSpec = crate::command!(
    "explode",
    1,
    Flags::NONE,
    &[],
    KeySpec::NONE,
    Route::Local,
    explode,
    "server",
    "0.0.0",
    "Panics (test only)."
);

#[test]
fn a_panicking_command_answers_an_error_and_the_core_goes_on() {
    let shared = Arc::new(crate::shared::tests_support::shared(1));
    let mut engine = Engine::new(0, shared);
    let args = OwnedArgs::new([&b"explode"[..]]);
    let reply = job(&mut engine, &EXPLODING, args.args(), TenantId::DEFAULT);
    assert_eq!(
        reply,
        Reply::error("ERR internal error in 'explode' (logged)")
    );
    assert_eq!(engine.stats.error_replies, 1);
    let get = OwnedArgs::new([&b"GET"[..], b"k"]);
    let Lookup::Found(spec) = commands::lookup(get.args()) else {
        panic!()
    };
    assert_eq!(
        job(&mut engine, spec, get.args(), TenantId::DEFAULT),
        Reply::Nil
    );
}

#[test]
fn exec_acts_on_the_callers_keyspace_and_quota() {
    let mut shared = crate::shared::tests_support::shared(1);
    let quota = crate::tenant::TenantConfig {
        name: "small".into(),
        nopass: true,
        enabled: true,
        limits: crate::tenant::TenantLimits {
            maxkeys: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    shared.tenants = crate::tenant::Tenants::new(&[quota], None, 2, 1).unwrap();
    let small = shared.tenants.authenticate(b"small", b"").unwrap();
    let mut engine = Engine::new(0, Arc::new(shared));
    let run = |engine: &mut Engine, tenant, parts: &[&str]| {
        let args = OwnedArgs::new(parts.iter().map(|p| p.as_bytes()));
        let Lookup::Found(spec) = commands::lookup(args.args()) else {
            panic!()
        };
        job(engine, spec, args.args(), tenant)
    };
    assert_eq!(run(&mut engine, small, &["SET", "k", "mine"]), Reply::OK);
    assert_eq!(
        run(&mut engine, TenantId::DEFAULT, &["GET", "k"]),
        Reply::Nil
    );
    assert_eq!(run(&mut engine, small, &["SET", "k2", "v"]), errors::OOM);
    assert_eq!(
        run(&mut engine, TenantId::DEFAULT, &["SET", "k2", "v"]),
        Reply::OK
    );
    assert_eq!(
        run(&mut engine, small, &["GET", "k"]),
        Reply::bulk_from("mine")
    );
    let usage = engine.shared.tenants.figures(small);
    assert_eq!((usage.keys, usage.rejected), (1, 1));
}
