//! `porthole`: the command-line client. `porthole tcp` takes pomerium-cli's `tcp` command line
//! unchanged; `logout` and `cache` manage stored tokens.
#![forbid(unsafe_code)]

mod args;
mod output;
mod tcp;
mod tokens;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{CacheCommand, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(worker_threads()).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Tcp(args) => tcp::run(args).await,
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

/// Runtime worker threads: `PORTHOLE_WORKER_THREADS`, default 1. One thread relays ~9 Gbit/s
/// of TLS on a 2-core laptop-class CPU (`bench/`), more than any link a tunnel crosses; a
/// second one only adds cross-thread wake-ups (10–15 % more CPU per byte, measured there).
fn worker_threads() -> usize {
    std::env::var("PORTHOLE_WORKER_THREADS").ok().and_then(|v| v.trim().parse().ok()).filter(|&n| n > 0).unwrap_or(1)
}

/// Diagnostics go to stderr at `LOG_LEVEL` (pomerium-cli's variable) or `RUST_LOG`; default
/// warnings only, so the event lines stay readable.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
