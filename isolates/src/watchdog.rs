//! The CPU watchdog: one thread for the process that terminates a storage
//! function whose call has outlived its budget.
//!
//! Each core owns a [`Watch`]. Arming it before a call costs an uncontended
//! mutex (no syscall, no wake-up); the watchdog thread looks at every watch
//! at least every [`TICK`], and sleeps until the earliest deadline it has
//! seen, so a call is stopped within one tick of its budget.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use kiln_store::TenantId;

/// The longest the watchdog sleeps between looks.
const TICK: Duration = Duration::from_millis(5);

/// One core's watch: the call running there, if any.
#[derive(Default)]
pub struct Watch {
    running: Mutex<Option<Running>>,
    /// Set whenever the armed call is stopped (budget or `FUNCTION KILL`):
    /// what host bindings read before each store operation, without the
    /// lock.
    stopped: AtomicBool,
}

struct Running {
    handle: v8::IsolateHandle,
    /// Whose call it is; `None` for a library load, which `FUNCTION KILL`
    /// does not stop.
    tenant: Option<TenantId>,
    deadline: Instant,
    /// Why the call was terminated, once it was.
    stopped: Option<StopCause>,
}

/// Why the watchdog (or `FUNCTION KILL`) terminated a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// It ran past its budget.
    Budget,
    /// `FUNCTION KILL` from the tenant.
    Killed,
}

/// A running call under watch; [`Armed::disarm`] ends it.
pub struct Armed<'a> {
    watch: &'a Watch,
}

impl Watch {
    /// A new watch, registered with the process's watchdog.
    pub fn new() -> Arc<Watch> {
        let watch = Arc::new(Watch::default());
        Watchdog::global().register(&watch);
        watch
    }

    /// Starts watching a call on `handle`'s isolate that may run until
    /// `budget` has passed; `tenant`'s `FUNCTION KILL` may stop it (a load
    /// passes `None`: only its budget stops it).
    pub(crate) fn arm(
        &self,
        handle: v8::IsolateHandle,
        tenant: Option<TenantId>,
        budget: Duration,
    ) -> Armed<'_> {
        let deadline = Instant::now() + budget;
        self.stopped.store(false, Ordering::Relaxed);
        *self.lock() = Some(Running {
            handle,
            tenant,
            deadline,
            stopped: None,
        });
        Armed { watch: self }
    }

    /// Terminates the call running here if it is `tenant`'s (`FUNCTION
    /// KILL`); whether there was one.
    pub fn kill(&self, tenant: TenantId) -> bool {
        let mut running = self.lock();
        match running.as_mut() {
            Some(call) if call.tenant == Some(tenant) && call.stopped.is_none() => {
                self.stop(call, StopCause::Killed);
                true
            }
            _ => false,
        }
    }

    /// Why the call under watch was terminated, if it was (it stays
    /// armed).
    pub(crate) fn stopped(&self) -> Option<StopCause> {
        self.lock().as_ref().and_then(|call| call.stopped)
    }

    /// Whether the call running here may no longer do host work: it was
    /// stopped, by `FUNCTION KILL` or by the watchdog at its deadline (the
    /// watchdog sleeps until the earliest deadline, so within its tick).
    /// Host bindings ask before each store operation, so a stopped call
    /// touches the store no more, even from a loop of host calls; one
    /// relaxed load, no lock, on the hot path. Cleared when the next call
    /// is armed.
    pub fn expired(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Marks `call` stopped for `why` and terminates its JavaScript.
    fn stop(&self, call: &mut Running, why: StopCause) {
        call.stopped = Some(why);
        self.stopped.store(true, Ordering::Relaxed);
        call.handle.terminate_execution();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        // A panic while holding this lock cannot leave `Running` half
        // written, so a poisoned lock is still sound to use.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Terminates the call if it is past its deadline; the deadline still
    /// ahead, if any.
    fn check(&self, now: Instant) -> Option<Instant> {
        let mut running = self.lock();
        let call = running.as_mut()?;
        if call.stopped.is_some() {
            return None;
        }
        if now >= call.deadline {
            self.stop(call, StopCause::Budget);
            return None;
        }
        Some(call.deadline)
    }
}

impl Armed<'_> {
    /// Ends the watch; why the call was terminated, if it was.
    pub(crate) fn disarm(self) -> Option<StopCause> {
        let stopped = self.watch.lock().take().and_then(|call| call.stopped);
        std::mem::forget(self);
        stopped
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.watch.lock().take();
    }
}

/// The process's watchdog thread and the watches it looks after.
pub struct Watchdog {
    watches: Mutex<Vec<Weak<Watch>>>,
}

impl Watchdog {
    /// The watchdog, started on first use.
    pub fn global() -> &'static Watchdog {
        static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
                watches: Mutex::new(Vec::new()),
            }));
            thread::Builder::new()
                .name("kiln-watchdog".into())
                .spawn(move || watchdog.run())
                .expect("spawn the watchdog thread");
            watchdog
        })
    }

    fn register(&self, watch: &Arc<Watch>) {
        self.lock().push(Arc::downgrade(watch));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Watch>>> {
        self.watches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn run(&self) {
        loop {
            let now = Instant::now();
            let mut wake = now + TICK;
            self.lock().retain(|watch| match watch.upgrade() {
                Some(watch) => {
                    if let Some(deadline) = watch.check(now) {
                        wake = wake.min(deadline);
                    }
                    true
                }
                None => false,
            });
            thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
    }
}
