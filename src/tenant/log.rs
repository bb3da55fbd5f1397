//! The ACL log (`ACL LOG`): denied commands and failed authentications,
//! kept as Redis 7.2 keeps them, but apart per tenant.
//!
//! Each entry belongs to the tenant whose connection caused it (a
//! connection not logged in as a tenant — unauthenticated, or `default` —
//! files under `default`). A tenant reads and resets only its own entries;
//! an operator reads and resets everyone's. Entries group as Redis groups
//! them: the same reason, context, object and user within 60 s of the
//! last one add to its `count` (among the owner's 10 most recent). Each
//! owner keeps its 128 most recent entries (Redis's `acllog-max-len`), so
//! one tenant's denials never push out another's.
//!
//! Ids: operators see one server-wide `entry-id` sequence; a tenant sees
//! its own, so the ids it reads tell it nothing about other tenants.
//!
//! A `Mutex` guards the log: it is touched only when something is denied
//! and by `ACL LOG`, never on an allowed request's path.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::TenantId;

/// Entries each owner keeps (Redis's default `acllog-max-len`).
pub const MAX_ENTRIES: usize = 128;
/// Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`.
const GROUPING_MS: u64 = 60_000;
/// How many of an owner's most recent entries a new one may group with.
const GROUPING_SCAN: usize = 10;

/// Why something was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A command the user may not run.
    Command,
    /// A failed `AUTH` / `HELLO ... AUTH`.
    Auth,
}

impl Reason {
    /// The `reason` field's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Auth => "auth",
        }
    }
}

/// What happened, as the caller reports it.
#[derive(Debug, Clone)]
pub struct Event {
    /// Why.
    pub reason: Reason,
    /// The command's full name (`config|set`), or for a failed
    /// authentication the command as the client typed it (`AUTH`).
    pub object: String,
    /// The user: the connection's, or the one it tried to log in as.
    pub username: String,
    /// The connection's `CLIENT INFO` line.
    pub client_info: String,
}

/// One entry as `ACL LOG` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// How many times it happened.
    pub count: u64,
    /// `command` or `auth`.
    pub reason: &'static str,
    /// `toplevel`: Kiln has no MULTI and checks no function calls here.
    pub context: &'static str,
    /// The command, or `AUTH`.
    pub object: String,
    /// The user.
    pub username: String,
    /// Seconds since it last happened.
    pub age_seconds: f64,
    /// The last connection's `CLIENT INFO` line.
    pub client_info: String,
    /// Its id (server-wide for an operator, the tenant's own otherwise).
    pub entry_id: u64,
    /// Unix ms when it first happened.
    pub created_ms: u64,
    /// Unix ms when it last happened.
    pub updated_ms: u64,
}

/// Whose entries a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everyone's (operators).
    All,
    /// One tenant's own.
    Own(TenantId),
}

#[derive(Debug)]
struct Entry {
    event: Event,
    count: u64,
    created_ms: u64,
    updated_ms: u64,
    /// Server-wide id.
    id: u64,
    /// The owner's own id.
    own_id: u64,
    /// When it was last added to or grouped with (server-wide order).
    touched: u64,
}

#[derive(Debug, Default)]
struct Owned {
    next_id: u64,
    /// Most recently touched first.
    entries: VecDeque<Entry>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    next_touch: u64,
    owners: HashMap<TenantId, Owned>,
}

/// The server's ACL log.
#[derive(Debug, Default)]
pub struct AclLog {
    inner: Mutex<Inner>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `event` for `owner`, now.
    pub fn add(&self, owner: TenantId, event: Event) {
        self.add_at(owner, event, now_ms());
    }

    fn add_at(&self, owner: TenantId, event: Event, now: u64) {
        let mut inner = self.lock();
        let touch = inner.next_touch;
        inner.next_touch += 1;
        let next_id = inner.next_id;
        let own = inner.owners.entry(owner).or_default();
        let matched = own.entries.iter().take(GROUPING_SCAN).position(|e| {
            e.event.reason == event.reason
                && e.event.object == event.object
                && e.event.username == event.username
                && e.updated_ms.abs_diff(now) <= GROUPING_MS
        });
        if let Some(at) = matched {
            let mut entry = own.entries.remove(at).expect("found above");
            entry.count += 1;
            entry.updated_ms = now;
            entry.touched = touch;
            entry.event.client_info = event.client_info;
            own.entries.push_front(entry);
            return;
        }
        own.entries.push_front(Entry {
            event,
            count: 1,
            created_ms: now,
            updated_ms: now,
            id: next_id,
            own_id: own.next_id,
            touched: touch,
        });
        own.next_id += 1;
        own.entries.truncate(MAX_ENTRIES);
        inner.next_id += 1;
    }

    /// Up to `count` entries `scope` may see, most recent first.
    pub fn entries(&self, scope: Scope, count: usize) -> Vec<Shown> {
        self.entries_at(scope, count, now_ms())
    }

    fn entries_at(&self, scope: Scope, count: usize, now: u64) -> Vec<Shown> {
        let inner = self.lock();
        let mut seen: Vec<(&Entry, u64)> = match scope {
            Scope::Own(owner) => inner
                .owners
                .get(&owner)
                .into_iter()
                .flat_map(|o| o.entries.iter().map(|e| (e, e.own_id)))
                .collect(),
            Scope::All => inner
                .owners
                .values()
                .flat_map(|o| o.entries.iter().map(|e| (e, e.id)))
                .collect(),
        };
        seen.sort_by_key(|(e, _)| std::cmp::Reverse(e.touched));
        seen.into_iter()
            .take(count)
            .map(|(e, entry_id)| Shown {
                count: e.count,
                reason: e.event.reason.as_str(),
                context: "toplevel",
                object: e.event.object.clone(),
                username: e.event.username.clone(),
                age_seconds: now.saturating_sub(e.updated_ms) as f64 / 1000.0,
                client_info: e.event.client_info.clone(),
                entry_id,
                created_ms: e.created_ms,
                updated_ms: e.updated_ms,
            })
            .collect()
    }

    /// `ACL LOG RESET`: forgets what `scope` may see.
    pub fn reset(&self, scope: Scope) {
        let mut inner = self.lock();
        match scope {
            Scope::All => inner.owners.clear(),
            Scope::Own(owner) => {
                if let Some(own) = inner.owners.get_mut(&owner) {
                    own.entries.clear();
                }
            }
        }
    }

    /// Drops a deleted tenant's entries.
    pub fn forget(&self, owner: TenantId) {
        self.lock().owners.remove(&owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(user: &str, command: &str) -> Event {
        Event {
            reason: Reason::Command,
            object: command.into(),
            username: user.into(),
            client_info: format!("id=1 user={user}"),
        }
    }

    #[test]
    fn entries_group_and_stay_with_their_owner() {
        let log = AclLog::default();
        let (a, b) = (TenantId::new(1, 0), TenantId::new(2, 0));
        log.add_at(a, denied("a", "set"), 1_000);
        log.add_at(b, denied("b", "set"), 1_500);
        log.add_at(a, denied("a", "set"), 2_000);
        log.add_at(a, denied("a", "del"), 3_000);
        let own = log.entries_at(Scope::Own(a), 10, 4_000);
        assert_eq!(own.len(), 2);
        assert_eq!((own[0].object.as_str(), own[0].count), ("del", 1));
        assert_eq!((own[1].object.as_str(), own[1].count), ("set", 2));
        assert_eq!((own[1].created_ms, own[1].updated_ms), (1_000, 2_000));
        assert_eq!(own[1].age_seconds, 2.0);
        assert_eq!((own[0].entry_id, own[1].entry_id), (1, 0));
        let all = log.entries_at(Scope::All, 10, 4_000);
        assert_eq!(all.len(), 3);
        assert_eq!(
            all.iter().map(|e| e.entry_id).collect::<Vec<_>>(),
            [2, 0, 1]
        );
        assert_eq!(log.entries_at(Scope::Own(b), 10, 4_000).len(), 1);
        // Over a minute apart, the same denial is a new entry.
        log.add_at(b, denied("b", "set"), 70_000);
        assert_eq!(log.entries_at(Scope::Own(b), 10, 70_000).len(), 2);
        log.reset(Scope::Own(a));
        assert!(log.entries_at(Scope::Own(a), 10, 70_000).is_empty());
        assert_eq!(log.entries_at(Scope::All, 10, 70_000).len(), 2);
        log.reset(Scope::All);
        assert!(log.entries_at(Scope::All, 10, 70_000).is_empty());
    }

    #[test]
    fn each_owner_keeps_its_most_recent_entries() {
        let log = AclLog::default();
        let (a, b) = (TenantId::new(1, 0), TenantId::new(2, 0));
        log.add_at(b, denied("b", "keep-me"), 0);
        for i in 0..MAX_ENTRIES + 5 {
            log.add_at(a, denied("a", &format!("cmd{i}")), 1);
        }
        let own = log.entries_at(Scope::Own(a), usize::MAX, 1);
        assert_eq!(own.len(), MAX_ENTRIES);
        assert_eq!(own[0].object, format!("cmd{}", MAX_ENTRIES + 4));
        assert_eq!(log.entries_at(Scope::Own(b), 10, 1)[0].object, "keep-me");
        log.forget(b);
        assert!(log.entries_at(Scope::Own(b), 10, 1).is_empty());
    }
}
