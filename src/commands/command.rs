//! `COMMAND` and its subcommands: `COUNT`, `INFO`, `DOCS`, `LIST`,
//! `GETKEYS`, `HELP` — all generated from the command table.
//!
//! Also home to [`help`], the reply every container's `HELP` subcommand
//! builds.

use kiln_net::{Args, OwnedArgs, Reply};

use super::{CommandSpec, Ctx, Flags, KeySpec, Lookup, Route, errors, lookup, table};
use crate::command;

const ACL: &[&str] = &["@slow", "@connection"];
const FLAGS: Flags = Flags::LOADING.with(Flags::STALE);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("command", -1, FLAGS, ACL, KeySpec::NONE, Route::Local, command,
        "server", "2.8.13", "Returns detailed information about all commands.", subcommands: SUBCOMMANDS),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("command|count", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, count,
        "server", "2.8.13", "Returns a count of commands."),
    command!("command|info", -2, FLAGS, ACL, KeySpec::NONE, Route::Local, info,
        "server", "2.8.13", "Returns information about one, multiple or all commands."),
    command!("command|docs", -2, FLAGS, ACL, KeySpec::NONE, Route::Local, docs,
        "server", "7.0.0", "Returns documentary information about one, multiple or all commands."),
    command!("command|list", -2, FLAGS, ACL, KeySpec::NONE, Route::Local, list,
        "server", "7.0.0", "Returns a list of command names."),
    command!("command|getkeys", -3, FLAGS, ACL, KeySpec::NONE, Route::Local, getkeys,
        "server", "2.8.13", "Extracts the key names from an arbitrary command."),
    command!("command|help", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, command,
        "server", "5.0.0", "Returns helpful text about the different subcommands."),
];

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
];

/// A container's `HELP` reply, worded as Redis's `addReplyHelp`: a header,
/// the container's `lines`, then `HELP` itself, all as status replies.
pub fn help(container: &str, lines: &[&'static str]) -> Reply {
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Status(
        format!("{container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:").into(),
    ));
    out.extend(lines.iter().map(|line| Reply::status(line)));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

/// `COMMAND`: every command's info; also `HELP` and unknown subcommands.
fn command(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match args.len() {
        1 => Reply::Array(table().iter().map(|spec| info_entry(spec)).collect()),
        2 if args.get(1).eq_ignore_ascii_case(b"HELP") => help("COMMAND", HELP),
        _ => super::unknown_subcommand(args),
    }
}

fn count(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Integer(table().len() as i64)
}

/// Finds a command or subcommand by its full name (`get`, `config|get`),
/// case-insensitively.
fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let (top, sub) = match name.split_once('|') {
        Some((top, sub)) => (top, Some(sub)),
        None => (name.as_str(), None),
    };
    let spec = table().iter().find(|spec| spec.name == top)?;
    match sub {
        None => Some(spec),
        Some(sub) => spec.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .is_some_and(|(_, short)| short == sub)
        }),
    }
}

fn statuses(items: impl Iterator<Item = &'static str>) -> Reply {
    Reply::Array(items.map(Reply::status).collect())
}

fn map(fields: Vec<(&str, Reply)>) -> Reply {
    Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Reply::bulk_from(k), v))
            .collect(),
    )
}

/// Redis 7's `COMMAND INFO` entry: name, arity, flags, first key, last key,
/// step, ACL categories, tips, key specs, subcommands.
fn info_entry(spec: &CommandSpec) -> Reply {
    let keys = spec.keys;
    Reply::Array(vec![
        Reply::bulk_from(spec.name),
        Reply::Integer(spec.arity.into()),
        statuses(
            spec.flags
                .names()
                .chain((keys.numkeys_at != 0 || keys.streams).then_some("movablekeys")),
        ),
        Reply::Integer(keys.first as i64),
        Reply::Integer(if keys.first == 0 { 0 } else { keys.last as i64 }),
        Reply::Integer(if keys.first == 0 { 0 } else { keys.step as i64 }),
        statuses(spec.acl.iter().copied()),
        Reply::Array(Vec::new()),
        key_specs(spec),
        Reply::Array(spec.subcommands.iter().map(info_entry).collect()),
    ])
}

/// The legacy `(first, last, step)` as one Redis 7 key spec (an `index`
/// begin-search and a `range` find-keys).
fn key_specs(spec: &CommandSpec) -> Reply {
    let KeySpec {
        first,
        last,
        step,
        numkeys_at,
        streams,
    } = spec.keys;
    if streams {
        return streams_key_spec(spec);
    }
    if numkeys_at != 0 {
        return counted_key_spec(numkeys_at);
    }
    if first == 0 {
        return Reply::Array(Vec::new());
    }
    let lastkey = if last < 0 {
        last
    } else {
        last - first as isize
    };
    let access = if spec.flags.has(Flags::WRITE) {
        "RW"
    } else {
        "RO"
    };
    Reply::Array(vec![map(vec![
        ("flags", statuses([access].into_iter())),
        (
            "begin_search",
            map(vec![
                ("type", Reply::bulk_from("index")),
                ("spec", map(vec![("index", Reply::Integer(first as i64))])),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", Reply::bulk_from("range")),
                (
                    "spec",
                    map(vec![
                        ("lastkey", Reply::Integer(lastkey as i64)),
                        ("keystep", Reply::Integer(step as i64)),
                        ("limit", Reply::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// XREAD's key spec as Redis 7 reports it: after the `STREAMS` keyword,
/// the first half of the remaining arguments.
fn streams_key_spec(spec: &CommandSpec) -> Reply {
    let access = if spec.flags.has(Flags::WRITE) {
        ["RW", "ACCESS"]
    } else {
        ["RO", "ACCESS"]
    };
    Reply::Array(vec![map(vec![
        ("flags", statuses(access.into_iter())),
        (
            "begin_search",
            map(vec![
                ("type", Reply::bulk_from("keyword")),
                (
                    "spec",
                    map(vec![
                        ("keyword", Reply::bulk_from("STREAMS")),
                        ("startfrom", Reply::Integer(1)),
                    ]),
                ),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", Reply::bulk_from("range")),
                (
                    "spec",
                    map(vec![
                        ("lastkey", Reply::Integer(-1)),
                        ("keystep", Reply::Integer(1)),
                        ("limit", Reply::Integer(2)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// The key spec of a command whose keys follow a count (`FCALL`), as
/// Redis 7 reports it: a `keynum` find-keys after the count.
fn counted_key_spec(numkeys_at: usize) -> Reply {
    Reply::Array(vec![map(vec![
        ("flags", statuses(["RW", "ACCESS", "UPDATE"].into_iter())),
        (
            "begin_search",
            map(vec![
                ("type", Reply::bulk_from("index")),
                (
                    "spec",
                    map(vec![("index", Reply::Integer(numkeys_at as i64))]),
                ),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", Reply::bulk_from("keynum")),
                (
                    "spec",
                    map(vec![
                        ("keynumidx", Reply::Integer(0)),
                        ("firstkey", Reply::Integer(1)),
                        ("keystep", Reply::Integer(1)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// `COMMAND INFO [name ...]`: nil for unknown names; every command when
/// none is named.
fn info(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() == 2 {
        return Reply::Array(table().iter().map(|spec| info_entry(spec)).collect());
    }
    Reply::Array(
        args.iter()
            .skip(2)
            .map(|name| find(name).map_or(Reply::Nil, info_entry))
            .collect(),
    )
}

/// `COMMAND DOCS` document of one command.
fn doc_entry(spec: &CommandSpec) -> Reply {
    let mut fields = vec![
        ("summary", Reply::bulk_from(spec.summary)),
        ("since", Reply::bulk_from(spec.since)),
        ("group", Reply::bulk_from(spec.group)),
    ];
    let arguments = super::syntax::arguments(spec.name);
    if !arguments.is_empty() {
        fields.push(("arguments", Reply::Array(arguments)));
    }
    if !spec.subcommands.is_empty() {
        fields.push(("subcommands", docs_of(spec.subcommands.iter())));
    }
    map(fields)
}

fn docs_of<'a>(specs: impl Iterator<Item = &'a CommandSpec>) -> Reply {
    Reply::Map(
        specs
            .map(|spec| (Reply::bulk_from(spec.name), doc_entry(spec)))
            .collect(),
    )
}

/// `COMMAND DOCS [name ...]`: a map of name → document; unknown names are
/// left out.
fn docs(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() == 2 {
        return docs_of(table().iter().copied());
    }
    docs_of(args.iter().skip(2).filter_map(find))
}

/// Which names `COMMAND LIST` returns.
#[derive(Debug, PartialEq, Eq)]
enum CommandListFilter {
    All,
    Module,
    AclCat(String),
    Pattern(Vec<u8>),
}

fn parse_list(args: Args<'_>) -> Result<CommandListFilter, Reply> {
    match args.len() {
        2 => Ok(CommandListFilter::All),
        5 if args.get(2).eq_ignore_ascii_case(b"FILTERBY") => {
            let kind = args.get(3);
            let value = args.get(4);
            if kind.eq_ignore_ascii_case(b"MODULE") {
                Ok(CommandListFilter::Module)
            } else if kind.eq_ignore_ascii_case(b"ACLCAT") {
                Ok(CommandListFilter::AclCat(format!(
                    "@{}",
                    String::from_utf8_lossy(value).to_ascii_lowercase()
                )))
            } else if kind.eq_ignore_ascii_case(b"PATTERN") {
                Ok(CommandListFilter::Pattern(value.to_vec()))
            } else {
                Err(errors::SYNTAX)
            }
        }
        _ => Err(errors::SYNTAX),
    }
}

/// `COMMAND LIST [FILTERBY ...]`: command and subcommand names.
fn list(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let filter = match parse_list(args) {
        Ok(filter) => filter,
        Err(reply) => return reply,
    };
    let admits = |spec: &CommandSpec| match &filter {
        CommandListFilter::All => true,
        CommandListFilter::Module => false,
        CommandListFilter::AclCat(cat) => spec.acl.contains(&cat.as_str()),
        CommandListFilter::Pattern(p) => {
            kiln_store::glob::glob_match(p, spec.name.as_bytes(), true)
        }
    };
    let names = table()
        .iter()
        .flat_map(|spec| std::iter::once(*spec).chain(spec.subcommands.iter()))
        .filter(|spec| admits(spec))
        .map(|spec| Reply::bulk_from(spec.name))
        .collect();
    Reply::Array(names)
}

/// `COMMAND GETKEYS command arg ...`
fn getkeys(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let inner = OwnedArgs::new(args.iter().skip(2));
    let inner = inner.args();
    let spec = match lookup(inner) {
        Lookup::Found(spec) => spec,
        Lookup::Unknown(_) => return Reply::error("ERR Invalid command specified"),
    };
    if !spec.arity_ok(inner.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys: Vec<Reply> = spec
        .keys
        .positions_in(inner)
        .map(|i| Reply::bulk_from(inner.get(i)))
        .collect();
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::Array(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testbed::TestBed;

    fn field<'a>(map: &'a Reply, name: &str) -> Option<&'a Reply> {
        let Reply::Map(fields) = map else {
            panic!("not a map: {map:?}")
        };
        fields
            .iter()
            .find(|(k, _)| *k == Reply::bulk_from(name))
            .map(|(_, v)| v)
    }

    #[test]
    fn count_and_list() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["COMMAND", "COUNT"]),
            Reply::Integer(table().len() as i64)
        );
        let Reply::Array(names) = bed.run(&["COMMAND", "LIST"]) else {
            panic!()
        };
        assert!(names.contains(&TestBed::bulk("ping")));
        assert!(names.contains(&TestBed::bulk("client|setname")));
        let Reply::Array(names) = bed.run(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "client|*"])
        else {
            panic!()
        };
        assert!(
            names
                .iter()
                .all(|n| matches!(n, Reply::Bulk(b) if b.starts_with(b"client|")))
        );
        assert!(!names.is_empty());
        let Reply::Array(names) = bed.run(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"])
        else {
            panic!()
        };
        assert!(names.contains(&TestBed::bulk("echo")));
        assert_eq!(
            bed.run(&["COMMAND", "LIST", "FILTERBY", "x", "y"]),
            errors::SYNTAX
        );
    }

    #[test]
    fn info_entries() {
        let mut bed = TestBed::new();
        let Reply::Array(entries) = bed.run(&["COMMAND", "INFO", "echo", "nope", "client|setname"])
        else {
            panic!()
        };
        assert_eq!(entries[1], Reply::Nil);
        let Reply::Array(echo) = &entries[0] else {
            panic!()
        };
        assert_eq!(echo.len(), 10);
        assert_eq!(echo[0], TestBed::bulk("echo"));
        assert_eq!(echo[1], Reply::Integer(2));
        assert_eq!(
            echo[2],
            Reply::Array(vec![
                Reply::status("loading"),
                Reply::status("stale"),
                Reply::status("fast")
            ])
        );
        assert_eq!(
            &echo[3..6],
            &[Reply::Integer(0), Reply::Integer(0), Reply::Integer(0)]
        );
        assert_eq!(
            echo[6],
            Reply::Array(vec![Reply::status("@fast"), Reply::status("@connection")])
        );
        let Reply::Array(setname) = &entries[2] else {
            panic!()
        };
        assert_eq!(setname[0], TestBed::bulk("client|setname"));
        let Reply::Array(all) = bed.run(&["COMMAND"]) else {
            panic!()
        };
        assert_eq!(all.len(), table().len());
        let Some(Reply::Array(client)) = all
            .iter()
            .find(|e| matches!(e, Reply::Array(f) if f[0] == TestBed::bulk("client")))
        else {
            panic!()
        };
        let Reply::Array(subs) = &client[9] else {
            panic!()
        };
        assert!(!subs.is_empty());
    }

    #[test]
    fn key_specs_follow_the_legacy_range() {
        let spec = command!(
            "mset",
            -3,
            Flags::WRITE,
            &[],
            KeySpec::range(1, -1, 2),
            Route::Local,
            count,
            "string",
            "1.0.1",
            "x"
        );
        let Reply::Array(specs) = key_specs(&spec) else {
            panic!()
        };
        let find_keys = field(&specs[0], "find_keys").unwrap();
        let range = field(find_keys, "spec").unwrap();
        assert_eq!(field(range, "lastkey"), Some(&Reply::Integer(-1)));
        assert_eq!(field(range, "keystep"), Some(&Reply::Integer(2)));
        let spec = command!(
            "get",
            2,
            Flags::READONLY,
            &[],
            KeySpec::FIRST,
            Route::Local,
            count,
            "string",
            "1.0.0",
            "x"
        );
        let Reply::Array(specs) = key_specs(&spec) else {
            panic!()
        };
        assert_eq!(
            field(&specs[0], "flags"),
            Some(&Reply::Array(vec![Reply::status("RO")]))
        );
        let range = field(field(&specs[0], "find_keys").unwrap(), "spec").unwrap();
        assert_eq!(field(range, "lastkey"), Some(&Reply::Integer(0)));
    }

    #[test]
    fn docs_map() {
        let mut bed = TestBed::new();
        let docs = bed.run(&["COMMAND", "DOCS", "nope", "CLIENT"]);
        let Reply::Map(entries) = &docs else { panic!() };
        assert_eq!(entries.len(), 1);
        let client = field(&docs, "client").unwrap();
        assert_eq!(field(client, "group"), Some(&TestBed::bulk("connection")));
        let subs = field(client, "subcommands").unwrap();
        assert!(field(subs, "client|setname").is_some());
        let Reply::Map(all) = bed.run(&["COMMAND", "DOCS"]) else {
            panic!()
        };
        assert_eq!(all.len(), table().len());
    }

    #[test]
    fn getkeys_help_unknown() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["COMMAND", "GETKEYS", "nope", "a"]),
            Reply::error("ERR Invalid command specified")
        );
        assert_eq!(
            bed.run(&["COMMAND", "GETKEYS", "echo", "a"]),
            Reply::error("ERR The command has no key arguments")
        );
        assert_eq!(
            bed.run(&["COMMAND", "GETKEYS", "echo", "a", "b"]),
            Reply::error("ERR Invalid number of arguments specified for command")
        );
        let Reply::Array(lines) = bed.run(&["COMMAND", "HELP"]) else {
            panic!()
        };
        assert_eq!(lines.last(), Some(&Reply::status("    Prints this help.")));
        assert_eq!(
            bed.run(&["COMMAND", "FOO"]),
            Reply::error("ERR unknown subcommand 'FOO'. Try COMMAND HELP.")
        );
    }
}
