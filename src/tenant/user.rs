//! One tenant's settings: its limits, its config-file table, its user
//! record (password digests, flags, command rules, operator power) and the
//! `ACL SETUSER` rules that change it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TenantError;
use super::rules::{CommandRule, CommandRules};

/// A tenant's quotas and function budgets. Every quota is 0 for "no
/// limit"; a function budget of 0 means the server's `function-*` setting.
/// Parsed from the config file's `limits = { ... }` and from
/// `ACL SETUSER name maxmemory=10mb ...`; a new limit is a new field plus a
/// line in [`TenantLimits::set`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TenantLimits {
    /// Keys plus values, accounted as `INFO used_memory` is, over all cores.
    #[serde(
        default,
        deserialize_with = "crate::config::de_size_u64",
        skip_serializing_if = "is_zero"
    )]
    pub maxmemory: u64,
    /// Keys over all cores.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maxkeys: u64,
    /// Simultaneous authenticated connections.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maxclients: u64,
    /// Milliseconds one storage-function call may run (0: the server's
    /// `function-cpu-budget`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub function_cpu_budget: u64,
    /// Heap cap of the tenant's isolates, bytes (0: the server's
    /// `function-heap-limit`).
    #[serde(
        default,
        deserialize_with = "crate::config::de_size_u64",
        skip_serializing_if = "is_zero"
    )]
    pub function_heap_limit: u64,
    /// What happens at the tenant's `maxmemory`: `noeviction` (the OOM
    /// error) or an eviction policy over the tenant's own keys.
    #[serde(default, skip_serializing_if = "TenantPolicy::is_default")]
    pub maxmemory_policy: TenantPolicy,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A tenant's `maxmemory-policy`, kept in files by its Redis name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantPolicy(pub kiln_store::Policy);

impl TenantPolicy {
    fn is_default(&self) -> bool {
        self.0 == kiln_store::Policy::NoEviction
    }
}

impl Serialize for TenantPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TenantPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TenantPolicy, D::Error> {
        let name = String::deserialize(d)?;
        kiln_store::Policy::parse(&name)
            .map(TenantPolicy)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown maxmemory-policy '{name}'")))
    }
}

impl TenantLimits {
    /// Sets the limit called `name` from its text (sizes take Redis units).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let number = || value.parse::<u64>().map_err(|_| "not a number".to_string());
        match name {
            "maxmemory" => {
                self.maxmemory = crate::config::parse_size(value).ok_or("not a size")?;
            }
            "maxkeys" => self.maxkeys = number()?,
            "maxclients" => self.maxclients = number()?,
            "function-cpu-budget" => self.function_cpu_budget = number()?,
            "function-heap-limit" => {
                let bytes = crate::config::parse_size(value).ok_or("not a size")?;
                if bytes != 0 && bytes < kiln_functions::Limits::MIN_HEAP_BYTES as u64 {
                    return Err("function-heap-limit must be 0 or at least 8mb".into());
                }
                self.function_heap_limit = bytes;
            }
            "maxmemory-policy" => {
                let policy = kiln_store::Policy::parse(value).ok_or("not a maxmemory-policy")?;
                self.maxmemory_policy = TenantPolicy(policy);
            }
            _ => return Err("unknown limit".into()),
        }
        Ok(())
    }

    /// The limits as `name=value` rules (`ACL LIST`), set ones only.
    pub fn rules(&self) -> Vec<String> {
        let mut rules: Vec<String> = self
            .pairs()
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if !self.maxmemory_policy.is_default() {
            rules.push(format!(
                "maxmemory-policy={}",
                self.maxmemory_policy.0.name()
            ));
        }
        rules
    }

    /// Every limit by name, set or not (`ACL GETUSER`, `INFO tenants`).
    pub fn pairs(&self) -> [(&'static str, u64); 5] {
        [
            ("maxmemory", self.maxmemory),
            ("maxkeys", self.maxkeys),
            ("maxclients", self.maxclients),
            ("function-cpu-budget", self.function_cpu_budget),
            ("function-heap-limit", self.function_heap_limit),
        ]
    }

    /// The function limits this tenant runs under: its own budgets where
    /// set, the server's `defaults` elsewhere.
    pub fn functions(&self, defaults: kiln_functions::Limits) -> kiln_functions::Limits {
        kiln_functions::Limits {
            cpu_budget: match self.function_cpu_budget {
                0 => defaults.cpu_budget,
                ms => std::time::Duration::from_millis(ms),
            },
            heap_bytes: match self.function_heap_limit {
                0 => defaults.heap_bytes,
                bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
            },
            ..defaults
        }
    }
}

/// A `[[tenant]]` table of the config or tenant file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TenantConfig {
    /// The user name given to AUTH.
    pub name: String,
    /// SHA-256 digests of the accepted passwords, 64 hex digits each (an
    /// optional leading `#`, as Redis ACL writes them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passwords: Vec<String>,
    /// Any password is accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nopass: bool,
    /// Disabled tenants cannot authenticate.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Holds the operator power: may act on other tenants and on the
    /// server (ACL changes, CONFIG, SHUTDOWN, DEBUG, everyone's FLUSHALL,
    /// CLIENT LIST, INFO and ACL LOG).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub operator: bool,
    /// The name older Kiln gave the operator power. In the config file it
    /// is an alias of `operator`; in the tenant file it is trusted only for
    /// a tenant the config file also makes an operator (older Kiln wrote it
    /// for any `+@all`). Read, never written.
    #[serde(default, skip_serializing)]
    pub admin: bool,
    /// Command rules, as `ACL SETUSER` takes them (`"-@all +@read"`),
    /// applied from `-@all`; absent: every command (`+@all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<String>,
    /// Quotas.
    #[serde(default, skip_serializing_if = "is_default_limits")]
    pub limits: TenantLimits,
}

fn yes() -> bool {
    true
}

fn is_default_limits(l: &TenantLimits) -> bool {
    *l == TenantLimits::default()
}

/// A SHA-256 digest of a password.
pub type Digest32 = [u8; 32];

/// The digest Redis ACL stores for a password.
pub fn digest(password: &[u8]) -> Digest32 {
    Sha256::digest(password).into()
}

fn parse_digest(text: &str) -> Result<Digest32, TenantError> {
    let hex = text.strip_prefix('#').unwrap_or(text);
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(TenantError::BadHash);
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| TenantError::BadHash)?;
    }
    Ok(out)
}

/// Lower-case hex, as `ACL GETUSER` shows digests.
pub fn hex(d: &Digest32) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// One tenant as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Whether it may authenticate.
    pub enabled: bool,
    /// Any password works.
    pub nopass: bool,
    /// Accepted password digests.
    pub passwords: Vec<Digest32>,
    /// The operator power: acting on other tenants and on the server. Only
    /// `operator = true` in the config file or `+@operator` (which only an
    /// operator can give, since only operators run `ACL SETUSER`) grants
    /// it; no command rule does.
    pub operator: bool,
    /// Which commands it may run in its own keyspace.
    pub commands: CommandRules,
    /// Quotas.
    pub limits: TenantLimits,
}

impl User {
    /// A new user as Redis creates one: disabled, no password, no commands
    /// (`-@all`), no power.
    pub fn new(name: &str) -> User {
        User {
            name: name.into(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            operator: false,
            commands: CommandRules::none(),
            limits: TenantLimits::default(),
        }
    }

    /// The user a config or tenant-file table declares. `admin` counts as
    /// `operator` here: the tenant registry clears it first where it is not
    /// to be trusted.
    pub(super) fn from_config(c: &TenantConfig) -> Result<User, TenantError> {
        let mut user = User {
            name: c.name.clone(),
            enabled: c.enabled,
            nopass: c.nopass,
            passwords: c
                .passwords
                .iter()
                .map(|p| parse_digest(p))
                .collect::<Result<_, _>>()?,
            operator: c.operator || c.admin,
            commands: CommandRules::all(),
            limits: c.limits,
        };
        if let Some(text) = &c.commands {
            user.commands = CommandRules::none();
            for word in text.split_whitespace() {
                let bad = |why: String| TenantError::Rule {
                    tenant: c.name.clone(),
                    rule: word.to_string(),
                    why,
                };
                let rules = parse_rules(&[word.as_bytes()]).map_err(|(_, why)| bad(why))?;
                for rule in rules {
                    if !matches!(rule, Rule::Commands(_) | Rule::Operator(_)) {
                        return Err(bad("not a command rule".into()));
                    }
                    user.apply(&rule);
                }
            }
        }
        Ok(user)
    }

    pub(super) fn to_config(&self) -> TenantConfig {
        TenantConfig {
            name: self.name.clone(),
            passwords: self.passwords.iter().map(hex).collect(),
            nopass: self.nopass,
            enabled: self.enabled,
            operator: self.operator,
            admin: false,
            commands: Some(self.commands.describe()),
            limits: self.limits,
        }
    }

    /// Whether `password` opens this user: compares SHA-256 digests in
    /// constant time, trying every stored digest.
    pub fn accepts(&self, password: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        let given = digest(password);
        let matched = self
            .passwords
            .iter()
            .fold(subtle::Choice::from(0), |acc, d| acc | d.ct_eq(&given));
        self.nopass || bool::from(matched)
    }

    /// Applies one `ACL SETUSER` rule.
    pub fn apply(&mut self, rule: &Rule) {
        match rule {
            Rule::On => self.enabled = true,
            Rule::Off => self.enabled = false,
            Rule::AddPassword(d) => {
                self.nopass = false;
                if !self.passwords.contains(d) {
                    self.passwords.push(*d);
                }
            }
            Rule::RemovePassword(d) => self.passwords.retain(|p| p != d),
            Rule::NoPass => {
                self.nopass = true;
                self.passwords.clear();
            }
            Rule::ResetPass => {
                self.nopass = false;
                self.passwords.clear();
            }
            Rule::Reset => *self = User::new(&self.name),
            Rule::Operator(power) => self.operator = *power,
            Rule::Commands(rule) => self.commands.apply(rule),
            Rule::Limit { name, value } => {
                // Validated by `parse_rules`.
                let _ = self.limits.set(name, value);
            }
            Rule::Ignored => {}
        }
    }

    /// The rule list `ACL LIST` prints: `user t1 on #<hash> ~* &* -@all +@read`.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("user {}", self.name),
            if self.enabled { "on" } else { "off" }.to_string(),
        ];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|d| format!("#{}", hex(d))));
        parts.extend(["~*".to_string(), "&*".to_string(), self.command_rules()]);
        parts.extend(self.limits.rules());
        parts.join(" ")
    }

    /// The command rules as `ACL GETUSER` shows them (`-@all +@read`), with
    /// `+@operator` last for a user holding the power.
    pub fn command_rules(&self) -> String {
        let mut text = self.commands.describe();
        if self.operator {
            text.push_str(" +@operator");
        }
        text
    }
}

/// One `ACL SETUSER` rule. Besides Redis's rules, Kiln reads `+@operator`
/// / `-@operator` as the operator power and `name=value` as a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `on`
    On,
    /// `off`
    Off,
    /// `>password` / `#digest`
    AddPassword(Digest32),
    /// `<password` / `!digest`
    RemovePassword(Digest32),
    /// `nopass`
    NoPass,
    /// `resetpass`
    ResetPass,
    /// `reset`
    Reset,
    /// `+@operator` (true) / `-@operator` (false): the operator power.
    Operator(bool),
    /// A command rule: `+@all`, `-@write`, `+get`, `-config|set`...
    Commands(CommandRule),
    /// `maxmemory=10mb`, `maxkeys=1000`, `maxclients=5`.
    Limit {
        /// The limit's name.
        name: String,
        /// Its value as given.
        value: String,
    },
    /// Key and channel patterns: every tenant owns all of its keyspace.
    Ignored,
}

/// Parses `ACL SETUSER` rules, all before any applies. `Err` names the bad
/// rule and why, as Redis's error does.
pub fn parse_rules(rules: &[&[u8]]) -> Result<Vec<Rule>, (String, String)> {
    rules
        .iter()
        .map(|raw| {
            let text = String::from_utf8_lossy(raw).into_owned();
            let bad = |why: &str| (text.clone(), why.to_string());
            let lower = text.to_ascii_lowercase();
            let rule = if let Some(p) = raw.strip_prefix(b">") {
                Rule::AddPassword(digest(p))
            } else if let Some(p) = raw.strip_prefix(b"<") {
                Rule::RemovePassword(digest(p))
            } else if let Some(h) = text.strip_prefix('#') {
                Rule::AddPassword(parse_digest(h).map_err(|e| bad(&e.to_string()))?)
            } else if let Some(h) = text.strip_prefix('!') {
                Rule::RemovePassword(parse_digest(h).map_err(|e| bad(&e.to_string()))?)
            } else if lower == "+@operator" || lower == "-@operator" {
                Rule::Operator(lower.starts_with('+'))
            } else if let Some(rule) = CommandRule::parse(&text) {
                Rule::Commands(rule.map_err(bad)?)
            } else if let Some((name, value)) = lower.split_once('=') {
                TenantLimits::default()
                    .set(name, value)
                    .map_err(|_| bad("Syntax error"))?;
                Rule::Limit {
                    name: name.into(),
                    value: value.into(),
                }
            } else {
                match lower.as_str() {
                    "on" => Rule::On,
                    "off" => Rule::Off,
                    "nopass" => Rule::NoPass,
                    "resetpass" => Rule::ResetPass,
                    "reset" => Rule::Reset,
                    "~*" | "allkeys" | "&*" | "allchannels" | "resetchannels" | "%rw~*" => {
                        Rule::Ignored
                    }
                    _ => return Err(bad("Syntax error")),
                }
            };
            Ok(rule)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_redis_acl_hashes() {
        // `ACL SETUSER u >foo` then `ACL GETUSER u` in Redis shows this.
        assert_eq!(
            hex(&digest(b"foo")),
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        );
        assert_eq!(parse_digest("#ABC"), Err(TenantError::BadHash));
    }

    #[test]
    fn rules_parse_like_redis_and_apply() {
        let mut user = User::new("t");
        let rules = parse_rules(&[b"on", b">secret", b"maxkeys=10", b"~*", b"+@all"]).unwrap();
        rules.iter().for_each(|r| user.apply(r));
        assert!(user.accepts(b"secret") && !user.accepts(b"other"));
        assert_eq!(user.limits.maxkeys, 10);
        assert!(!user.operator, "no command rule grants the operator power");
        assert!(user.commands.unrestricted());
        user.apply(&parse_rules(&[b"+@operator"]).unwrap()[0]);
        assert!(user.operator);
        assert_eq!(user.command_rules(), "+@all +@operator");
        assert_eq!(
            parse_rules(&[b"+nosuch"]),
            Err((
                "+nosuch".into(),
                "Unknown command or category name in ACL".into()
            ))
        );
        assert_eq!(
            parse_rules(&[b"bogus"]),
            Err(("bogus".into(), "Syntax error".into()))
        );
        assert!(parse_rules(&[b"#nothex"]).is_err());
        assert!(parse_rules(&[b"maxkeys=lots"]).is_err());
        user.apply(&Rule::ResetPass);
        assert!(!user.accepts(b"secret"));
        user.apply(&Rule::NoPass);
        assert!(user.accepts(b"anything"));
        user.apply(&Rule::Off);
        assert!(!user.accepts(b"anything"));
    }
}
