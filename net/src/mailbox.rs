//! Cross-core mailboxes: a bounded lock-free queue plus a `mio::Waker`.
//!
//! Any thread may [`Mailbox::send`]; only the owning core drains. The waker is
//! an eventfd write, a system call, so a sender only rings it when the box
//! was empty of notifications: a burst of messages to one core costs one
//! wake-up, not one per message. The queue is a fixed ring allocated once,
//! so sending allocates nothing; a full ring hands the message back and the
//! sender tries again later ([`crate::transport::Post`] does).

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use mio::Waker;

/// Messages a mailbox holds before senders must wait.
pub const MAILBOX_CAPACITY: usize = 4096;

/// A core's inbox.
pub struct Mailbox<T> {
    queue: ArrayQueue<T>,
    waker: Waker,
    notified: AtomicBool,
}

impl<T> Mailbox<T> {
    /// A mailbox whose arrivals wake `waker`'s poll.
    pub fn new(waker: Waker) -> Mailbox<T> {
        Mailbox::with_capacity(waker, MAILBOX_CAPACITY)
    }

    /// A mailbox of `capacity` messages.
    pub fn with_capacity(waker: Waker, capacity: usize) -> Mailbox<T> {
        Mailbox {
            queue: ArrayQueue::new(capacity.max(1)),
            waker,
            notified: AtomicBool::new(false),
        }
    }

    /// Queues `msg` and wakes the owner if it is not already awake for us;
    /// `Err(msg)` when the mailbox is full (the owner is woken anyway).
    pub fn send(&self, msg: T) -> Result<(), T> {
        let pushed = self.queue.push(msg);
        if !self.notified.swap(true, Ordering::SeqCst) {
            // A failed wake leaves the flag set; the owner still drains on its
            // next poll timeout, so the message is late, never lost.
            let _ = self.waker.wake();
        }
        pushed
    }

    /// Wakes the owner without a message (shutdown, config change).
    pub fn ring(&self) {
        self.notified.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Takes every queued message, in order of arrival per sender. Call on the
    /// owner's waker event; messages sent during the drain are taken too or
    /// ring the waker again.
    pub fn drain(&self, mut f: impl FnMut(T)) {
        // Clear first: a send that lands after this store rings again.
        self.notified.store(false, Ordering::SeqCst);
        while let Some(msg) = self.queue.pop() {
            f(msg);
        }
    }

    /// Clears the notification before messages are popped one by one with
    /// [`Mailbox::pop`]: a send that lands after this rings again.
    pub fn begin_drain(&self) {
        self.notified.store(false, Ordering::SeqCst);
    }

    /// The oldest queued message (see [`Mailbox::begin_drain`]).
    pub fn pop(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mio::{Events, Poll, Token};

    use super::*;

    #[test]
    fn messages_from_many_threads_arrive_in_per_sender_order() {
        let mut poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), Token(0)).unwrap();
        let mailbox = Arc::new(Mailbox::with_capacity(waker, 64));
        let senders: Vec<_> = (0..4u64)
            .map(|t| {
                let mb = Arc::clone(&mailbox);
                std::thread::spawn(move || {
                    for i in 0..1000u64 {
                        let mut msg = (t, i);
                        while let Err(back) = mb.send(msg) {
                            msg = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut next = [0u64; 4];
        let mut events = Events::with_capacity(8);
        let mut received = 0;
        while received < 4000 {
            poll.poll(&mut events, Some(Duration::from_secs(5)))
                .unwrap();
            assert!(
                !events.is_empty() || !mailbox.is_empty(),
                "woken with nothing"
            );
            mailbox.drain(|(t, i)| {
                assert_eq!(next[t as usize], i);
                next[t as usize] += 1;
                received += 1;
            });
        }
        senders.into_iter().for_each(|s| s.join().unwrap());
    }
}
