//! Each command's argument syntax, written as the Redis documentation
//! writes it (`key value [NX | XX] [GET] ...`), and its translation into the
//! `arguments` tree `COMMAND DOCS` returns — what redis-cli 7 builds its
//! input hints from.
//!
//! Grammar: `[...]` optional, `<...>` a required group (`<a | b>`, as
//! Redis documents GEOSEARCH's `<FROMMEMBER member | FROMLONLAT lon lat>`),
//! `a | b` one of, `...` repeats the argument (or
//! group) before it, UPPER-CASE words are tokens (a token followed by a
//! lower-case word is that argument's token, as `EX seconds`), lower-case
//! words are arguments whose name gives their type.

use kiln_net::Reply;

/// `(command name, syntax)` for every command and subcommand in the table
/// (a unit test keeps the two in step).
pub const SYNTAX: &[(&str, &str)] = &[
    ("get", "key"),
    (
        "set",
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    ),
    ("setnx", "key value"),
    ("setex", "key seconds value"),
    ("psetex", "key milliseconds value"),
    ("getset", "key value"),
    ("getdel", "key"),
    (
        "getex",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    ),
    ("mget", "key [key ...]"),
    ("mset", "key value [key value ...]"),
    ("msetnx", "key value [key value ...]"),
    ("append", "key value"),
    ("strlen", "key"),
    ("getrange", "key start end"),
    ("setrange", "key offset value"),
    ("incr", "key"),
    ("incrby", "key increment"),
    ("incrbyfloat", "key increment"),
    ("decr", "key"),
    ("decrby", "key decrement"),
    ("del", "key [key ...]"),
    ("unlink", "key [key ...]"),
    ("exists", "key [key ...]"),
    ("touch", "key [key ...]"),
    ("type", "key"),
    ("object", "subcommand"),
    ("object|encoding", "key"),
    ("object|refcount", "key"),
    ("object|freq", "key"),
    ("object|idletime", "key"),
    ("object|help", ""),
    ("rename", "key newkey"),
    ("renamenx", "key newkey"),
    ("copy", "source destination [DB destination-db] [REPLACE]"),
    ("dump", "key"),
    ("setbit", "key offset value"),
    ("getbit", "key offset"),
    ("bitcount", "key [start end [BYTE | BIT]]"),
    ("bitpos", "key bit [start [end [BYTE | BIT]]]"),
    ("bitop", "operation destkey key [key ...]"),
    ("pfadd", "key [element [element ...]]"),
    ("pfcount", "key [key ...]"),
    ("pfmerge", "destkey [sourcekey [sourcekey ...]]"),
    ("multi", ""),
    ("exec", ""),
    ("discard", ""),
    ("watch", "key [key ...]"),
    ("unwatch", ""),
    ("subscribe", "channel [channel ...]"),
    ("unsubscribe", "[channel [channel ...]]"),
    ("psubscribe", "pattern [pattern ...]"),
    ("punsubscribe", "[pattern [pattern ...]]"),
    ("ssubscribe", "shardchannel [shardchannel ...]"),
    ("sunsubscribe", "[shardchannel [shardchannel ...]]"),
    ("publish", "channel message"),
    ("spublish", "shardchannel message"),
    ("pubsub", "subcommand"),
    ("pubsub|channels", "[pattern]"),
    ("pubsub|numsub", "[channel [channel ...]]"),
    ("pubsub|numpat", ""),
    ("slowlog", "subcommand"),
    ("slowlog|get", "[count]"),
    ("slowlog|len", ""),
    ("slowlog|reset", ""),
    ("slowlog|help", ""),
    ("latency", "subcommand"),
    ("latency|latest", ""),
    ("latency|history", "event"),
    ("latency|reset", "[event [event ...]]"),
    ("latency|doctor", ""),
    ("latency|histogram", "[command [command ...]]"),
    ("latency|help", ""),
    ("monitor", ""),
    ("pubsub|shardchannels", "[pattern]"),
    ("pubsub|shardnumsub", "[shardchannel [shardchannel ...]]"),
    ("pubsub|help", ""),
    (
        "bitfield",
        "key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL] SET encoding offset value | [OVERFLOW WRAP | SAT | FAIL] INCRBY encoding offset increment ...]",
    ),
    (
        "bitfield_ro",
        "key [GET encoding offset [GET encoding offset ...]]",
    ),
    (
        "restore",
        "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
    ),
    ("expire", "key seconds [NX | XX | GT | LT]"),
    ("pexpire", "key milliseconds [NX | XX | GT | LT]"),
    ("expireat", "key unix-time-seconds [NX | XX | GT | LT]"),
    (
        "pexpireat",
        "key unix-time-milliseconds [NX | XX | GT | LT]",
    ),
    ("ttl", "key"),
    ("pttl", "key"),
    ("expiretime", "key"),
    ("pexpiretime", "key"),
    ("persist", "key"),
    ("keys", "pattern"),
    ("scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    ("randomkey", ""),
    ("ping", "[message]"),
    ("echo", "message"),
    (
        "hello",
        "[protover [AUTH username password] [SETNAME clientname]]",
    ),
    ("auth", "[username] password"),
    ("quit", ""),
    ("reset", ""),
    ("select", "index"),
    ("client", "subcommand"),
    ("client|id", ""),
    ("client|getname", ""),
    ("client|setname", "connection-name"),
    ("client|setinfo", "LIB-NAME libname | LIB-VER libver"),
    ("client|info", ""),
    (
        "client|list",
        "[TYPE client-type] [ID client-id [client-id ...]]",
    ),
    (
        "client|kill",
        "ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>] | [MAXAGE maxage] [[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>] | [MAXAGE maxage] ...]>",
    ),
    ("client|unblock", "client-id [TIMEOUT | ERROR]"),
    ("client|pause", "timeout [WRITE | ALL]"),
    ("client|unpause", ""),
    ("client|no-evict", "ON | OFF"),
    ("client|no-touch", "ON | OFF"),
    ("client|help", ""),
    ("config", "subcommand"),
    ("config|get", "parameter [parameter ...]"),
    ("config|set", "parameter value [parameter value ...]"),
    ("config|resetstat", ""),
    ("config|rewrite", ""),
    ("config|help", ""),
    ("dbsize", ""),
    ("flushdb", "[ASYNC | SYNC]"),
    ("flushall", "[ASYNC | SYNC]"),
    ("info", "[section [section ...]]"),
    ("time", ""),
    ("lastsave", ""),
    ("save", ""),
    ("bgsave", "[SCHEDULE]"),
    ("bgrewriteaof", ""),
    ("shutdown", "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
    ("debug", "subcommand"),
    ("debug|sleep", "seconds"),
    ("cluster", "subcommand"),
    ("cluster|slots", ""),
    ("cluster|shards", ""),
    ("cluster|nodes", ""),
    ("cluster|info", ""),
    ("cluster|keyslot", "key"),
    ("cluster|myid", ""),
    ("cluster|help", ""),
    ("readonly", ""),
    ("readwrite", ""),
    ("asking", ""),
    ("command", ""),
    ("command|count", ""),
    ("command|info", "[command-name [command-name ...]]"),
    ("command|docs", "[command-name [command-name ...]]"),
    (
        "command|list",
        "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]",
    ),
    ("command|getkeys", "command [arg [arg ...]]"),
    ("command|help", ""),
    ("acl", "subcommand"),
    ("acl|setuser", "username [rule [rule ...]]"),
    ("acl|deluser", "username [username ...]"),
    ("acl|list", ""),
    ("acl|users", ""),
    ("acl|getuser", "username"),
    ("acl|log", "[count | RESET]"),
    ("acl|dryrun", "username command [arg [arg ...]]"),
    ("acl|whoami", ""),
    ("acl|cat", "[category]"),
    ("acl|help", ""),
    ("fcall", "function numkeys [key [key ...]] [arg [arg ...]]"),
    (
        "fcall_ro",
        "function numkeys [key [key ...]] [arg [arg ...]]",
    ),
    ("function", "subcommand"),
    ("function|load", "[REPLACE] function-code"),
    ("function|delete", "library-name"),
    ("function|flush", "[ASYNC | SYNC]"),
    (
        "function|list",
        "[LIBRARYNAME library-name-pattern] [WITHCODE]",
    ),
    ("function|dump", ""),
    (
        "function|restore",
        "serialized-value [FLUSH | APPEND | REPLACE]",
    ),
    ("function|stats", ""),
    ("function|kill", ""),
    ("function|help", ""),
];

/// The syntax lists of the families that keep their own (the collection
/// types), searched after [`SYNTAX`].
const FAMILY_SYNTAX: &[&[(&str, &str)]] = &[
    super::hash::SYNTAX,
    super::stream::SYNTAX,
    super::list::SYNTAX,
    super::blocking::SYNTAX,
    super::sort::SYNTAX,
    super::set::SYNTAX,
    super::zset::SYNTAX,
    super::geo::SYNTAX,
];

/// Every `(command name, syntax)` entry: [`SYNTAX`], then the families' own.
fn all_syntax() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    SYNTAX
        .iter()
        .chain(FAMILY_SYNTAX.iter().flat_map(|f| f.iter()))
}

/// The `arguments` of `COMMAND DOCS` for `name`, empty if it takes none.
pub fn arguments(name: &str) -> Vec<Reply> {
    let syntax = all_syntax()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, s)| s);
    let mut keys = 0;
    parse(syntax)
        .iter()
        .map(|a| a.to_reply(&mut keys))
        .collect()
}

/// One documented argument.
#[derive(Debug, Clone, PartialEq)]
struct Arg {
    name: String,
    kind: &'static str,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    children: Vec<Arg>,
}

impl Arg {
    fn leaf(name: &str, token: Option<&str>) -> Arg {
        Arg {
            name: name.to_string(),
            kind: type_of(name),
            token: token.map(str::to_string),
            optional: false,
            multiple: false,
            children: Vec::new(),
        }
    }

    fn group(kind: &'static str, children: Vec<Arg>) -> Arg {
        let name = children
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join("_");
        Arg {
            name,
            kind,
            token: None,
            optional: false,
            multiple: false,
            children,
        }
    }

    /// The map Redis's `COMMAND DOCS` uses, fields in its order.
    fn to_reply(&self, keys: &mut i64) -> Reply {
        let text = |s: &str| Reply::bulk_from(s);
        let mut fields = vec![
            (text("name"), text(&self.name)),
            (text("type"), text(self.kind)),
        ];
        if self.kind == "key" {
            fields.push((text("key_spec_index"), Reply::Integer(*keys)));
            *keys += 1;
        }
        if let Some(token) = &self.token {
            fields.push((text("token"), text(token)));
        }
        let flags: Vec<Reply> = [(self.optional, "optional"), (self.multiple, "multiple")]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| Reply::Status(f.into()))
            .collect();
        if !flags.is_empty() {
            fields.push((text("flags"), Reply::Array(flags)));
        }
        if !self.children.is_empty() {
            let children = self.children.iter().map(|c| c.to_reply(keys)).collect();
            fields.push((text("arguments"), Reply::Array(children)));
        }
        Reply::Map(fields)
    }
}

/// The type Redis documents for an argument, from its conventional name.
fn type_of(name: &str) -> &'static str {
    match name {
        "key" | "newkey" | "source" | "destination" => "key",
        "seconds" | "milliseconds" | "offset" | "start" | "end" | "increment" | "decrement"
        | "index" | "protover" | "count" | "cursor" | "destination-db" | "client-id" => "integer",
        "unix-time-seconds" | "unix-time-milliseconds" => "unix-time",
        "pattern" => "pattern",
        _ if is_token(name) => "pure-token",
        _ => "string",
    }
}

fn is_token(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

/// Splits `[`, `]`, `|` and `...` from the words around them.
fn tokenize(syntax: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for word in syntax.split_whitespace() {
        let mut rest = word;
        while let Some(r) = rest.strip_prefix(['[', '<']) {
            out.push(&rest[..1]);
            rest = r;
        }
        let trimmed = rest.trim_end_matches([']', '>']);
        let closes = &rest[trimmed.len()..];
        rest = trimmed;
        match rest.strip_suffix("...") {
            Some(r) if !r.is_empty() => out.extend([r, "..."]),
            _ if !rest.is_empty() => out.push(rest),
            _ => {}
        }
        out.extend((0..closes.len()).map(|i| &closes[i..=i]));
    }
    out
}

fn parse(syntax: &str) -> Vec<Arg> {
    let mut alternatives = parse_seq(&tokenize(syntax), &mut 0);
    if alternatives.len() > 1 {
        // A top-level `a | b` (CLIENT NO-EVICT ON | OFF) is one oneof.
        vec![one_of(alternatives)]
    } else {
        alternatives.pop().unwrap_or_default()
    }
}

/// Parses until `]` or the end; returns the `|`-separated alternatives.
fn parse_seq(tokens: &[&str], at: &mut usize) -> Vec<Vec<Arg>> {
    let mut alternatives = Vec::new();
    let mut current: Vec<Arg> = Vec::new();
    while let Some(&tok) = tokens.get(*at) {
        *at += 1;
        match tok {
            "]" | ">" => break,
            "|" => alternatives.push(std::mem::take(&mut current)),
            "<" => {
                let mut inner = parse_seq(tokens, at);
                if inner.len() > 1 {
                    current.push(one_of(inner));
                } else {
                    current.append(&mut inner.pop().unwrap_or_default());
                }
            }
            "..." => {
                if let Some(last) = current.last_mut() {
                    last.multiple = true;
                }
            }
            "[" => {
                let inner = parse_seq(tokens, at);
                push_optional(&mut current, inner);
            }
            word if is_token(word) => match tokens.get(*at) {
                Some(&next)
                    if !is_token(next) && !matches!(next, "[" | "]" | "<" | ">" | "|" | "...") =>
                {
                    *at += 1;
                    current.push(Arg::leaf(next, Some(word)));
                }
                _ => {
                    let mut arg = Arg::leaf(&word.to_ascii_lowercase(), Some(word));
                    arg.kind = "pure-token";
                    current.push(arg);
                }
            },
            word => current.push(Arg::leaf(word, None)),
        }
    }
    alternatives.push(current);
    alternatives
}

/// Adds an optional group. `[key ...]` after `key`, or `[key value ...]`
/// after `key value`, is not a new argument: it makes the previous ones
/// repeat (a block when there are several, as Redis documents MSET).
fn push_optional(current: &mut Vec<Arg>, inner: Vec<Vec<Arg>>) {
    if let [only] = &inner[..] {
        let n = only.len();
        let repeats = n > 0
            && only.last().is_some_and(|a| a.multiple)
            && current.len() >= n
            && current[current.len() - n..]
                .iter()
                .zip(only)
                .all(|(a, b)| a.name == b.name && (b.token.is_none() || a.token == b.token));
        if repeats {
            let tail = current.split_off(current.len() - n);
            let mut repeated = if n == 1 {
                tail.into_iter()
                    .next()
                    .unwrap_or_else(|| Arg::leaf("arg", None))
            } else {
                Arg::group("block", tail)
            };
            repeated.multiple = true;
            current.push(repeated);
            return;
        }
    }
    let mut group = if inner.len() > 1 {
        one_of(inner)
    } else {
        let mut seq = inner.into_iter().next().unwrap_or_default();
        if seq.len() == 1 {
            seq.remove(0)
        } else {
            Arg::group("block", seq)
        }
    };
    group.optional = true;
    current.push(group);
}

fn one_of(alternatives: Vec<Vec<Arg>>) -> Arg {
    let children = alternatives
        .into_iter()
        .map(|mut seq| {
            if seq.len() == 1 {
                seq.remove(0)
            } else {
                Arg::group("block", seq)
            }
        })
        .collect();
    Arg::group("oneof", children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(args: &[Arg]) -> Vec<String> {
        args.iter()
            .map(|a| {
                let mut s = format!("{}:{}", a.name, a.kind);
                if let Some(t) = &a.token {
                    s += &format!("@{t}");
                }
                if a.optional {
                    s += "?";
                }
                if a.multiple {
                    s += "*";
                }
                if !a.children.is_empty() {
                    s += &format!("({})", shape(&a.children).join(" "));
                }
                s
            })
            .collect()
    }

    #[test]
    fn set_reads_like_redis_docs() {
        let args = parse(SYNTAX.iter().find(|(n, _)| *n == "set").unwrap().1);
        assert_eq!(
            shape(&args),
            [
                "key:key",
                "value:string",
                "nx_xx:oneof?(nx:pure-token@NX xx:pure-token@XX)",
                "get:pure-token@GET?",
                "seconds_milliseconds_unix-time-seconds_unix-time-milliseconds_keepttl:oneof?(seconds:integer@EX milliseconds:integer@PX unix-time-seconds:unix-time@EXAT unix-time-milliseconds:unix-time@PXAT keepttl:pure-token@KEEPTTL)",
            ]
        );
    }

    #[test]
    fn repeats_become_multiple() {
        assert_eq!(shape(&parse("key [key ...]")), ["key:key*"]);
        assert_eq!(
            shape(&parse("key value [key value ...]")),
            ["key_value:block*(key:key value:string)"]
        );
        assert_eq!(
            shape(&parse("[TYPE client-type] [ID client-id [client-id ...]]")),
            ["client-type:string@TYPE?", "client-id:integer@ID?*"]
        );
        assert_eq!(
            shape(&parse("ON | OFF")),
            ["on_off:oneof(on:pure-token@ON off:pure-token@OFF)"]
        );
        assert!(parse("").is_empty());
    }

    #[test]
    fn required_groups_in_angle_brackets() {
        assert_eq!(
            shape(&parse(
                "key <FROMMEMBER member | FROMLONLAT lon lat> radius <M | KM>"
            )),
            [
                "key:key",
                "member_lon_lat:oneof(member:string@FROMMEMBER lon_lat:block(lon:string@FROMLONLAT lat:string))",
                "radius:string",
                "m_km:oneof(m:pure-token@M km:pure-token@KM)",
            ]
        );
        assert_eq!(shape(&parse("<a b>")), ["a:string", "b:string"]);
    }

    #[test]
    fn every_command_in_the_table_has_a_syntax() {
        for spec in super::super::table() {
            for name in std::iter::once(spec.name).chain(spec.subcommands.iter().map(|s| s.name)) {
                assert!(
                    all_syntax().any(|(n, _)| *n == name),
                    "no syntax for {name}"
                );
            }
        }
        for (name, syntax) in all_syntax() {
            let opens = syntax.matches('[').count();
            assert_eq!(opens, syntax.matches(']').count(), "{name}");
            let opens = syntax.matches('<').count();
            assert_eq!(opens, syntax.matches('>').count(), "{name}");
        }
    }
}
