//! `kiln-bench`: memtier_benchmark's command line, run by [`kiln_bench::run_all`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = kiln_bench::BenchArgs::parse();
    match kiln_bench::run_all(&args, &mut std::io::stdout().lock()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
