//! The limits one client lives under, and the checks that enforce them.
//!
//! | limit | hit → |
//! |---|---|
//! | `client-pipeline-limit` requests in flight | reading pauses until replies drain |
//! | unsent replies ≥ [`ClientLimits::pause_mark`] | reading pauses until the socket drains |
//! | `client-output-buffer-limit` hard | closed at once (the reply is never encoded) |
//! | `client-output-buffer-limit` soft, for soft-seconds | closed |
//! | the tenant's unsent replies, all its connections, past its `maxmemory` | closed at once (the reply is never encoded) |
//! | `client-query-buffer-limit` | closed |
//! | `partial-request-timeout` | closed (slowloris: a request trickled in) |
//! | `timeout` | idle client closed |
//!
//! Pausing is backpressure, not punishment: a paused client's own socket
//! fills and its writes block, so a core never holds more than about
//! [`OUTPUT_PAUSE_MARK`] of replies for a client that does not read. The
//! soft limit then closes a client that stays stuck; the hard limit catches
//! one reply too big to buffer at all. The service hands the worker the
//! limits in force at each check ([`super::Service::limits`]), so a change
//! of settings applies to connected clients.
//!
//! Unsent replies are memory the server holds for a client; the service
//! learns their size after every change ([`super::Service::output_changed`])
//! to charge them, and sets a room for them ([`super::Replies::set_limits`]):
//! the reply that would pass it closes its connection, as the hard limit does.

use std::time::{Duration, Instant};

use super::{ClientState, Connection, Service};

/// Unsent reply bytes at which reading a client pauses, unless an output
/// buffer limit is lower.
pub const OUTPUT_PAUSE_MARK: usize = 4 * 1024 * 1024;

/// Why a client is being closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    /// Unparsed input over `client-query-buffer-limit`.
    QueryBuffer,
    /// Unsent replies at the hard output buffer limit.
    OutputHard,
    /// Unsent replies over the soft output buffer limit for too long.
    OutputSoft,
    /// The tenant's unsent replies, over all its connections, past its
    /// memory quota.
    TenantOutput,
    /// A request that kept arriving for longer than `partial-request-timeout`.
    PartialRequest,
    /// No command for `timeout` seconds.
    Idle,
}

impl Breach {
    /// Logs the closing, worded as Redis logs it where Redis has the limit.
    pub fn log(self, client: u64, peer: std::net::SocketAddr) {
        match self {
            Breach::QueryBuffer => tracing::warn!(
                client,
                %peer,
                "closing client that reached max query buffer length"
            ),
            Breach::OutputHard | Breach::OutputSoft => tracing::warn!(
                client,
                %peer,
                soft = self == Breach::OutputSoft,
                "client closed for overcoming of output buffer limits"
            ),
            Breach::TenantOutput => tracing::warn!(
                client,
                %peer,
                "client closed: its tenant's unsent replies would pass the tenant's maxmemory"
            ),
            Breach::PartialRequest => tracing::info!(
                client,
                %peer,
                "closing client whose request stayed incomplete past partial-request-timeout"
            ),
            Breach::Idle => tracing::debug!(client, %peer, "closing idle client"),
        }
    }
}

/// `client-output-buffer-limit` for one class of clients, as Redis has it:
/// a client whose unsent replies reach `hard` bytes is closed at once; one
/// that stays at or over `soft` bytes for more than `soft_seconds` is closed
/// too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimit {
    /// Close at once at this many unsent bytes (0 = no hard limit).
    pub hard: u64,
    /// Close after `soft_seconds` at or over this many (0 = no soft limit).
    pub soft: u64,
    /// How long a client may stay over the soft limit.
    pub soft_seconds: u64,
}

impl OutputBufferLimit {
    /// Kiln's default for normal clients, `normal 1gb 4mb 60`. Redis's is
    /// `0 0 0` (no limit); Kiln bounds what a client that never reads can
    /// leave behind, while the hard limit stays above the largest value
    /// (`proto-max-bulk-len`).
    pub const DEFAULT: OutputBufferLimit = OutputBufferLimit {
        hard: 1024 * 1024 * 1024,
        soft: 4 * 1024 * 1024,
        soft_seconds: 60,
    };
}

/// A snapshot of the per-client limits in force.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// `client-query-buffer-limit`.
    pub query_buffer: usize,
    /// `client-pipeline-limit`.
    pub pipeline: usize,
    /// `client-output-buffer-limit normal ...`.
    pub output: OutputBufferLimit,
    /// `client-output-buffer-limit pubsub ...`, for subscribed clients.
    pub pubsub_output: OutputBufferLimit,
    /// `client-output-buffer-limit replica ...`, for monitors.
    pub replica_output: OutputBufferLimit,
    /// `partial-request-timeout`; `None` = off.
    pub partial_request: Option<Duration>,
    /// `timeout`; `None` = off.
    pub idle: Option<Duration>,
}

impl ClientLimits {
    /// Unsent bytes at which reading pauses: [`OUTPUT_PAUSE_MARK`], or the
    /// soft or hard output limit if lower (so a client that never reads
    /// reaches the soft limit and its clock starts).
    pub fn pause_mark(&self) -> usize {
        [self.output.soft, self.output.hard]
            .into_iter()
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .fold(OUTPUT_PAUSE_MARK, usize::min)
    }

    /// Whether reading `conn` must pause until its replies drain.
    pub fn backpressured<S: Service>(&self, conn: &Connection<S>) -> bool {
        conn.replies.queued() >= self.pipeline || conn.replies.output_len() >= self.pause_mark()
    }

    /// The output buffer limit `conn`'s class has: `pubsub` for a
    /// subscriber, `normal` otherwise.
    pub fn output_of<S: Service>(&self, conn: &Connection<S>) -> OutputBufferLimit {
        if conn.session.monitor() {
            self.replica_output
        } else if conn.session.subscriber() {
            self.pubsub_output
        } else {
            self.output
        }
    }

    /// Checks the output buffer limits, starting or clearing the soft-limit
    /// clock (as Redis's `checkClientOutputBufferLimits`).
    pub fn check_output<S: Service>(
        &self,
        conn: &mut Connection<S>,
        now: Instant,
    ) -> Result<(), Breach> {
        let used = conn.replies.output_len() as u64;
        let OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        } = self.output_of(conn);
        if let Some(breach) = conn.replies.overflowed() {
            return Err(breach);
        }
        if hard > 0 && used >= hard {
            return Err(Breach::OutputHard);
        }
        if soft > 0 && used >= soft {
            let since = *conn.over_soft_since.get_or_insert(now);
            if now.duration_since(since) > Duration::from_secs(soft_seconds) {
                return Err(Breach::OutputSoft);
            }
        } else {
            conn.over_soft_since = None;
        }
        Ok(())
    }

    /// The periodic check of every limit that a client can breach by doing
    /// nothing: output limits, a stalled partial request, idleness.
    pub fn police<S: Service>(&self, conn: &mut Connection<S>, now: Instant) -> Result<(), Breach> {
        self.check_output(conn, now)?;
        // A paused client's unparsed bytes wait on us, not on the client.
        let stalled = |limit: Duration| {
            !conn.read_paused
                && conn
                    .partial_since
                    .is_some_and(|since| now.duration_since(since) > limit)
        };
        if self.partial_request.is_some_and(stalled) {
            return Err(Breach::PartialRequest);
        }
        // A subscriber waits for messages, not for itself: as in Redis,
        // `timeout` does not close it.
        let idle = |limit: Duration| {
            conn.replies.queued() == 0
                && !conn.session.subscriber()
                && !conn.session.monitor()
                && now.duration_since(conn.last_active) > limit
        };
        if self.idle.is_some_and(idle) {
            return Err(Breach::Idle);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(hard: u64, soft: u64) -> ClientLimits {
        ClientLimits {
            max_bulk_len: 1024,
            query_buffer: 1024,
            pipeline: 8,
            output: OutputBufferLimit {
                hard,
                soft,
                soft_seconds: 1,
            },
            pubsub_output: OutputBufferLimit::DEFAULT,
            replica_output: OutputBufferLimit::DEFAULT,
            partial_request: None,
            idle: None,
        }
    }

    #[test]
    fn reading_pauses_at_the_lowest_output_limit() {
        assert_eq!(limits(0, 0).pause_mark(), OUTPUT_PAUSE_MARK);
        assert_eq!(limits(0, 1000).pause_mark(), 1000);
        assert_eq!(limits(500, 1000).pause_mark(), 500);
        assert_eq!(limits(1 << 40, 1 << 30).pause_mark(), OUTPUT_PAUSE_MARK);
    }
}
