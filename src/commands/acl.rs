//! `ACL`: the subset of Redis's ACL commands that manages tenants —
//! `SETUSER`, `DELUSER`, `LIST`, `USERS`, `GETUSER` (operators only),
//! `LOG`, `DRYRUN` (scoped to the caller) and `WHOAMI`, `CAT`, `HELP`.
//!
//! All run on the receiving core against the shared registry
//! ([`crate::tenant::Tenants`]), whose changes every core sees at once and
//! which writes them to the tenant file. `SETUSER` takes Redis's password,
//! on/off and command rules ([`crate::tenant::rules`]), Kiln's
//! `+@operator` / `-@operator` (the operator power) and `maxmemory=<size>`,
//! `maxkeys=<n>`, `maxclients=<n>`, `function-*=<n>` as quotas.
//!
//! Tenants manage nobody, themselves included: an `ACL SETUSER` by a
//! tenant answers `NOPERM` whatever its rules, as do `LIST`, `USERS`,
//! `GETUSER` and `DELUSER`. A tenant's `ACL LOG` shows (and `RESET`
//! clears) its own entries only, and it may `ACL DRYRUN` only itself; an
//! operator sees every entry and may dry-run anyone.

use kiln_net::{Args, OwnedArgs, Reply};

use super::{ACL_CATEGORIES, CommandSpec, Ctx, Flags, KeySpec, Lookup, Route, catalog};
use crate::tenant::log::{Event, Reason, Scope};
use crate::tenant::{
    CommandRules, DEFAULT_USER, Rule, TenantError, User, digest, hex, parse_rules,
};
use crate::{client_session, command};

/// Reaches other users: operators only.
const OPERATOR: Flags = Flags::ADMIN
    .with(Flags::OPERATOR)
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
/// Redis's flags for `LOG` and `DRYRUN`, which Kiln scopes to the caller
/// instead of refusing tenants.
const SCOPED: Flags = Flags::ADMIN
    .with(Flags::NOSCRIPT)
    .with(Flags::LOADING)
    .with(Flags::STALE);
const ANYONE: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);
const ADMIN_ACL: &[&str] = &["@admin", "@slow", "@dangerous"];
const SLOW: &[&str] = &["@slow"];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("acl", -2, Flags::NONE, SLOW, KeySpec::NONE, Route::Local, acl,
        "server", "6.0.0", "A container for Access List Control commands.", subcommands: SUBCOMMANDS),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("acl|setuser", -3, OPERATOR, ADMIN_ACL, KeySpec::NONE, Route::Local, setuser,
        "server", "6.0.0", "Creates and modifies an ACL user and its rules."),
    command!("acl|deluser", -3, OPERATOR, ADMIN_ACL, KeySpec::NONE, Route::Local, deluser,
        "server", "6.0.0", "Deletes ACL users, and terminates their connections."),
    command!("acl|list", 2, OPERATOR, ADMIN_ACL, KeySpec::NONE, Route::Local, list,
        "server", "6.0.0", "Dumps the effective rules in ACL file format."),
    command!("acl|users", 2, OPERATOR, ADMIN_ACL, KeySpec::NONE, Route::Local, users,
        "server", "6.0.0", "Lists all ACL users."),
    command!("acl|getuser", 3, OPERATOR, ADMIN_ACL, KeySpec::NONE, Route::Local, getuser,
        "server", "6.0.0", "Lists the ACL rules of a user."),
    command!("acl|log", -2, SCOPED, ADMIN_ACL, KeySpec::NONE, Route::Local, log,
        "server", "6.0.0", "Lists recent security events generated due to ACL rules."),
    command!("acl|dryrun", -4, SCOPED, ADMIN_ACL, KeySpec::NONE, Route::Local, dryrun,
        "server", "7.0.0", "Simulates the execution of a command by a user, without executing the command."),
    command!("acl|whoami", 2, ANYONE, SLOW, KeySpec::NONE, Route::Local, whoami,
        "server", "6.0.0", "Returns the authenticated username of the current connection."),
    command!("acl|cat", -2, ANYONE, SLOW, KeySpec::NONE, Route::Local, cat,
        "server", "6.0.0", "Lists the ACL categories, or the commands inside a category."),
    command!("acl|help", 2, Flags::LOADING.with(Flags::STALE), SLOW, KeySpec::NONE, Route::Local, acl,
        "server", "6.0.0", "Returns helpful text about the different subcommands."),
];

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "LIST",
    "    Show users details in config file format.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "    Kiln also reads +@operator / -@operator (the operator power) and",
    "    maxmemory=<size>, maxkeys=<n>, maxclients=<n>.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

/// `ACL HELP`, or the unknown-subcommand error.
fn acl(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    super::help_or_unknown(args, "ACL", HELP)
}

/// The `default` user as Redis shows it: configured by `requirepass`, every
/// command, and (Kiln) the operator power, which its rules do not show.
fn default_user(ctx: &Ctx<'_>) -> User {
    let password = ctx.shared.runtime.requirepass();
    User {
        nopass: password.is_none(),
        passwords: password
            .map(|p| vec![digest(p.as_bytes())])
            .unwrap_or_default(),
        enabled: true,
        commands: CommandRules::all(),
        ..User::new(DEFAULT_USER)
    }
}

/// Every user, `default` included, sorted by name as Redis lists them.
fn all_users(ctx: &Ctx<'_>) -> Vec<User> {
    let mut users: Vec<User> = ctx
        .shared
        .tenants
        .list()
        .into_iter()
        .map(|(_, u)| u)
        .collect();
    users.push(default_user(ctx));
    users.sort_by(|a, b| a.name.cmp(&b.name));
    users
}

fn registry_error(err: TenantError) -> Reply {
    Reply::error_owned(format!("ERR {err}"))
}

/// `ACL SETUSER username [rule ...]`: rules apply left to right, all or
/// none. A user it creates starts as Redis's do (off, no password,
/// `-@all`) — except that a line without any command rule gives the new
/// user `+@all`, so `ACL SETUSER t1 on >pw` still makes a working tenant.
fn setuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let raw: Vec<&[u8]> = args.iter().skip(3).collect();
    let rules = match parse_rules(&raw) {
        Ok(rules) => rules,
        Err((rule, why)) => {
            return Reply::error_owned(format!(
                "ERR Error in ACL SETUSER modifier '{rule}': {why}"
            ));
        }
    };
    if name == DEFAULT_USER {
        return Reply::error(
            "ERR the default user is configured by requirepass (CONFIG SET requirepass)",
        );
    }
    if name.contains(char::is_whitespace) || name.is_empty() {
        return Reply::error("ERR Usernames can't contain spaces or null characters");
    }
    let names_commands = rules.iter().any(|r| matches!(r, Rule::Commands(_)));
    let applied = ctx.shared.tenants.set_user(&name, |user, created| {
        if created && !names_commands {
            user.commands = CommandRules::all();
        }
        rules.iter().for_each(|r| user.apply(r));
    });
    match applied {
        Ok(()) => Reply::OK,
        Err(err) => registry_error(err),
    }
}

/// `ACL DELUSER username [username ...]`: how many existed. Their
/// connections close, and their keys and function libraries go.
fn deluser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let names: Vec<String> = args
        .iter()
        .skip(2)
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    if names.iter().any(|n| n == DEFAULT_USER) {
        return Reply::error("ERR The 'default' user cannot be removed");
    }
    let tenants = &ctx.shared.tenants;
    let existing: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| tenants.get(n).is_some())
        .collect();
    // Their libraries go too (`Tenants::bind_functions`): a tenant created
    // later under the same name starts without them.
    if let Err(err) = tenants.delete(&existing) {
        return registry_error(err);
    }
    Reply::Integer(existing.len() as i64)
}

/// `ACL LIST`: one `user ...` rule line per user.
fn list(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Array(
        all_users(ctx)
            .iter()
            .map(|u| Reply::bulk_from(u.describe()))
            .collect(),
    )
}

/// `ACL USERS`: the names.
fn users(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Array(
        all_users(ctx)
            .into_iter()
            .map(|u| Reply::bulk_from(u.name))
            .collect(),
    )
}

/// `ACL GETUSER username`: flags, passwords, commands, keys, channels,
/// selectors as Redis 7 shows them, plus Kiln's `limits`; nil if unknown.
fn getuser(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = String::from_utf8_lossy(args.get(2));
    let Some(user) = all_users(ctx).into_iter().find(|u| u.name == name) else {
        return Reply::Nil;
    };
    let bulk = |s: &str| Reply::bulk_from(s);
    let mut flags = vec![bulk(if user.enabled { "on" } else { "off" })];
    if user.nopass {
        flags.push(bulk("nopass"));
    }
    let limits = user
        .limits
        .pairs()
        .iter()
        .map(|(n, v)| (bulk(n), Reply::Integer(*v as i64)))
        .collect();
    Reply::Map(vec![
        (bulk("flags"), Reply::Array(flags)),
        (
            bulk("passwords"),
            Reply::Array(user.passwords.iter().map(|d| bulk(&hex(d))).collect()),
        ),
        (bulk("commands"), bulk(&user.command_rules())),
        (bulk("keys"), bulk("~*")),
        (bulk("channels"), bulk("&*")),
        (bulk("selectors"), Reply::Array(Vec::new())),
        (bulk("limits"), Reply::Map(limits)),
    ])
}

/// Whose ACL log entries the caller sees.
fn log_scope(ctx: &Ctx<'_>) -> Scope {
    if ctx.is_operator() {
        Scope::All
    } else {
        Scope::Own(ctx.tenant)
    }
}

/// `ACL LOG [count | RESET]`: the caller's entries (an operator's: every
/// entry), most recent first, with Redis 7.2's fields.
fn log(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mut count = 10;
    match args.len() {
        2 => {}
        3 if args.get(2).eq_ignore_ascii_case(b"RESET") => {
            ctx.shared.tenants.log().reset(log_scope(ctx));
            return Reply::OK;
        }
        3 => match super::int_arg(args.get(2)) {
            Ok(n) => count = usize::try_from(n).unwrap_or(0),
            Err(reply) => return reply,
        },
        _ => {
            return Reply::error(
                "ERR unknown subcommand or wrong number of arguments for 'log'. Try ACL HELP.",
            );
        }
    }
    let bulk = |s: &str| Reply::bulk_from(s);
    let entries = ctx.shared.tenants.log().entries(log_scope(ctx), count);
    Reply::Array(
        entries
            .into_iter()
            .map(|e| {
                Reply::Map(vec![
                    (bulk("count"), Reply::Integer(e.count as i64)),
                    (bulk("reason"), bulk(e.reason)),
                    (bulk("context"), bulk(e.context)),
                    (bulk("object"), bulk(&e.object)),
                    (bulk("username"), bulk(&e.username)),
                    (bulk("age-seconds"), Reply::Double(e.age_seconds)),
                    (bulk("client-info"), bulk(&e.client_info)),
                    (bulk("entry-id"), Reply::Integer(e.entry_id as i64)),
                    (
                        bulk("timestamp-created"),
                        Reply::Integer(e.created_ms as i64),
                    ),
                    (
                        bulk("timestamp-last-updated"),
                        Reply::Integer(e.updated_ms as i64),
                    ),
                ])
            })
            .collect(),
    )
}

/// `ACL DRYRUN username command [arg ...]`: `+OK`, or as a bulk string the
/// reason Redis 7.2 gives (`User ro has no permissions to run the 'set'
/// command`). A tenant may dry-run only itself: for anyone else it gets
/// `NOPERM`, logged, before learning whether that user exists.
fn dryrun(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = String::from_utf8_lossy(args.get(2)).into_owned();
    let me = client_session!(ctx).user.clone();
    if name != me && !ctx.is_operator() {
        let spec = catalog()
            .iter()
            .find(|e| e.spec.name == "acl|dryrun")
            .map(|e| e.spec)
            .expect("acl|dryrun is in the table");
        let session = client_session!(ctx);
        let event = Event {
            reason: Reason::Command,
            object: spec.name.into(),
            username: me.clone(),
            client_info: session.info_line(std::time::Instant::now(), None),
        };
        ctx.shared.tenants.log().add(ctx.tenant, event);
        return super::no_permission(&me, spec);
    }
    let tenants = &ctx.shared.tenants;
    if name != DEFAULT_USER && tenants.get(&name).is_none() {
        return Reply::error_owned(format!("ERR User '{name}' not found"));
    }
    let request = OwnedArgs::new(args.iter().skip(3));
    let request = request.args();
    let spec = match super::lookup(request) {
        Lookup::Found(spec) if spec.subcommands.is_empty() || request.len() < 2 => spec,
        _ => {
            return Reply::error_owned(format!(
                "ERR Command '{}' not found",
                String::from_utf8_lossy(request.get(0))
            ));
        }
    };
    if !spec.arity_ok(request.len()) {
        return super::wrong_arity(spec);
    }
    match tenants.user_may_run(&name, spec, request) {
        Some(true) => Reply::OK,
        Some(false) => Reply::bulk_from(format!(
            "User {name} has no permissions to run the '{}' command",
            spec.name
        )),
        None => Reply::error_owned(format!("ERR User '{name}' not found")),
    }
}

/// `ACL WHOAMI`
fn whoami(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::bulk_from(client_session!(ctx).user.clone())
}

/// `ACL CAT [category]`: Redis's categories in Redis's order, or the
/// commands (and subcommands) of the table in one.
fn cat(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match args.len() {
        2 => Reply::Array(ACL_CATEGORIES.iter().map(Reply::bulk_from).collect()),
        3 => {
            let given = args.get(2);
            let wanted = String::from_utf8_lossy(given).to_ascii_lowercase();
            if !ACL_CATEGORIES.contains(&wanted.as_str()) {
                let shown = String::from_utf8_lossy(&given[..given.len().min(128)]);
                return Reply::error_owned(format!("ERR Unknown category '{shown}'"));
            }
            Reply::Array(
                catalog()
                    .iter()
                    .filter(|e| e.spec.in_category(&wanted))
                    .map(|e| Reply::bulk_from(e.spec.name))
                    .collect(),
            )
        }
        _ => super::errors::SYNTAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testbed::TestBed;

    fn strings(reply: Reply) -> Vec<String> {
        let Reply::Array(items) = reply else {
            panic!("{reply:?}")
        };
        items
            .into_iter()
            .map(|r| match r {
                Reply::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn setuser_creates_and_changes_tenants() {
        let mut bed = TestBed::with_tenant("t1", "pw");
        assert_eq!(
            bed.run(&[
                "ACL",
                "SETUSER",
                "t2",
                "on",
                ">secret",
                "maxkeys=5",
                "~*",
                "&*"
            ]),
            Reply::OK
        );
        assert_eq!(strings(bed.run(&["ACL", "USERS"])), ["default", "t1", "t2"]);
        let t2 = bed.shared.tenants.get("t2").unwrap();
        assert!(t2.enabled && t2.accepts(b"secret") && !t2.operator);
        assert!(
            t2.commands.unrestricted(),
            "a line without command rules: +@all"
        );
        assert_eq!(t2.limits.maxkeys, 5);
        assert_eq!(
            bed.run(&["ACL", "SETUSER", "t2", "off", "bogus"]),
            Reply::error("ERR Error in ACL SETUSER modifier 'bogus': Syntax error")
        );
        assert!(
            bed.shared.tenants.get("t2").unwrap().enabled,
            "all or nothing"
        );
        let list = strings(bed.run(&["ACL", "LIST"]));
        assert_eq!(list[0], "user default on nopass ~* &* +@all");
        assert_eq!(
            list[2],
            format!(
                "user t2 on #{} ~* &* +@all maxkeys=5",
                hex(&digest(b"secret"))
            )
        );
        assert_eq!(
            bed.run(&["ACL", "DELUSER", "t2", "nobody"]),
            Reply::Integer(1)
        );
        assert_eq!(bed.run(&["ACL", "GETUSER", "t2"]), Reply::Nil);
        assert_eq!(
            bed.run(&["ACL", "DELUSER", "default"]),
            Reply::error("ERR The 'default' user cannot be removed")
        );
    }

    #[test]
    fn getuser_shows_redis_fields() {
        let mut bed = TestBed::with_tenant("t1", "pw");
        let Reply::Map(fields) = bed.run(&["ACL", "GETUSER", "t1"]) else {
            panic!()
        };
        let names: Vec<Reply> = fields.iter().map(|(k, _)| k.clone()).collect();
        let expected: Vec<Reply> = [
            "flags",
            "passwords",
            "commands",
            "keys",
            "channels",
            "selectors",
            "limits",
        ]
        .iter()
        .map(|n| TestBed::bulk(n))
        .collect();
        assert_eq!(names, expected);
        assert_eq!(fields[0].1, Reply::Array(vec![TestBed::bulk("on")]));
        assert_eq!(
            fields[1].1,
            Reply::Array(vec![TestBed::bulk(&hex(&digest(b"pw")))])
        );
    }

    #[test]
    fn whoami_and_cat() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["ACL", "WHOAMI"]), TestBed::bulk("default"));
        let cats = strings(bed.run(&["ACL", "CAT"]));
        assert!(cats.contains(&"admin".to_string()) && cats.contains(&"read".to_string()));
        assert!(strings(bed.run(&["ACL", "CAT", "string"])).contains(&"get".to_string()));
        assert_eq!(
            bed.run(&["ACL", "CAT", "nope"]),
            Reply::error("ERR Unknown category 'nope'")
        );
    }
}
