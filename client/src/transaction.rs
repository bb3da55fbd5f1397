//! Transactions: `WATCH`, then `MULTI` … `EXEC` on the main connection,
//! retried while other clients change the watched keys.
//!
//! ```no_run
//! # let mut client = kiln_client::Client::connect("127.0.0.1:7379")?;
//! // Move 10 from one account to another, whichever cores they live on.
//! let replies = client.transaction(&["acct:1", "acct:2"], |tx| {
//!     let balance: i64 = tx.get("acct:1")?.map_or(Ok(0), |b| {
//!         String::from_utf8_lossy(&b).parse().map_err(|_| {
//!             kiln_client::Error::UnexpectedReply("balance".into())
//!         })
//!     })?;
//!     if balance >= 10 {
//!         tx.queue(&["DECRBY", "acct:1", "10"]).queue(&["INCRBY", "acct:2", "10"]);
//!     }
//!     Ok(())
//! })?;
//! # Ok::<(), kiln_client::Error>(())
//! ```
//!
//! A transaction always runs on the main connection: Kiln's main port runs
//! `EXEC` atomically over keys of any core, where a core's port (a cluster
//! node) would refuse another core's key.

use kiln_net::Reply;
use kiln_net::resp::encode_request;

use crate::client::Target;
use crate::{Client, Error};

/// How many times [`Client::transaction`] runs its body before giving up
/// with [`Error::TransactionAborted`].
pub const MAX_TRANSACTION_ATTEMPTS: usize = 64;

/// One attempt at a transaction: reads run at once (after `WATCH`, before
/// `MULTI`), commands queued with [`Transaction::queue`] run in `EXEC`.
pub struct Transaction<'c> {
    client: &'c mut Client,
    queued: Vec<u8>,
    count: usize,
}

impl Transaction<'_> {
    /// Runs a command now, outside the transaction: a read that decides
    /// what to queue. An error reply is [`Error::Server`].
    pub fn read<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        self.client.main_cmd(args)
    }

    /// `GET key`, now.
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, Error> {
        match self.read(&[b"GET".as_slice(), key.as_ref()])? {
            Reply::Bulk(value) => Ok(Some(value.to_vec())),
            Reply::Nil => Ok(None),
            other => Err(Error::UnexpectedReply(format!("{other:?}"))),
        }
    }

    /// Queues a command for `EXEC`.
    pub fn queue<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Self {
        encode_request(args, &mut self.queued);
        self.count += 1;
        self
    }

    /// How many commands are queued.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Client {
    /// Runs a transaction: `WATCH`es `watch`, runs `body` (which reads with
    /// [`Transaction::read`] and queues with [`Transaction::queue`]), then
    /// sends `MULTI`, the queued commands and `EXEC` in one write. When a
    /// watched key changed before `EXEC`, nothing ran and the whole thing
    /// starts over, up to [`MAX_TRANSACTION_ATTEMPTS`] times. Returns
    /// `EXEC`'s replies, one per queued command (errors of single commands
    /// among them, as `EXEC` reports them).
    ///
    /// A command refused while queueing fails the call with its error (the
    /// server discarded the transaction); an error from `body` ends it
    /// with `UNWATCH`.
    pub fn transaction<K, F>(&mut self, watch: &[K], mut body: F) -> Result<Vec<Reply>, Error>
    where
        K: AsRef<[u8]>,
        F: FnMut(&mut Transaction<'_>) -> Result<(), Error>,
    {
        for _ in 0..MAX_TRANSACTION_ATTEMPTS {
            if !watch.is_empty() {
                let mut args: Vec<&[u8]> = vec![b"WATCH"];
                args.extend(watch.iter().map(AsRef::as_ref));
                self.main_cmd(&args)?;
            }
            let mut tx = Transaction {
                client: self,
                queued: Vec::new(),
                count: 0,
            };
            if let Err(e) = body(&mut tx) {
                if !watch.is_empty() {
                    let _ = self.main_cmd(&["UNWATCH"]);
                }
                return Err(e);
            }
            let (queued, count) = (tx.queued, tx.count);
            if let Some(replies) = self.exec(&queued, count)? {
                return Ok(replies);
            }
        }
        Err(Error::TransactionAborted(MAX_TRANSACTION_ATTEMPTS))
    }

    /// Sends `MULTI`, `queued` (`count` commands) and `EXEC`; `None` when
    /// a watched key changed.
    fn exec(&mut self, queued: &[u8], count: usize) -> Result<Option<Vec<Reply>>, Error> {
        let mut batch = Vec::with_capacity(queued.len() + 32);
        encode_request(&["MULTI"], &mut batch);
        batch.extend_from_slice(queued);
        encode_request(&["EXEC"], &mut batch);
        let replies = self.conn(Target::Main).and_then(|conn| {
            conn.send(&batch)?;
            (0..count + 2)
                .map(|_| conn.read_reply())
                .collect::<Result<Vec<_>, _>>()
        });
        let mut replies = match replies {
            Ok(replies) => replies,
            Err(e) => {
                if e.breaks_connection() {
                    self.drop_conn(Target::Main);
                }
                return Err(e);
            }
        };
        let exec = replies.pop().unwrap_or(Reply::Nil);
        let refused = replies.into_iter().find_map(|r| match r {
            Reply::Error(text) => Some(text),
            _ => None,
        });
        match (exec, refused) {
            (_, Some(text)) => Err(Error::from_server_text(&text)),
            (Reply::Array(replies), None) => Ok(Some(replies)),
            (Reply::NilArray | Reply::Nil, None) => Ok(None),
            (Reply::Error(text), None) => Err(Error::from_server_text(&text)),
            (other, None) => Err(Error::UnexpectedReply(format!("EXEC: {other:?}"))),
        }
    }
}
