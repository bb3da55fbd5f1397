//! A core's worth of state for command unit tests: runs a command through
//! the table against a real shard, as if it arrived on core 0's main port.

use kiln_net::{Args, OwnedArgs, Reply};
use kiln_store::{Shard, ShardConfig};

use super::{Caller, Ctx, Lookup, Out, Site, lookup};
use crate::commands::plan::Finishing;
use crate::session::{PortKind, Session};
use crate::shared::{Shared, tests_support};
use crate::stats::CoreStats;
use crate::tenant::{TenantConfig, Tenants, digest, hex};

/// Shard, shared state and session for one test.
pub struct TestBed {
    /// The shard commands act on.
    pub shard: Shard,
    /// Shared state (2 cores).
    pub shared: Shared,
    /// The client's session.
    pub session: Session,
    /// Counters.
    pub stats: CoreStats,
    /// Function runtime over the shared (in-memory) registry.
    pub functions: kiln_functions::FunctionRuntime,
}

impl Default for TestBed {
    fn default() -> TestBed {
        TestBed::new()
    }
}

impl TestBed {
    /// A fresh bed with the clock at 1,000,000 ms.
    pub fn new() -> TestBed {
        TestBed::with_shard_config(ShardConfig::default())
    }

    /// A fresh bed whose shard has `config` (a fuzz target caps values
    /// lower, so one input cannot build a 512 MB string).
    pub fn with_shard_config(config: ShardConfig) -> TestBed {
        let mut shard = Shard::new(config);
        shard.set_now(1_000_000);
        let addr = "127.0.0.1:1".parse().unwrap();
        let shared = tests_support::shared(2);
        let functions = kiln_functions::FunctionRuntime::new(
            shared.functions.clone(),
            shared.settings.functions.runtime,
        );
        TestBed {
            shard,
            functions,
            shared,
            session: Session::new(1, addr, addr, PortKind::Main, 0, false),
            stats: CoreStats::default(),
        }
    }

    /// A bed whose registry holds one tenant, `name` with `password`.
    pub fn with_tenant(name: &str, password: &str) -> TestBed {
        let mut bed = TestBed::new();
        let tenant = TenantConfig {
            name: name.into(),
            passwords: vec![hex(&digest(password.as_bytes()))],
            enabled: true,
            ..TenantConfig::default()
        };
        bed.shared.tenants = Tenants::new(&[tenant], None, 4, 2).unwrap();
        bed.shared
            .tenants
            .bind_functions(bed.shared.functions.clone());
        bed
    }

    /// Runs `parts` (arity checked, no routing) and returns the reply.
    pub fn run(&mut self, parts: &[&str]) -> Reply {
        let owned = OwnedArgs::new(parts.iter().map(|p| p.as_bytes()));
        self.run_args(owned.args())
    }

    /// Runs a parsed request (arity checked, no routing) and returns the
    /// reply. A panicking command panics here: nothing catches it.
    pub fn run_args(&mut self, args: Args<'_>) -> Reply {
        let spec = match lookup(args) {
            Lookup::Found(spec) => spec,
            Lookup::Unknown(reply) => return reply,
        };
        if !spec.arity_ok(args.len()) {
            return super::wrong_arity(spec);
        }
        let site = Site {
            core: 0,
            shard: &mut self.shard,
            others: None,
            shared: &self.shared,
            stats: &mut self.stats,
            functions: Some(&mut self.functions),
            waiters: None,
            evicting: false,
            woken: false,
            journal: None,
        };
        let tenant = self.session.tenant;
        let mut ctx = Ctx::new(site, tenant, Caller::Client(&mut self.session), Out::Value);
        (spec.run)(&mut ctx, args)
    }

    /// Shorthand for a bulk reply.
    pub fn bulk(s: &str) -> Reply {
        Reply::bulk_from(s)
    }
}

/// What a combine or continuation sees, for a request that ran on `cores`
/// of `shared` (RESP2, no per-key bookkeeping).
pub fn finishing<'a>(args: &'a OwnedArgs, cores: &'a [usize], shared: &'a Shared) -> Finishing<'a> {
    Finishing {
        spec: super::spec_named(&String::from_utf8_lossy(args.args().get(0)).to_lowercase())
            .unwrap_or(super::table()[0]),
        args,
        protocol: kiln_net::Protocol::Resp2,
        part_keys: &[],
        part_cores: cores,
        shared,
        core: 0,
        tenant: crate::tenant::TenantId::DEFAULT,
    }
}
