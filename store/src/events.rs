//! What happened to keys while a command ran, for keyspace notifications
//! and key triggers.
//!
//! Recording is off unless the command layer turns it on for a shard
//! ([`Shard::record_events`]): then the shard's own primitives note the
//! changes no command names — a key created (`new`), a key whose deadline
//! passed (`expired`), a collection emptied by its last removal (`del`), a
//! reading lookup that missed (`keymiss`) — and the command layer adds the
//! events it names (`set`, `lpush`, `rename_from`...) with
//! [`Shard::push_event`], which keeps Redis's order: a command's own
//! events come before the deletions of the collections it emptied.

use bytes::Bytes;

use crate::shard::Shard;

/// Redis's event classes (`notify-keyspace-events` letters), as the bits
/// Redis gives them.
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u16 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u16 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME...).
    pub const GENERIC: u16 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u16 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u16 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u16 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u16 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u16 = 1 << 7;
    /// `x`: keys whose deadline passed.
    pub const EXPIRED: u16 = 1 << 8;
    /// `e`: keys evicted for `maxmemory`.
    pub const EVICTED: u16 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u16 = 1 << 10;
    /// `m`: reads of missing keys.
    pub const KEY_MISS: u16 = 1 << 11;
    /// `d`: module events.
    pub const MODULE: u16 = 1 << 12;
    /// `n`: keys created.
    pub const NEW: u16 = 1 << 13;
    /// `A`: `g$lshzxetd`.
    pub const ALL: u16 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// One event on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The key.
    pub key: Bytes,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It was created.
    New,
    /// Its deadline passed and it was removed.
    Expired,
    /// Its collection lost its last element and the key was removed.
    Emptied,
    /// A reading command looked it up and did not find it.
    Miss,
    /// An event a command names: its [`class`] and its name.
    Named(u16, &'static str),
}

/// The events of the running commands.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    events: Vec<KeyEvent>,
    /// Where the running command's events start.
    mark: usize,
}

impl Recording {
    fn push(&mut self, key: Bytes, kind: EventKind) {
        self.events.push(KeyEvent { key, kind });
    }
}

impl EventKind {
    /// The event's class and its name, as Redis publishes it.
    pub fn class_and_name(self) -> (u16, &'static str) {
        match self {
            EventKind::New => (class::NEW, "new"),
            EventKind::Expired => (class::EXPIRED, "expired"),
            EventKind::Emptied => (class::GENERIC, "del"),
            EventKind::Miss => (class::KEY_MISS, "keymiss"),
            EventKind::Named(class, name) => (class, name),
        }
    }
}

impl Shard {
    /// Starts recording events, unless already recording (a storage
    /// function's commands add to its `FCALL`'s events); whether this call
    /// started it (and must [`Shard::take_events`]).
    pub fn record_events(&mut self) -> bool {
        if self.recording.is_some() {
            return false;
        }
        self.recording = Some(Box::default());
        true
    }

    /// Whether events are being recorded.
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Marks where the next command's events start; returns the previous
    /// mark, for [`Shard::end_command_events`].
    pub fn begin_command_events(&mut self) -> usize {
        match &mut self.recording {
            Some(rec) => std::mem::replace(&mut rec.mark, rec.events.len()),
            None => 0,
        }
    }

    /// Restores the mark [`Shard::begin_command_events`] returned.
    pub fn end_command_events(&mut self, mark: usize) {
        if let Some(rec) = &mut self.recording {
            rec.mark = mark.min(rec.events.len());
        }
    }

    /// Whether the running command emptied (and removed) `key`.
    pub fn emptied(&self, key: &[u8]) -> bool {
        self.recording.as_ref().is_some_and(|rec| {
            rec.events[rec.mark..]
                .iter()
                .any(|e| e.kind == EventKind::Emptied && e.key == key)
        })
    }

    /// Adds an event the running command names. With `before_deletions`
    /// it goes before the first collection the command emptied (Redis
    /// notifies `lpop` before the `del` of the list it emptied), else last.
    /// Nothing happens unless events are being recorded.
    pub fn push_event(
        &mut self,
        key: &[u8],
        class: u16,
        name: &'static str,
        before_deletions: bool,
    ) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        let event = KeyEvent {
            key: Bytes::copy_from_slice(key),
            kind: EventKind::Named(class, name),
        };
        let at = before_deletions
            .then(|| {
                rec.events[rec.mark..]
                    .iter()
                    .position(|e| e.kind == EventKind::Emptied)
            })
            .flatten();
        match at {
            Some(at) => rec.events.insert(rec.mark + at, event),
            None => rec.events.push(event),
        }
    }

    /// Stops recording; the events since [`Shard::record_events`], in order.
    pub fn take_events(&mut self) -> Vec<KeyEvent> {
        self.recording
            .take()
            .map(|rec| rec.events)
            .unwrap_or_default()
    }

    /// Notes `kind` on `key` if recording.
    pub(crate) fn note(&mut self, key: &Bytes, kind: EventKind) {
        if let Some(rec) = &mut self.recording {
            rec.push(key.clone(), kind);
        }
    }

    /// Notes a miss of a borrowed `key` if recording.
    pub(crate) fn note_miss(&mut self, key: &[u8]) {
        if let Some(rec) = &mut self.recording {
            rec.push(Bytes::copy_from_slice(key), EventKind::Miss);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardConfig;
    use crate::strings::SetOptions;

    fn names(events: &[KeyEvent]) -> Vec<(String, String)> {
        events
            .iter()
            .map(|e| {
                let name = e.kind.class_and_name().1;
                (
                    String::from_utf8_lossy(&e.key).into_owned(),
                    name.to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn nothing_is_recorded_unless_asked() {
        let mut s = Shard::new(ShardConfig::default());
        s.set(b"k", Bytes::from_static(b"v"), SetOptions::default())
            .unwrap();
        s.push_event(b"k", 1, "set", true);
        assert!(s.take_events().is_empty());
    }

    #[test]
    fn the_store_notes_creation_expiry_emptying_and_misses() {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(1_000);
        assert!(s.record_events());
        assert!(!s.record_events(), "a nested start does not own it");
        s.set(b"k", Bytes::from_static(b"v"), SetOptions::default())
            .unwrap();
        s.expire_at(b"k", 1_500, crate::ExpireCondition::Always);
        s.list_push(b"l", crate::End::Right, &[b"a"], false)
            .unwrap();
        let mark = s.begin_command_events();
        s.list_pop(b"l", crate::End::Left, 1).unwrap();
        s.push_event(b"l", 1, "lpop", true);
        s.end_command_events(mark);
        s.set_now(2_000);
        assert!(s.get(b"k").unwrap().is_none());
        assert!(s.get(b"nope").unwrap().is_none());
        let got = names(&s.take_events());
        let want = [
            ("k", "new"),
            ("l", "new"),
            ("l", "lpop"),
            ("l", "del"),
            ("k", "expired"),
            ("k", "keymiss"),
            ("nope", "keymiss"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, e)| ((*k).to_owned(), (*e).to_owned()))
            .collect();
        assert_eq!(got, want);
        assert!(!s.is_recording());
    }
}
