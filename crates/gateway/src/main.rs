//! `porthole-gateway --config FILE [--validate] [--drain TIME]`: run the gateway, or check its
//! config. While it runs, SIGHUP or an edit of the file reloads the config; SIGTERM or Ctrl-C
//! drains it (a second one cuts the tunnels left at once).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use porthole_gateway::Gateway;
use porthole_gateway::config::{self, ConfigError};
use porthole_gateway::reload::{Reloader, Trigger};

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
    /// At SIGTERM or Ctrl-C: how long open tunnels may go on (new ones are refused) before the
    /// rest are cut. A second signal cuts them at once.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    drain: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_tracing();
    let mut loaded = match config::load_file(&args.config) {
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
    if let Some(self_signed) = loaded.config.self_signed.as_mut() {
        // `--validate` writes nothing: a missing certificate is made in memory only.
        self_signed.save = !args.validate;
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
    match run(gateway, args.drain, args.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run(gateway: Gateway, drain: Duration, config_path: PathBuf) -> anyhow::Result<()> {
    // Signals are taken over before anyone can see the gateway listen: SIGHUP must reload, not
    // kill the process (its default).
    let mut signals = Signals::new().context("while installing the signal handlers")?;
    let running = gateway.bind().await.context("while starting the listener")?;
    let reloader = Arc::new(running.reloader(config_path));
    if let Err(e) = porthole_gateway::watch::watch(reloader.clone(), running.stopping()) {
        tracing::warn!("{e}");
    }
    eprintln!("porthole-gateway listening on {}", running.local_addr());
    tracing::info!(address = %running.local_addr(), auth = %running.auth_base(), "listening");
    while signals.next().await == Signal::Reload {
        reload(&reloader).await;
    }
    tracing::info!(
        live_tunnels = running.live_tunnels(),
        "shutting down: no new connections; open tunnels may run for up to {} (a second signal cuts them now)",
        humantime::format_duration(drain)
    );
    let second = async { while signals.next().await != Signal::Stop {} };
    running.drain(drain, second).await;
    Ok(())
}

async fn reload(reloader: &Arc<Reloader>) {
    let reloader = reloader.clone();
    // Reading files and building TLS blocks: keep it off the runtime's workers.
    let _ = tokio::task::spawn_blocking(move || reloader.reload(Trigger::Signal)).await;
}

/// A signal the gateway acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGTERM or SIGINT.
    Stop,
}

/// SIGHUP, SIGTERM and SIGINT as a stream of [`Signal`]s.
struct Signals {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                hup: signal(SignalKind::hangup())?,
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hup.recv() => Signal::Reload,
                _ = self.term.recv() => Signal::Stop,
                _ = self.int.recv() => Signal::Stop,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
