//! `LATENCY LATEST`, `HISTORY event`, `RESET [event ...]`, `DOCTOR`:
//! the latency monitor ([`crate::latency`]), every core's merged on read,
//! in Redis 7's reply shapes; `LATENCY HISTOGRAM [command ...]`:
//! per-command latency distributions from each core's
//! [`crate::metrics::accounting`] figures; `HELP`.
//!
//! The monitor's events are the server's (a slow command of any tenant, an
//! expiry pass, a log commit), so those subcommands take the operator power
//! ([`Flags::OPERATOR`]): a tenant gets `NOPERM`, as for `CONFIG`. A
//! tenant's own slow commands are in its `SLOWLOG`. `HISTOGRAM` is scoped
//! instead: a tenant sees its own commands' distributions, an operator
//! everyone's.

use kiln_net::{Args, Reply};

use super::client::text_reply;
use super::plan::{Finishing, Output};
use super::{CommandSpec, Ctx, Flags, KeySpec, Route, help_or_unknown};
use crate::command;
use crate::latency::{self, Series};
use crate::metrics::latency::{self as distributions, ByCommand};

const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];
const FLAGS: Flags = Flags::ADMIN
    .with(Flags::OPERATOR)
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
/// `HISTOGRAM`: scoped to the caller, not an operator power.
const HISTOGRAM_FLAGS: Flags = Flags::ADMIN.with(Flags::LOADING).with(Flags::STALE);

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("latency|latest", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, latest,
        "server", "2.8.13", "Returns the latest latency samples for all events."),
    command!("latency|history", 3, FLAGS, ACL, KeySpec::NONE, Route::Local, history,
        "server", "2.8.13", "Returns timestamp-latency samples for an event."),
    command!("latency|reset", -2, FLAGS, ACL, KeySpec::NONE, Route::Local, reset,
        "server", "2.8.13", "Resets the latency data for one or more events."),
    command!("latency|doctor", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, doctor,
        "server", "2.8.13", "Returns a human-readable latency analysis report."),
    command!("latency|histogram", -2, HISTOGRAM_FLAGS, ACL, KeySpec::NONE, Route::AllCores(histogram_combine), histogram_part,
        "server", "7.0.0", "Returns the cumulative distribution of latencies of a subset or all commands."),
    command!("latency|help", 2, Flags::LOADING.with(Flags::STALE), &["@slow"], KeySpec::NONE, Route::Local, container,
        "server", "2.8.13", "Returns helpful text about the different subcommands."),
];

/// This family's commands.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("latency", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, container,
        "server", "2.8.13", "A container for latency diagnostics commands.", subcommands: SUBCOMMANDS),
];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
];

fn container(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    help_or_unknown(args, "LATENCY", HELP)
}

/// Every core's events, merged.
fn merged(ctx: &Ctx<'_>) -> std::collections::BTreeMap<&'static str, Series> {
    let guards: Vec<_> = ctx
        .shared
        .latency
        .iter()
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
        .collect();
    latency::merge(guards.iter().map(|g| &**g))
}

/// `LATENCY LATEST`: `[event, timestamp, latest ms, max ms]` per event.
fn latest(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let events = merged(ctx);
    Reply::Array(
        events
            .iter()
            .filter_map(|(name, series)| {
                let last = series.samples.back()?;
                Some(Reply::Array(vec![
                    Reply::bulk_from(*name),
                    Reply::Integer(last.time as i64),
                    Reply::Integer(last.ms as i64),
                    Reply::Integer(series.max as i64),
                ]))
            })
            .collect(),
    )
}

/// `LATENCY HISTORY event`: `[timestamp, ms]`, oldest first (empty for
/// an event never seen).
fn history(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let events = merged(ctx);
    let Some((_, series)) = events.iter().find(|(n, _)| n.as_bytes() == args.get(2)) else {
        return Reply::Array(Vec::new());
    };
    Reply::Array(
        series
            .samples
            .iter()
            .map(|s| {
                Reply::Array(vec![
                    Reply::Integer(s.time as i64),
                    Reply::Integer(s.ms as i64),
                ])
            })
            .collect(),
    )
}

/// `LATENCY RESET [event ...]`: how many events were forgotten.
fn reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let names: Vec<&[u8]> = args.iter().skip(2).collect();
    let mut forgotten: Vec<&'static str> = Vec::new();
    for monitor in &ctx.shared.latency {
        let mut monitor = monitor.lock().unwrap_or_else(|e| e.into_inner());
        forgotten.extend(monitor.reset(&names));
    }
    forgotten.sort_unstable();
    forgotten.dedup();
    Reply::Integer(forgotten.len() as i64)
}

/// `LATENCY DOCTOR`: Redis's report, as text.
fn doctor(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let events = merged(ctx);
    let threshold = crate::shared::LiveSettings::get(&ctx.shared.runtime.latency_threshold_ms);
    let protocol = match ctx.session() {
        Some(session) => session.protocol,
        None => kiln_net::Protocol::Resp2,
    };
    text_reply(protocol, latency::doctor(&events, threshold).into())
}

/// The full names `LATENCY HISTOGRAM` asks for: each named command, a
/// container's subcommands in its place; unknown names are skipped, as
/// Redis does. `None`: every command.
fn requested(args: Args<'_>) -> Option<Vec<&'static str>> {
    if args.len() <= 2 {
        return None;
    }
    let mut names = Vec::new();
    for word in args.iter().skip(2) {
        let lower = String::from_utf8_lossy(word).to_ascii_lowercase();
        let Some(spec) = super::spec_named(&lower) else {
            continue;
        };
        if spec.subcommands.is_empty() {
            names.push(spec.name);
        } else {
            names.extend(spec.subcommands.iter().map(|sub| sub.name));
        }
    }
    Some(names)
}

/// One core's figures in the caller's scope, only the commands asked for.
fn histogram_part(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let operator = ctx.is_operator();
    let mut figures = ByCommand::new();
    for (tenant, rows) in ctx.stats.commands.all() {
        if operator || tenant == ctx.tenant {
            distributions::merge_rows(&mut figures, rows);
        }
    }
    if let Some(names) = requested(args) {
        figures.retain(|name, _| names.contains(name));
    }
    distributions::to_reply(&figures)
}

/// The cores' parts merged: `{command: {calls, histogram_usec: {..}}}` for
/// each command that ran timed.
fn histogram_combine(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut figures = ByCommand::new();
    for out in outputs {
        match out.into_reply() {
            err @ Reply::Error(_) => return err,
            part => distributions::add_reply(&mut figures, &part),
        }
    }
    let entries = figures
        .iter()
        .filter_map(|(name, m)| {
            let h = m.latency.as_ref()?;
            Some((Reply::bulk_from(name), distributions::histogram_reply(h)))
        })
        .collect();
    Reply::Map(entries)
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;
    use crate::commands::testbed::TestBed;

    #[test]
    fn replies_and_errors() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
        bed.shared.latency[0]
            .lock()
            .unwrap()
            .add("command", 1_700_000_000, 12);
        bed.shared.latency[0]
            .lock()
            .unwrap()
            .add("command", 1_700_000_001, 3);
        assert_eq!(
            bed.run(&["latency", "latest"]),
            Reply::Array(vec![Reply::Array(vec![
                TestBed::bulk("command"),
                Reply::Integer(1_700_000_001),
                Reply::Integer(3),
                Reply::Integer(12),
            ])])
        );
        assert_eq!(
            bed.run(&["LATENCY", "HISTORY", "command"]),
            Reply::Array(vec![
                Reply::Array(vec![Reply::Integer(1_700_000_000), Reply::Integer(12)]),
                Reply::Array(vec![Reply::Integer(1_700_000_001), Reply::Integer(3)]),
            ])
        );
        assert_eq!(
            bed.run(&["LATENCY", "HISTORY", "nosuch"]),
            Reply::Array(vec![])
        );
        assert_eq!(bed.run(&["LATENCY", "RESET", "nosuch"]), Reply::Integer(0));
        assert_eq!(bed.run(&["LATENCY", "RESET"]), Reply::Integer(1));
        assert_eq!(bed.run(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
        assert!(
            matches!(bed.run(&["LATENCY", "NOPE"]), Reply::Error(e) if e.starts_with("ERR unknown subcommand 'NOPE'"))
        );
        assert_eq!(
            bed.run(&["LATENCY", "HISTORY"]),
            Reply::error("ERR wrong number of arguments for 'latency|history' command")
        );
        let Reply::Array(help) = bed.run(&["LATENCY", "HELP"]) else {
            panic!()
        };
        assert!(help.len() > 8);
        let Reply::Bulk(report) = bed.run(&["LATENCY", "DOCTOR"]) else {
            panic!()
        };
        assert!(report.starts_with(b"I'm sorry, Dave"));
    }

    #[test]
    fn requested_names_expand_containers_and_skip_unknown() {
        let args = OwnedArgs::new([&b"latency"[..], b"histogram"]);
        assert_eq!(requested(args.args()), None);
        let args = OwnedArgs::new([&b"latency"[..], b"histogram", b"GET", b"nope", b"slowlog"]);
        let names = requested(args.args()).unwrap();
        assert_eq!(names[0], "get");
        assert!(names.contains(&"slowlog|get") && names.contains(&"slowlog|reset"));
        assert!(!names.contains(&"nope"));
    }
}
