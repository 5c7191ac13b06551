//! `porthole`: the command-line client. `porthole tcp` and `porthole udp` take pomerium-cli's
//! `tcp` / `udp` command lines unchanged; `routes` lists a server's routes portal; `logout` and `cache` manage stored tokens.
#![forbid(unsafe_code)]

mod args;
mod output;
mod routes;
mod tcp;
mod tokens;
mod udp;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{CacheCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(worker_threads()).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("error: cannot start the runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tcp(args) => tcp::run(args).await,
            Command::Udp(args) => udp::run(args).await,
            Command::Routes(args) => routes::run(args).await,
            Command::Logout { proxy } => tokens::logout(proxy.as_deref()),
            Command::Cache { command: CacheCommand::Location } => tokens::location(),
            Command::Cache { command: CacheCommand::Clear } => tokens::clear(),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runtime worker threads: `PORTHOLE_WORKER_THREADS`, default two (one on a single-core
/// machine). Measured with `bench/` on two cores: a second thread moves 8 parallel streams
/// ~10 % faster at the same CPU per byte and leaves one stream and round-trip latency unchanged;
/// more threads than that only add idle stacks to a process that mostly waits.
fn worker_threads() -> usize {
    let default = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    std::env::var("PORTHOLE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Diagnostics go to stderr at `LOG_LEVEL` (pomerium-cli's variable) or `RUST_LOG`; default
/// warnings only, so the event lines stay readable.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
