//! `MONITOR`: the connection becomes a monitor of every command the server
//! admits (an operator's) or of its own tenant's (a tenant's); see
//! [`crate::monitor`] for the lines and how they travel.

use kiln_net::{Args, Reply};

use super::{CommandSpec, Ctx, Flags, KeySpec, Route};
use crate::{client_session, command};

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("monitor", 1, Flags::ADMIN.with(Flags::NOSCRIPT).with(Flags::LOADING).with(Flags::STALE), &["@admin", "@slow", "@dangerous"], KeySpec::NONE, Route::Local, monitor,
        "server", "1.0.0", "Listens for all requests received by the server in real-time."),
];

/// `MONITOR`: `+OK`, then a line per command the caller's scope admits.
fn monitor(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    if ctx.journal.as_deref().is_some_and(|j| j.in_exec_session) {
        // A transaction promised a reply per command (Redis's words).
        return Reply::error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    let scope = (!ctx.is_operator()).then_some(ctx.tenant);
    let (shared, core) = (ctx.shared, ctx.core);
    let session = client_session!(ctx);
    if session.monitor.is_none() {
        shared
            .monitors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        shared.core_monitors[core].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    session.monitor = Some(scope);
    Reply::OK
}

/// A monitor connection closed or left monitor mode (`RESET`): it is no
/// longer counted.
pub fn forget(shared: &crate::shared::Shared, core: usize) {
    shared
        .monitors
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    shared.core_monitors[core].fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use crate::commands::testbed::TestBed;
    use kiln_net::Reply;

    #[test]
    fn monitor_marks_the_session() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["MONITOR"]), Reply::OK);
        assert_eq!(
            bed.session.monitor,
            Some(None),
            "the default user sees everyone"
        );
        assert_eq!(
            bed.shared
                .monitors
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(bed.run(&["MONITOR"]), Reply::OK);
        assert_eq!(
            bed.shared
                .monitors
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        super::forget(&bed.shared, 0);
        assert_eq!(
            bed.shared
                .monitors
                .load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
}
