//! `porthole-gateway --config FILE [--validate]`: run the gateway, or check its config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use porthole_gateway::Gateway;
use porthole_gateway::config::{self, ConfigError};

/// A Pomerium-compatible gateway for TCP routes.
#[derive(Debug, Parser)]
#[command(name = "porthole-gateway", version, about)]
struct Args {
    /// The YAML config file (Pomerium's key names).
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Check the config and exit: 0 when valid, 2 when not (every problem on stderr).
    #[arg(long)]
    validate: bool,
    /// How long to let open tunnels finish at shutdown.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    drain: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing();
    let loaded = match config::load_file(&args.config) {
        Ok(l) => l,
        Err(ConfigError::Invalid(issues)) => {
            for issue in &issues {
                eprintln!("{}:{}: {}: {}", args.config.display(), issue.line, issue.field, issue.message);
            }
            eprintln!("{}: {} problem(s); nothing was started", args.config.display(), issues.len());
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    for w in &loaded.warnings {
        eprintln!("warning: {}:{}: {}: {}", args.config.display(), w.line, w.field, w.message);
    }
    let gateway = match Gateway::new(loaded.config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{}: {e}", args.config.display());
            return ExitCode::from(2);
        }
    };
    if args.validate {
        eprintln!("{}: valid", args.config.display());
        return ExitCode::SUCCESS;
    }
    if gateway.key_generated() {
        eprintln!(
            "warning: no signing_key configured; generated one for this process. Tokens stop working when it exits, and replicas cannot verify each other's tokens."
        );
    }
    match run(gateway, args.drain) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(gateway: Gateway, drain: Duration) -> anyhow::Result<()> {
    let running = gateway.bind().await.context("while starting the listener")?;
    eprintln!("porthole-gateway listening on {}", running.local_addr());
    tracing::info!(address = %running.local_addr(), auth = %running.auth_base(), "listening");
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown(drain).await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
