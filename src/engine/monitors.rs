//! `MONITOR` on a core: its admitted commands of a turn leave as one
//! batch per core with monitors; a batch that arrives goes to this core's
//! monitor connections, each seeing what its scope admits (see
//! [`crate::monitor`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use kiln_net::Reply;
use kiln_net::transport::{Clients, Connection, Post};

use super::{Engine, Msg};

impl Engine {
    /// Sends this turn's monitored commands to every core with monitors
    /// (this one included): one message per core, the batch shared.
    pub(super) fn send_monitored(&mut self, post: &mut Post<Msg>) {
        if self.journal.monitored.is_empty() {
            return;
        }
        let batch = Arc::new(std::mem::take(&mut self.journal.monitored));
        for core in 0..self.shared.cores() {
            if self.shared.core_monitors[core].load(Ordering::Relaxed) > 0 {
                post.send(core, Msg::Monitor(Arc::clone(&batch)));
            }
        }
    }

    /// Keeps `conn` in this core's monitors once `MONITOR` made it one.
    pub(super) fn note_monitor(&mut self, conn: &Connection<Engine>) {
        let entry = (conn.key, conn.id);
        if conn.session.monitor.is_some() && !self.monitor_conns.contains(&entry) {
            self.monitor_conns.push(entry);
        }
    }

    /// Client `id` is no monitor any more (closed, or `RESET`).
    pub(super) fn drop_monitor(&mut self, id: u64) {
        self.monitor_conns.retain(|&(_, c)| c != id);
    }

    /// Queues `batch`'s lines on this core's monitors. A monitor whose
    /// output buffer passes its limit is marked overflowed and closed by
    /// the transport; nothing more is queued for it.
    pub(super) fn deliver_monitored(
        &mut self,
        batch: &[crate::monitor::Line],
        clients: &mut Clients<'_, Engine>,
    ) {
        for i in 0..self.monitor_conns.len() {
            let (key, id) = self.monitor_conns[i];
            let Some(conn) = clients.get_mut(key, id) else {
                continue;
            };
            let Some(scope) = conn.session.monitor else {
                continue;
            };
            let protocol = conn.session.protocol;
            for line in batch.iter().filter(|l| crate::monitor::admits(scope, l)) {
                let status = Reply::Status(String::from(&*line.text).into());
                let before = conn.replies.output_len();
                conn.replies.push(&status, protocol);
                if conn.replies.overflowed().is_some() || conn.replies.output_len() == before {
                    break;
                }
            }
            self.charge_output(conn);
        }
    }
}
