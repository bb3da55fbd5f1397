//! `kiln-cli`: redis-cli for Kiln. See [`kiln_client::cli`].

use clap::Parser;

fn main() {
    let args = kiln_client::cli::CliArgs::parse();
    std::process::exit(kiln_client::cli::run(args));
}
