//! A tenant's command rules: which commands of the table it may run, in
//! its own keyspace and within its own limits — nothing more.
//!
//! The rules are Redis 7.2's (`ACLSetSelector` in `acl.c`): `+@all` /
//! `allcommands`, `-@all` / `nocommands`, `+@category` / `-@category`,
//! `+cmd` / `-cmd` (a container with all of its subcommands),
//! `+cmd|sub` / `-cmd|sub`, and the deprecated first-argument form
//! `+cmd|arg` for a command without subcommands. They apply left to right
//! to a set of allowed commands (one bit per [`commands::catalog`] id), and
//! the rules themselves are kept in order, as Redis 7.2 keeps them, so
//! `ACL GETUSER` / `ACL LIST` and the tenant file show what was set
//! (`-@all +@read`), and replaying that text rebuilds the same set.
//!
//! A command's categories come from the one command table
//! ([`commands::CommandSpec::acl`]). No rule grants the operator power
//! (see [`super::User::operator`]): that is not a command category.

use crate::commands::{self, ACL_CATEGORIES, CatalogEntry};

/// One parsed command rule, checked against the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRule {
    /// `+@all` / `allcommands` (true), `-@all` / `nocommands` (false).
    All(bool),
    /// `+@read`, `-@dangerous`...
    Category {
        /// `+` or `-`.
        allow: bool,
        /// The category, lower case, without `@`.
        name: &'static str,
    },
    /// `+get`, `-get`, `+config|get`, `-config`: the command (with its
    /// subcommands, for a container).
    Command {
        /// `+` or `-`.
        allow: bool,
        /// Its [`commands::catalog`] id.
        id: usize,
    },
    /// `+select|0`: the command, but only with this first argument.
    FirstArg {
        /// The command's id.
        id: usize,
        /// The argument, as given.
        arg: String,
    },
}

/// Why a command rule is refused: Redis's `ACL SETUSER` reasons.
pub const UNKNOWN: &str = "Unknown command or category name in ACL";
/// `+config|get|x`: Redis allows no first argument of a subcommand.
pub const FIRST_ARG_OF_SUBCOMMAND: &str = "Allowing first-arg of a subcommand is not supported";
/// Malformed.
pub const SYNTAX: &str = "Syntax error";

impl CommandRule {
    /// Parses `text` if it is a command rule: `None` when it is some other
    /// kind of rule, `Some(Err(why))` when it is a bad command rule.
    /// `@operator` is not a category: the caller reads it first.
    pub fn parse(text: &str) -> Option<Result<CommandRule, &'static str>> {
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "+@all" | "allcommands" => return Some(Ok(CommandRule::All(true))),
            "-@all" | "nocommands" => return Some(Ok(CommandRule::All(false))),
            _ => {}
        }
        let allow = match lower.as_bytes().first() {
            Some(b'+') => true,
            Some(b'-') => false,
            _ => return None,
        };
        let body = &lower[1..];
        Some(if let Some(category) = body.strip_prefix('@') {
            ACL_CATEGORIES
                .iter()
                .find(|c| **c == category)
                .map(|name| CommandRule::Category { allow, name })
                .ok_or(UNKNOWN)
        } else if allow {
            parse_allow(body, text[1..].rsplit_once('|').map(|(_, arg)| arg))
        } else {
            lookup(body)
                .map(|id| CommandRule::Command { allow, id })
                .ok_or(UNKNOWN)
        })
    }
}

/// `+body`: a command, a subcommand, or a command's first argument (`arg`
/// keeps the case it was given in).
fn parse_allow(body: &str, arg: Option<&str>) -> Result<CommandRule, &'static str> {
    let Some((name, sub)) = body.rsplit_once('|') else {
        return lookup(body)
            .map(|id| CommandRule::Command { allow: true, id })
            .ok_or(UNKNOWN);
    };
    let id = lookup(name).ok_or(UNKNOWN)?;
    let entry = &commands::catalog()[id];
    if entry.parent.is_some() {
        return Err(FIRST_ARG_OF_SUBCOMMAND);
    }
    if sub.is_empty() {
        return Err(SYNTAX);
    }
    if entry.subcommands.is_empty() {
        let arg = arg.unwrap_or(sub).to_string();
        return Ok(CommandRule::FirstArg { id, arg });
    }
    lookup(body)
        .map(|id| CommandRule::Command { allow: true, id })
        .ok_or(UNKNOWN)
}

/// Redis's `ACLLookupCommand`: `cmd`, or `cmd|sub` of a container.
fn lookup(name: &str) -> Option<usize> {
    commands::catalog_id(name)
}

/// The set of commands a tenant may run, and the rules that built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRules {
    /// Started from `+@all`: commands the table gains later are allowed
    /// too (Redis's reserved "future commands" bit).
    from_all: bool,
    /// One bit per catalog id.
    allowed: Vec<u64>,
    /// `+cmd|arg` rules: command id, allowed first arguments.
    first_args: Vec<(usize, Vec<String>)>,
    /// The rules after the base, in order, each once: `(allow, text)` with
    /// the text lower case and without its sign (`@read`, `config|get`).
    rules: Vec<(bool, String)>,
}

impl CommandRules {
    /// `+@all`: every command.
    pub fn all() -> CommandRules {
        let mut rules = CommandRules::none();
        rules.apply(&CommandRule::All(true));
        rules
    }

    /// `-@all`: no command (a new Redis user).
    pub fn none() -> CommandRules {
        CommandRules {
            from_all: false,
            allowed: vec![0; commands::catalog().len().div_ceil(64)],
            first_args: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// Parses rule text (`"-@all +@read"`, as [`CommandRules::describe`]
    /// writes it) and applies it from `-@all`. `Err` names the bad rule and
    /// why.
    pub fn from_text(text: &str) -> Result<CommandRules, (String, &'static str)> {
        let mut rules = CommandRules::none();
        for word in text.split_whitespace() {
            match CommandRule::parse(word) {
                Some(Ok(rule)) => rules.apply(&rule),
                Some(Err(why)) => return Err((word.to_string(), why)),
                None => return Err((word.to_string(), SYNTAX)),
            }
        }
        Ok(rules)
    }

    /// Applies one rule, as Redis's `ACLSetSelector` does.
    pub fn apply(&mut self, rule: &CommandRule) {
        let catalog = commands::catalog();
        match rule {
            CommandRule::All(allow) => {
                let word = if *allow { u64::MAX } else { 0 };
                self.allowed.iter_mut().for_each(|w| *w = word);
                self.from_all = *allow;
                self.first_args.clear();
                self.rules.clear();
            }
            CommandRule::Category { allow, name } => {
                for (id, entry) in catalog.iter().enumerate() {
                    if entry.spec.in_category(name) {
                        self.change(id, entry, *allow);
                    }
                }
                self.remember(*allow, format!("@{name}"));
            }
            CommandRule::Command { allow, id } => {
                self.change(*id, &catalog[*id], *allow);
                self.remember(*allow, catalog[*id].spec.name.to_string());
            }
            CommandRule::FirstArg { id, arg } => {
                match self.first_args.iter_mut().find(|(i, _)| i == id) {
                    Some((_, args)) => {
                        if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                            args.push(arg.clone());
                        }
                    }
                    None => self.first_args.push((*id, vec![arg.clone()])),
                }
                let text = format!("{}|{arg}", catalog[*id].spec.name).to_ascii_lowercase();
                self.remember(true, text);
            }
        }
    }

    /// Allows or denies one command, and a container's subcommands with it
    /// (`ACLChangeSelectorPerm`); its first-argument rules go.
    fn change(&mut self, id: usize, entry: &CatalogEntry, allow: bool) {
        self.set_bit(id, allow);
        self.first_args.retain(|(i, _)| *i != id);
        for sub in entry.subcommands.clone() {
            self.set_bit(sub, allow);
        }
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        if allow {
            self.allowed[word] |= bit;
        } else {
            self.allowed[word] &= !bit;
        }
    }

    /// Records a rule in order, dropping the same rule set earlier and, for
    /// a command, its subcommands' rules (`ACLUpdateCommandRules`).
    fn remember(&mut self, allow: bool, text: String) {
        self.rules.retain(|(_, old)| {
            let covered = old
                .strip_prefix(text.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('|'));
            !covered
        });
        self.rules.push((allow, text));
    }

    /// Whether command `id` may run with `first_arg` (its first argument
    /// after the name, or after the subcommand name for a subcommand).
    pub fn allows(&self, id: usize, first_arg: Option<&[u8]>) -> bool {
        if self.bit(id) {
            return true;
        }
        let Some(arg) = first_arg else {
            return false;
        };
        self.first_args
            .iter()
            .find(|(i, _)| *i == id)
            .is_some_and(|(_, args)| args.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg)))
    }

    fn bit(&self, id: usize) -> bool {
        self.allowed
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Whether every command of the table is allowed (the request path's
    /// shortcut).
    pub fn unrestricted(&self) -> bool {
        (0..commands::catalog().len()).all(|id| self.bit(id))
    }

    /// The allowed set, one bit per catalog id.
    pub fn bits(&self) -> &[u64] {
        &self.allowed
    }

    /// Whether some `+cmd|arg` rule is in force.
    pub fn has_first_args(&self) -> bool {
        !self.first_args.is_empty()
    }

    /// Whether any rule was given after the base (`+@all` alone is false).
    pub fn is_plain_all(&self) -> bool {
        self.from_all && self.rules.is_empty()
    }

    /// The rules as `ACL GETUSER` shows them: `+@all` or `-@all`, then the
    /// rules in the order they were set (`-@all +@read -keys`).
    pub fn describe(&self) -> String {
        let mut out = String::from(if self.from_all { "+@all" } else { "-@all" });
        for (allow, text) in &self.rules {
            out.push(' ');
            out.push(if *allow { '+' } else { '-' });
            out.push_str(text);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> CommandRules {
        CommandRules::from_text(text).unwrap()
    }

    fn id(name: &str) -> usize {
        commands::catalog_id(name).unwrap()
    }

    fn may(r: &CommandRules, name: &str) -> bool {
        r.allows(id(name), None)
    }

    #[test]
    fn rules_apply_left_to_right_over_the_tables_categories() {
        let ro = rules("-@all +@read");
        assert!(may(&ro, "get") && may(&ro, "mget") && may(&ro, "dbsize"));
        assert!(!may(&ro, "set") && !may(&ro, "ping") && !may(&ro, "flushall"));
        assert_eq!(ro.describe(), "-@all +@read");
        let rw = rules("+@all -@dangerous");
        assert!(may(&rw, "set") && !may(&rw, "flushall") && !may(&rw, "keys"));
        assert!(!may(&rw, "info") && !may(&rw, "config|set"));
        let later = rules("-@all +@read -@read +get");
        assert!(may(&later, "get") && !may(&later, "mget"));
        assert_eq!(
            later.describe(),
            "-@all -@read +get",
            "a rule set again moves to the end"
        );
        assert!(rules("+@all").unrestricted() && rules("allcommands").is_plain_all());
        assert!(!rules("+@all -get").unrestricted());
        assert!(rules("+@all -get +get").unrestricted());
        assert_eq!(rules("+@all -get +get").describe(), "+@all +get");
        assert_eq!(rules("+get -@all").describe(), "-@all");
    }

    #[test]
    fn containers_subcommands_and_first_arguments() {
        let client = rules("-@all +client");
        assert!(may(&client, "client|id") && may(&client, "client|list"));
        let sub = rules("-@all +client|id +CONFIG|GET");
        assert!(may(&sub, "client|id") && !may(&sub, "client|list"));
        assert!(may(&sub, "config|get") && !may(&sub, "config|set"));
        assert_eq!(sub.describe(), "-@all +client|id +config|get");
        // A whole command replaces its subcommands' rules.
        assert_eq!(
            rules("-@all +config|get -config").describe(),
            "-@all -config"
        );
        let no_set = rules("+@all -config|set");
        assert!(may(&no_set, "config|get") && !may(&no_set, "config|set"));
        let select0 = rules("-@all +select|0");
        let select = id("select");
        assert!(select0.allows(select, Some(b"0")) && !select0.allows(select, Some(b"1")));
        assert!(!select0.allows(select, None));
        assert_eq!(select0.describe(), "-@all +select|0");
        assert!(!rules("-@all +select|0 -select").allows(select, Some(b"0")));
        assert!(
            rules(&select0.describe()) == select0,
            "the text rebuilds the set"
        );
    }

    #[test]
    fn bad_rules_are_named_with_redis_reasons() {
        let err = |text: &str| CommandRules::from_text(text).unwrap_err();
        assert_eq!(err("+nosuch"), ("+nosuch".into(), UNKNOWN));
        assert_eq!(err("+@nosuch"), ("+@nosuch".into(), UNKNOWN));
        assert_eq!(err("-get|x"), ("-get|x".into(), UNKNOWN));
        assert_eq!(err("+config|nosuch"), ("+config|nosuch".into(), UNKNOWN));
        assert_eq!(
            err("+config|get|x"),
            ("+config|get|x".into(), FIRST_ARG_OF_SUBCOMMAND)
        );
        assert_eq!(err("+select|"), ("+select|".into(), SYNTAX));
        assert!(CommandRule::parse("on").is_none());
        assert_eq!(
            CommandRule::parse("+@LIST"),
            Some(Ok(CommandRule::Category {
                allow: true,
                name: "list"
            }))
        );
    }

    #[test]
    fn every_description_rebuilds_its_set() {
        for text in [
            "+@all",
            "-@all",
            "-@all +@read +@write -del",
            "+@all -@admin -@dangerous +info",
            "-@all +@string +@keyspace -@write +client|id +select|0",
            "+@all -client +client|id",
        ] {
            let r = rules(text);
            assert_eq!(rules(&r.describe()), r, "{text} → {}", r.describe());
        }
    }
}
