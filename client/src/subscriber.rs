//! A pub/sub subscriber: a connection of its own to the main port that
//! receives messages, and comes back (resubscribed) when it drops.
//!
//! ```no_run
//! # let client = kiln_client::Client::connect("127.0.0.1:7379")?;
//! let mut subscriber = client.subscribe(&["orders"])?;
//! subscriber.psubscribe(&["alerts:*"])?;
//! for message in subscriber.by_ref().take(10) {
//!     let message = message?;
//!     println!("{:?} on {:?}", message.payload, message.channel);
//! }
//! # Ok::<(), kiln_client::Error>(())
//! ```
//!
//! Messages come as RESP3 pushes or RESP2 arrays, whichever the client
//! speaks. After a dropped connection the subscriber reconnects (up to
//! [`RECONNECT_ATTEMPTS`] times, 100 ms apart) and subscribes again to
//! everything it had; messages published while it was away are lost, as
//! they are for any Redis subscriber.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kiln_net::Reply;
use kiln_net::resp::encode_request;

use crate::client::ClientConfig;
use crate::connection::NodeConnection;
use crate::{Client, Error};

/// How many times a subscriber tries to reconnect before giving up.
pub const RECONNECT_ATTEMPTS: usize = 20;

/// One message a subscriber received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched it (`PSUBSCRIBE`), if any.
    pub pattern: Option<Bytes>,
    /// Whether it came through a shard channel (`SSUBSCRIBE`).
    pub shard: bool,
    /// What was published.
    pub payload: Bytes,
}

/// A subscribed connection; see the [module docs](self).
pub struct Subscriber {
    addrs: Vec<SocketAddr>,
    config: ClientConfig,
    conn: Option<NodeConnection>,
    channels: Vec<Vec<u8>>,
    patterns: Vec<Vec<u8>>,
    shard_channels: Vec<Vec<u8>>,
}

impl Client {
    /// A [`Subscriber`] to `channels`, on a connection of its own (this
    /// client stays usable for other commands).
    pub fn subscribe<C: AsRef<[u8]>>(&self, channels: &[C]) -> Result<Subscriber, Error> {
        let mut subscriber = Subscriber {
            addrs: self.main_addrs.clone(),
            config: self.config.clone(),
            conn: None,
            channels: Vec::new(),
            patterns: Vec::new(),
            shard_channels: Vec::new(),
        };
        subscriber.subscribe(channels)?;
        Ok(subscriber)
    }
}

impl Subscriber {
    /// Subscribes to more `channels`.
    pub fn subscribe<C: AsRef<[u8]>>(&mut self, channels: &[C]) -> Result<(), Error> {
        self.join("SUBSCRIBE", channels)
    }

    /// Subscribes to channels matching `patterns`.
    pub fn psubscribe<C: AsRef<[u8]>>(&mut self, patterns: &[C]) -> Result<(), Error> {
        self.join("PSUBSCRIBE", patterns)
    }

    /// Subscribes to shard channels (the main port takes any slot).
    pub fn ssubscribe<C: AsRef<[u8]>>(&mut self, channels: &[C]) -> Result<(), Error> {
        self.join("SSUBSCRIBE", channels)
    }

    /// Leaves `channels`.
    pub fn unsubscribe<C: AsRef<[u8]>>(&mut self, channels: &[C]) -> Result<(), Error> {
        for channel in channels {
            self.channels.retain(|c| c != channel.as_ref());
        }
        self.send("UNSUBSCRIBE", channels)
    }

    /// Leaves `patterns`.
    pub fn punsubscribe<C: AsRef<[u8]>>(&mut self, patterns: &[C]) -> Result<(), Error> {
        for pattern in patterns {
            self.patterns.retain(|p| p != pattern.as_ref());
        }
        self.send("PUNSUBSCRIBE", patterns)
    }

    /// Waits for the next message (for ever; see [`Subscriber::next_within`]).
    pub fn next_message(&mut self) -> Result<Message, Error> {
        loop {
            if let Some(message) = self.next_within(None)? {
                return Ok(message);
            }
        }
    }

    /// The next message, or `None` if none came within `wait` (`None`:
    /// the client's read timeout). Reconnects after a dropped connection.
    pub fn next_within(&mut self, wait: Option<Duration>) -> Result<Option<Message>, Error> {
        let wait = wait.or(self.config.read_timeout);
        loop {
            let conn = self.connection()?;
            conn.set_read_timeout(wait)?;
            match conn.read_reply() {
                Ok(reply) => {
                    if let Some(message) = parse_message(reply) {
                        return Ok(Some(message));
                    }
                    // A subscription's confirmation or a PING's answer.
                }
                Err(Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.breaks_connection() => {
                    self.conn = None;
                    self.reconnect()?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends `verb` with `names` and remembers them for a reconnect.
    fn join<C: AsRef<[u8]>>(&mut self, verb: &str, names: &[C]) -> Result<(), Error> {
        let list = match verb {
            "SUBSCRIBE" => &mut self.channels,
            "PSUBSCRIBE" => &mut self.patterns,
            _ => &mut self.shard_channels,
        };
        for name in names {
            if !list.iter().any(|n| n == name.as_ref()) {
                list.push(name.as_ref().to_vec());
            }
        }
        self.send(verb, names)
    }

    fn send<C: AsRef<[u8]>>(&mut self, verb: &str, names: &[C]) -> Result<(), Error> {
        let mut args: Vec<&[u8]> = vec![verb.as_bytes()];
        args.extend(names.iter().map(AsRef::as_ref));
        let mut encoded = Vec::new();
        encode_request(&args, &mut encoded);
        let sent = self.connection()?.send(&encoded);
        if sent.is_err() {
            // Resubscribing on the new connection sends it again.
            self.conn = None;
            return self.reconnect();
        }
        Ok(())
    }

    /// The connection, opened and subscribed to everything if there is none.
    fn connection(&mut self) -> Result<&mut NodeConnection, Error> {
        if self.conn.is_none() {
            let mut conn = NodeConnection::open(&self.addrs, &self.config)?;
            for (verb, names) in [
                ("SUBSCRIBE", &self.channels),
                ("PSUBSCRIBE", &self.patterns),
                ("SSUBSCRIBE", &self.shard_channels),
            ] {
                if names.is_empty() {
                    continue;
                }
                let mut args: Vec<&[u8]> = vec![verb.as_bytes()];
                args.extend(names.iter().map(Vec::as_slice));
                let mut encoded = Vec::new();
                encode_request(&args, &mut encoded);
                conn.send(&encoded)?;
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("opened above"))
    }

    /// Opens a new connection and subscribes again, retrying a while.
    fn reconnect(&mut self) -> Result<(), Error> {
        let mut last = None;
        for _ in 0..RECONNECT_ATTEMPTS {
            match self.connection() {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last.unwrap_or(Error::NoAddress))
    }
}

impl Iterator for Subscriber {
    type Item = Result<Message, Error>;

    /// The next message, waiting for it; an error once reconnecting failed.
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_message())
    }
}

/// A `message`, `pmessage` or `smessage` push (or RESP2 array).
fn parse_message(reply: Reply) -> Option<Message> {
    let (Reply::Push(items) | Reply::Array(items)) = reply else {
        return None;
    };
    let mut items = items.into_iter().map(|i| match i {
        Reply::Bulk(b) => Some(b),
        _ => None,
    });
    let kind = items.next()??;
    match &kind[..] {
        b"message" | b"smessage" => Some(Message {
            channel: items.next()??,
            pattern: None,
            shard: &kind[..] == b"smessage",
            payload: items.next()??,
        }),
        b"pmessage" => Some(Message {
            pattern: Some(items.next()??),
            channel: items.next()??,
            shard: false,
            payload: items.next()??,
        }),
        _ => None,
    }
}
