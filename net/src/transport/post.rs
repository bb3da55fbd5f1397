//! Cross-core messages, batched per destination per turn.
//!
//! Every message a turn produces for core B joins one batch, sent when the
//! turn ends: a burst of forwarded requests costs one queue operation and
//! at most one wake-up. Batches are vectors that circulate: the receiver
//! empties one and puts it in its spares, where the next sender to that
//! core takes it, so a steady flow allocates nothing. Messages for the
//! sending core itself skip the mailbox.

use std::collections::VecDeque;
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use mio::Waker;

use crate::Mailbox;

/// Empty batches kept per core for reuse.
const SPARES: usize = 256;
/// A batch that grew past this many messages is not kept for reuse.
const SPARE_MAX_LEN: usize = 4096;

/// Every core's mailbox and spare batches, shared by all workers.
pub struct Exchange<M> {
    mailboxes: Vec<Mailbox<Vec<M>>>,
    spares: Vec<ArrayQueue<Vec<M>>>,
}

impl<M> Exchange<M> {
    /// One mailbox per core, each waking that core's `Waker`.
    pub fn new(wakers: Vec<Waker>) -> Exchange<M> {
        Exchange {
            spares: wakers.iter().map(|_| ArrayQueue::new(SPARES)).collect(),
            mailboxes: wakers.into_iter().map(Mailbox::new).collect(),
        }
    }

    /// How many cores.
    pub fn cores(&self) -> usize {
        self.mailboxes.len()
    }

    /// Wakes every core (shutdown, a change they must notice).
    pub fn ring_all(&self) {
        self.mailboxes.iter().for_each(Mailbox::ring);
    }

    /// Core `core`'s mailbox.
    pub(super) fn mailbox(&self, core: usize) -> &Mailbox<Vec<M>> {
        &self.mailboxes[core]
    }

    /// Gives an emptied batch received by `core` back for reuse.
    pub(super) fn recycle(&self, core: usize, mut batch: Vec<M>) {
        if batch.capacity() <= SPARE_MAX_LEN {
            batch.clear();
            let _ = self.spares[core].push(batch);
        }
    }

    /// An empty batch for `core`: a spare if one is left.
    fn batch_for(&self, core: usize) -> Vec<M> {
        self.spares[core].pop().unwrap_or_default()
    }
}

/// Something that can wake every core (the server's shutdown holds one
/// without knowing what the cores send each other).
pub trait Bell: Send + Sync {
    /// Wakes every core.
    fn ring_all(&self);
}

impl<M: Send> Bell for Exchange<M> {
    fn ring_all(&self) {
        Exchange::ring_all(self);
    }
}

/// One worker's outgoing messages.
pub struct Post<M> {
    core: usize,
    exchange: Arc<Exchange<M>>,
    /// This turn's batch for each core (none for this one).
    outbox: Vec<Vec<M>>,
    /// Messages for this core, handled before the turn ends.
    local: VecDeque<M>,
    /// Messages sent to other cores, ever.
    sent: u64,
}

impl<M> Post<M> {
    /// The post of worker `core`.
    pub fn new(core: usize, exchange: Arc<Exchange<M>>) -> Post<M> {
        Post {
            core,
            outbox: (0..exchange.cores()).map(|_| Vec::new()).collect(),
            exchange,
            local: VecDeque::new(),
            sent: 0,
        }
    }

    /// Messages sent to other cores so far (this core's own not counted).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The sending core.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Sends `msg` to `core` at the end of this turn (this core's own
    /// messages are handled before the turn ends).
    pub fn send(&mut self, core: usize, msg: M) {
        if core == self.core {
            self.local.push_back(msg);
            return;
        }
        self.sent += 1;
        let batch = &mut self.outbox[core];
        if batch.capacity() == 0 {
            *batch = self.exchange.batch_for(core);
        }
        batch.push(msg);
    }

    /// The next message for this core itself.
    pub(super) fn next_local(&mut self) -> Option<M> {
        self.local.pop_front()
    }

    /// Whether messages for this core are waiting.
    pub(super) fn has_local(&self) -> bool {
        !self.local.is_empty()
    }

    /// Sends every batch. A batch whose mailbox is full stays to be sent
    /// with the next flush (later messages join it, so order holds); true
    /// when one did.
    pub(super) fn flush(&mut self) -> bool {
        let mut held = false;
        for (core, batch) in self.outbox.iter_mut().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let full = std::mem::take(batch);
            if let Err(back) = self.exchange.mailbox(core).send(full) {
                *batch = back;
                held = true;
            }
        }
        held
    }

    /// Starts taking what arrived: a message sent from now on rings again.
    pub(super) fn begin_receive(&self) {
        self.exchange.mailbox(self.core).begin_drain();
    }

    /// The next batch that arrived for this core (batches from one sender
    /// arrive in the order it sent them).
    pub(super) fn take_batch(&self) -> Option<Vec<M>> {
        self.exchange.mailbox(self.core).pop()
    }

    /// Gives an emptied batch back for reuse.
    pub(super) fn recycle(&self, batch: Vec<M>) {
        self.exchange.recycle(self.core, batch);
    }

    /// Whether anything arrived that has not been taken.
    pub(super) fn inbox_waiting(&self) -> bool {
        !self.exchange.mailbox(self.core).is_empty()
    }
}
