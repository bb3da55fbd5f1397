//! `kiln-server`: parse settings, start the cores, stop on SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use kiln::{Options, Server};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    let settings = match Options::parse().resolve() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("kiln-server: {err}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(kiln::config::log_filter(&settings.loglevel))
    });
    // CONFIG SET loglevel swaps the filter in place.
    let (filter, reload) = tracing_subscriber::reload::Layer::new(filter);
    kiln::config::set_log_reloader(Box::new(move |filter| {
        let _ = reload.reload(tracing_subscriber::EnvFilter::new(filter));
    }));
    let logs = tracing_subscriber::registry().with(filter);
    if settings.logfile.is_empty() {
        // Colour codes only for a terminal, never in a file or a pipe.
        let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
        logs.with(tracing_subscriber::fmt::layer().with_ansi(tty))
            .init();
    } else {
        // As Redis's `logfile`: appended to, created if missing.
        let file = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&settings.logfile)
        {
            Ok(file) => file,
            Err(err) => {
                eprintln!(
                    "kiln-server: cannot open logfile {}: {err}",
                    settings.logfile
                );
                return ExitCode::from(2);
            }
        };
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Arc::new(file));
        logs.with(layer).init();
    }
    let handle = match Server::start(settings) {
        Ok(h) => h,
        Err(err) => {
            tracing::error!(%err, "cannot start");
            eprintln!("kiln-server: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let trigger = handle.shutdown_trigger();
    match Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    tracing::info!(signal, "shutting down");
                    trigger.shutdown();
                }
            });
        }
        Err(err) => tracing::warn!(%err, "cannot install signal handlers"),
    }
    if let Err(why) = handle.wait() {
        eprintln!("kiln-server: {why}");
        return ExitCode::FAILURE;
    }
    tracing::info!("bye");
    ExitCode::SUCCESS
}
