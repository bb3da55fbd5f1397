//! `kiln-server`: parse settings, start the cores, stop on SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use kiln::{Options, Server};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() -> ExitCode {
    let settings = match Options::parse().resolve() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("kiln-server: {err}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.loglevel)),
        )
        .init();
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
