//! Server commands: `DBSIZE`, `FLUSHDB`, `FLUSHALL`, `INFO`, `CONFIG GET`,
//! `CONFIG SET`, `CONFIG RESETSTAT`, `CONFIG REWRITE`, `TIME`, `SHUTDOWN`,
//! `DEBUG SLEEP`, `SAVE`, `BGSAVE`, `LASTSAVE`.
//!
//! `DBSIZE`, `FLUSH*` and `INFO` run on every core (this core only on a
//! core port, which answers as one cluster node); `INFO` parts carry each
//! core's counters as integers and the origin sums and formats them.
//! `CONFIG SET` writes [`crate::shared::LiveSettings`], which every core reads,
//! so a change made through any core applies everywhere.
//!
//! `CONFIG GET/SET/RESETSTAT/REWRITE`, `SHUTDOWN` and `DEBUG` act on the
//! server, so they take the operator power ([`Flags::OPERATOR`]): `CONFIG
//! GET` too, since it shows `requirepass`. A tenant's `FLUSHALL` and
//! `INFO` cover its own keyspace; an operator's, every tenant's.
//!
//! `INFO` lives in [`info`] and `CONFIG` in [`config`]; this file holds the
//! table and the small commands.

mod config;
pub use config::own_config;
mod info;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_net::{Args, Reply};

use self::config::{config, config_get, config_resetstat, config_rewrite, config_set};
use self::info::{info_combine, info_part};
use super::{CommandSpec, Ctx, Flags, KeySpec, Route, errors};
use crate::commands::plan::{self as fanout, Finish, Finishing, Job, Output, Plan, Planning};
use crate::journal::Journal;
use crate::save::AtShutdown;
use crate::{client_session, command};

const ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];
/// Server powers: only an operator may use them, whatever its rules.
const ADMIN: Flags = Flags::ADMIN
    .with(Flags::OPERATOR)
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const FLUSH_ACL: &[&str] = &["@keyspace", "@write", "@slow", "@dangerous"];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("dbsize", 1, Flags::READONLY.with(Flags::FAST), &["@keyspace", "@read", "@fast"], KeySpec::NONE, Route::AllCores(fanout::sum_integers), dbsize,
        "server", "1.0.0", "Returns the number of keys in the database."),
    command!("flushdb", -1, Flags::WRITE, FLUSH_ACL, KeySpec::NONE, Route::AllCores(fanout::all_ok), flush,
        "server", "1.0.0", "Removes all keys from the current database."),
    command!("flushall", -1, Flags::WRITE, FLUSH_ACL, KeySpec::NONE, Route::AllCores(fanout::all_ok), flush,
        "server", "1.0.0", "Removes all keys from all databases."),
    command!("info", -1, Flags::LOADING.with(Flags::STALE), &["@slow", "@dangerous"], KeySpec::NONE, Route::AllCores(info_combine), info_part,
        "server", "1.0.0", "Returns information and statistics about the server."),
    command!("config", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, config,
        "server", "2.0.0", "A container for server configuration commands.", subcommands: CONFIG),
    command!("time", 1, Flags::LOADING.with(Flags::STALE).with(Flags::FAST), &["@fast"], KeySpec::NONE, Route::Local, time,
        "server", "2.6.0", "Returns the server time."),
    command!("shutdown", -1, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, shutdown,
        "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    command!("debug", -2, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, debug,
        "server", "1.0.0", "A container for debugging commands."),
    command!("bgrewriteaof", 1, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::AllCores(rewrite_started), bgrewriteaof,
        "server", "1.0.0", "Asynchronously rewrites the append-only file to disk."),
    command!("save", 1, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Planned(save_plan), planned_only,
        "server", "1.0.0", "Synchronously saves the database(s) to disk."),
    command!("bgsave", -1, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, bgsave,
        "server", "1.0.0", "Asynchronously saves the database(s) to disk."),
    command!("lastsave", 1, Flags::LOADING.with(Flags::STALE).with(Flags::FAST), &["@admin", "@fast", "@dangerous"], KeySpec::NONE, Route::Local, lastsave,
        "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk."),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const CONFIG: &[CommandSpec] = &[
    command!("config|get", -3, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, config_get,
        "server", "2.0.0", "Returns the effective values of configuration parameters."),
    command!("config|set", -4, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, config_set,
        "server", "2.0.0", "Sets configuration parameters in-flight."),
    command!("config|resetstat", 2, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::AllCores(fanout::all_ok), config_resetstat,
        "server", "2.0.0", "Resets the server's statistics."),
    command!("config|rewrite", 2, ADMIN, ADMIN_ACL, KeySpec::NONE, Route::Local, config_rewrite,
        "server", "2.8.0", "Persists the effective configuration to file."),
    command!("config|help", 2, Flags::LOADING.with(Flags::STALE), &["@slow"], KeySpec::NONE, Route::Local, config,
        "server", "5.0.0", "Returns helpful text about the different subcommands."),
];

fn dbsize(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Integer(ctx.shard.len() as i64)
}

/// `FLUSHDB` / `FLUSHALL [ASYNC|SYNC]`: Kiln has one database, so both empty
/// it; the flush is always synchronous.
fn flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mode_ok = |m: &[u8]| m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC");
    match args.len() {
        1 => {}
        2 if mode_ok(args.get(1)) => {}
        _ => return errors::SYNTAX,
    }
    ctx.shard.flush();
    // An operator's FLUSHALL empties every tenant; a tenant's, whatever its
    // rules, its own (the engine gives `others` to operators only).
    if args.get(0).eq_ignore_ascii_case(b"FLUSHALL")
        && let Some(others) = ctx.others.as_mut()
    {
        others.flush();
    }
    Reply::OK
}

/// `TIME`: unix seconds and microseconds, as bulk strings.
fn time(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk_from(now.as_secs().to_string()),
        Reply::bulk_from(now.subsec_micros().to_string()),
    ])
}

/// Validates `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`; `Ok(true)`
/// for ABORT.
/// `SHUTDOWN`'s options: whether it is `ABORT`, and what to do about a
/// snapshot.
fn parse_shutdown(args: Args<'_>) -> Result<(bool, AtShutdown), Reply> {
    let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
    for arg in args.iter().skip(1) {
        match arg.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" => nosave = true,
            b"now" | b"force" => other = true,
            b"abort" => abort = true,
            _ => return Err(errors::SYNTAX),
        }
    }
    if (save && nosave) || (abort && (save || nosave || other)) {
        return Err(errors::SYNTAX);
    }
    let at_shutdown = match (save, nosave) {
        (true, _) => AtShutdown::Save,
        (_, true) => AtShutdown::NoSave,
        _ => AtShutdown::Default,
    };
    Ok((abort, at_shutdown))
}

/// `SHUTDOWN`: stops every core; once they stopped, each writes its part
/// of a snapshot if `SAVE` says so, or the `save` schedule has rules and
/// `NOSAVE` does not forbid it (as Redis). Redis closes without replying;
/// Kiln sends `+OK` first.
fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse_shutdown(args) {
        Ok((true, _)) => Reply::error("ERR No shutdown in progress."),
        Ok((false, at_shutdown)) => {
            ctx.shared.saves.set_at_shutdown(at_shutdown);
            ctx.shared.request_shutdown();
            client_session!(ctx).close_after_reply = true;
            Reply::OK
        }
        Err(reply) => reply,
    }
}

/// Longest `DEBUG SLEEP` honoured.
const MAX_DEBUG_SLEEP: Duration = Duration::from_secs(60);

/// `DEBUG SLEEP seconds`: blocks this core's thread, as Redis blocks its
/// event loop (capped at a minute). Other DEBUG subcommands are refused.
fn debug(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let sub = String::from_utf8_lossy(args.get(1));
    if !sub.eq_ignore_ascii_case("SLEEP") {
        return Reply::error_owned(format!("ERR DEBUG {sub} is not supported"));
    }
    if args.len() != 3 {
        return Reply::error_owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try DEBUG HELP."
        ));
    }
    std::thread::sleep(sleep_duration(args.get(2)));
    Reply::OK
}

/// Seconds as `strtod` reads them (garbage is 0), capped.
fn sleep_duration(arg: &[u8]) -> Duration {
    let secs = kiln_store::numeric::parse_f64(arg).unwrap_or(0.0);
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs).min(MAX_DEBUG_SLEEP)
    } else if secs > 0.0 {
        MAX_DEBUG_SLEEP
    } else {
        Duration::ZERO
    }
}

/// `LASTSAVE`: Kiln has no persistence and never saves; it reports the
/// start time, as Redis does before its first save.
/// `BGREWRITEAOF`, on each core: its log is compacted between requests.
fn bgrewriteaof(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    match ctx.journal.as_deref_mut().map(Journal::request_rewrite) {
        Some(Ok(())) => REWRITE_STARTED,
        Some(Err(refusal)) => refusal,
        None => Reply::error("ERR the append-only log is off on this server (appendonly no)"),
    }
}

const REWRITE_STARTED: Reply = Reply::Status(std::borrow::Cow::Borrowed(
    "Background append only file rewriting started",
));

/// Combine for `BGREWRITEAOF`: started on every core, or the first refusal.
fn rewrite_started(_: &fanout::Finishing<'_>, outputs: Vec<fanout::Output>) -> Reply {
    outputs
        .into_iter()
        .map(fanout::Output::into_reply)
        .find(Reply::is_error)
        .unwrap_or(REWRITE_STARTED)
}

fn lastsave(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Integer(ctx.shared.saves.last_save() as i64)
}

/// `BGSAVE [SCHEDULE]`: every core begins its part of a snapshot at its
/// next turn; the files are joined once the last part is written.
fn bgsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    // A snapshot and a log rewrite run side by side, so SCHEDULE never
    // has to wait for one.
    if args.len() > 2 || (args.len() == 2 && !args.get(1).eq_ignore_ascii_case(b"SCHEDULE")) {
        return errors::SYNTAX;
    }
    match ctx.shared.saves.begin(true) {
        Ok(()) => {
            ctx.shared.bell.ring_all();
            Reply::Status(std::borrow::Cow::Borrowed("Background saving started"))
        }
        Err(refusal) => Reply::error(refusal),
    }
}

/// `SAVE`: every core writes its whole part now (holding its core, as
/// Redis's SAVE holds its server), then this core joins the files.
fn save_plan(p: &Planning<'_>, _: Args<'_>) -> Result<Plan, Reply> {
    p.shared.saves.begin(false).map_err(Reply::error)?;
    let parts = (0..p.shared.cores()).map(|core| (core, Job::Save));
    Ok(Plan::new(parts, Finish::Combine(save_combine)))
}

fn save_combine(f: &Finishing<'_>, _: Vec<Output>) -> Reply {
    match f.shared.saves.finish(f.shared) {
        Ok(()) => Reply::OK,
        Err(why) => Reply::error_owned(format!("ERR {why}")),
    }
}

/// A command the engine always plans: it never runs as itself.
fn planned_only(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR internal: SAVE runs as a plan")
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;
    use crate::commands::testbed::TestBed;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn dbsize_and_flush() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["DBSIZE"]), Reply::Integer(bed.shard.len() as i64));
        assert_eq!(bed.run(&["FLUSHALL", "async"]), Reply::OK);
        assert_eq!(bed.run(&["FLUSHDB"]), Reply::OK);
        assert_eq!(bed.run(&["FLUSHDB", "LATER"]), errors::SYNTAX);
        assert_eq!(bed.run(&["DBSIZE"]), Reply::Integer(0));
    }

    #[test]
    fn shutdown_options() {
        let parse = |parts: &[&str]| parse_shutdown(args(parts).args());
        assert_eq!(parse(&["SHUTDOWN"]), Ok((false, AtShutdown::Default)));
        assert_eq!(
            parse(&["SHUTDOWN", "nosave", "now", "force"]),
            Ok((false, AtShutdown::NoSave))
        );
        assert_eq!(parse(&["SHUTDOWN", "SAVE"]), Ok((false, AtShutdown::Save)));
        assert_eq!(
            parse(&["SHUTDOWN", "ABORT"]),
            Ok((true, AtShutdown::Default))
        );
        assert_eq!(parse(&["SHUTDOWN", "SAVE", "NOSAVE"]), Err(errors::SYNTAX));
        assert_eq!(parse(&["SHUTDOWN", "ABORT", "NOW"]), Err(errors::SYNTAX));
        assert_eq!(parse(&["SHUTDOWN", "later"]), Err(errors::SYNTAX));
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["SHUTDOWN", "ABORT"]),
            Reply::error("ERR No shutdown in progress.")
        );
        assert!(!bed.shared.shutting_down());
        assert_eq!(bed.run(&["SHUTDOWN", "NOSAVE"]), Reply::OK);
        assert!(bed.shared.shutting_down() && bed.session.close_after_reply);
    }

    #[test]
    fn time_debug_lastsave() {
        let mut bed = TestBed::new();
        let Reply::Array(t) = bed.run(&["TIME"]) else {
            panic!()
        };
        assert_eq!(t.len(), 2);
        assert_eq!(bed.run(&["DEBUG", "SLEEP", "0"]), Reply::OK);
        assert_eq!(
            bed.run(&["DEBUG", "RELOAD"]),
            Reply::error("ERR DEBUG RELOAD is not supported")
        );
        assert_eq!(sleep_duration(b"0.25"), Duration::from_millis(250));
        assert_eq!(sleep_duration(b"x"), Duration::ZERO);
        assert_eq!(sleep_duration(b"1e9"), MAX_DEBUG_SLEEP);
        assert_eq!(sleep_duration(b"inf"), MAX_DEBUG_SLEEP);
        assert_eq!(
            bed.run(&["LASTSAVE"]),
            Reply::Integer(bed.shared.started_unix as i64)
        );
    }
}
