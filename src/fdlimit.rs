//! The open-file limit, raised at start (and on `CONFIG SET maxclients`) to
//! what `maxclients` needs, as Redis's `adjustOpenFilesLimit` does: a server
//! that accepts connections it cannot hold would fail with `EMFILE` at
//! random places instead of answering `-ERR max number of clients reached`.

/// Descriptors Kiln needs besides its clients: per core a poll, a waker and
/// two listeners, plus Redis's 32 for logs, stdio and slack.
pub fn reserved(cores: usize) -> u64 {
    32 + 4 * cores as u64
}

/// Raises `RLIMIT_NOFILE` so `maxclients` clients fit beside the reserved
/// descriptors; returns how many clients the resulting limit allows (at
/// most `maxclients`, at least 1), logging when that is fewer.
pub fn raise_for(maxclients: u64, cores: usize) -> u64 {
    let want = maxclients.saturating_add(reserved(cores));
    let granted = match raise_to(want) {
        Ok(granted) => granted,
        Err(err) => {
            tracing::warn!(%err, "cannot read the open-file limit; keeping maxclients {maxclients}");
            return maxclients;
        }
    };
    if granted >= want {
        return maxclients;
    }
    let fit = granted.saturating_sub(reserved(cores)).max(1);
    tracing::warn!(
        "open-file limit is {granted}, not the {want} that maxclients {maxclients} needs; \
         maxclients reduced to {fit} (raise 'ulimit -n' for more)"
    );
    fit
}

/// Sets the soft limit to `want` (and the hard limit too, where the process
/// may), or else as high as the hard limit allows; returns the soft limit
/// now in force.
fn raise_to(want: u64) -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur >= want {
        return Ok(limit.rlim_cur);
    }
    let wanted = libc::rlimit {
        rlim_cur: want,
        rlim_max: limit.rlim_max.max(want),
    };
    let up_to_hard = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    for attempt in [wanted, up_to_hard] {
        // SAFETY: setrlimit reads one rlimit through a valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &attempt) } == 0 {
            return Ok(attempt.rlim_cur);
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soft_limit() -> u64 {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit through a valid pointer.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        limit.rlim_cur
    }

    #[test]
    fn the_clients_granted_fit_in_the_limit_now_in_force() {
        // Ask for more than the current limit holds: either the limit rises
        // to fit, or fewer clients are granted, never a count that does not fit.
        let before = soft_limit();
        let asked = before;
        let granted = raise_for(asked, 2);
        let after = soft_limit();
        assert!(after >= before, "the limit was lowered");
        assert!(granted <= asked);
        assert!(granted + reserved(2) <= after || granted == 1);
        assert_eq!(raise_for(granted, 2), granted, "a fitting count is kept");
    }
}
