//! `porthole tcp`: build the tunnel from pomerium-cli's flags, run it on a local port or on
//! stdin/stdout, and show its events until Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, Token};
use porthole_tunnel::connect::Connector;
use porthole_tunnel::handle::{TunnelConfig, TunnelHandle, run_stream};
use porthole_tunnel::target;
use porthole_tunnel::tls::{ClientIdentity, NameFilter, TlsOptions};
use tokio::sync::broadcast;

use crate::args::TcpArgs;
use crate::output::Printer;

/// Runs `porthole tcp`.
///
/// # Errors
/// Bad flags or destination, unreadable files, or a listen address that cannot be bound.
pub async fn run(args: Box<TcpArgs>) -> anyhow::Result<ExitCode> {
    let target = target::parse(&args.destination, args.pomerium_url.as_deref().filter(|s| !s.is_empty()))?;
    let tls = if target.proxy.tls() {
        Some(porthole_tunnel::tls::client_config(&tls_options(&args)?).context("while setting up TLS")?)
    } else {
        None
    };
    let printer = Printer::new(args.json, args.no_browser());
    let mut warnings = Vec::new();
    if args.insecure() {
        warnings.push("TLS verification is disabled (--disable-tls-verification): anyone on the network path can read and change this tunnel".to_owned());
    }
    let service_account = service_account(&args)?;
    let store = if service_account.is_some() {
        crate::tokens::memory_store()
    } else {
        let (store, warning) = crate::tokens::store();
        warnings.extend(warning);
        store
    };
    let auth = Arc::new(Authenticator::new(store, service_account));
    let browser = match (&args.browser_cmd, args.no_browser()) {
        (_, true) => Browser::Print,
        (Some(cmd), false) if !cmd.is_empty() => Browser::Command(cmd.clone()),
        _ => Browser::System,
    };
    let config = TunnelConfig {
        connector: Arc::new(Connector::new(target, tls.clone())),
        login: LoginSettings { tls, browser, timeout: args.login_timeout },
    };
    let (events, rx) = broadcast::channel(1024);
    let printing = tokio::spawn(printer.run(rx, warnings.clone(), args.listen != "-"));

    if args.listen == "-" {
        let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let error = run_stream(stdio, config, auth, events.clone()).await;
        drop(events);
        let _ = printing.await;
        return Ok(if error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }

    let handle = match TunnelHandle::start_with_events(&args.listen, config, auth, events.clone()).await {
        Ok(h) => h,
        Err(e) => {
            drop(events);
            let _ = printing.await;
            for w in &warnings {
                printer.warn(w);
            }
            bail!("{e}");
        }
    };
    shutdown_signal().await;
    handle.stop(Duration::from_secs(2)).await;
    drop(events);
    let _ = tokio::time::timeout(Duration::from_secs(1), printing).await;
    Ok(ExitCode::SUCCESS)
}

fn tls_options(args: &TcpArgs) -> anyhow::Result<TlsOptions> {
    // `--ca-cert` wins over `--alternate-ca-path`, as in pomerium-cli.
    let ca_pem = match (&args.ca_cert, &args.alternate_ca_path) {
        (Some(b64), _) if !b64.is_empty() => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .context("failed to decode base64-encoded certificate authority (--ca-cert)")?,
        ),
        (_, Some(path)) => {
            Some(std::fs::read(path).with_context(|| format!("while reading --alternate-ca-path {}", path.display()))?)
        }
        _ => None,
    };
    let client = match (&args.client_cert, &args.client_key, args.use_store()) {
        (Some(cert), Some(key), _) => Some(ClientIdentity::Pem {
            cert_pem: std::fs::read(cert).with_context(|| format!("while reading --client-cert {}", cert.display()))?,
            key_pem: std::fs::read(key)
                .with_context(|| format!("while reading --client-key {}", key.display()))?
                .into(),
        }),
        (Some(_), None, _) => bail!("--client-cert needs --client-key"),
        (None, Some(_), _) => bail!("--client-key needs --client-cert"),
        (None, None, true) => Some(ClientIdentity::Store {
            dir: crate::tokens::cert_store_dir(),
            issuer: args.client_cert_issuer.as_deref().filter(|s| !s.is_empty()).map(NameFilter::parse).transpose()?,
            subject: args
                .client_cert_subject
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(NameFilter::parse)
                .transpose()?,
        }),
        (None, None, false) => None,
    };
    Ok(TlsOptions { disable_verification: args.insecure(), ca_pem, client })
}

fn service_account(args: &TcpArgs) -> anyhow::Result<Option<Token>> {
    if let Some(t) = args.service_account.as_deref().filter(|s| !s.is_empty()) {
        return Ok(Some(Token::new(t)));
    }
    if let Some(path) = &args.service_account_file {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("while reading --service-account-file {}", path.display()))?;
        return Ok(Some(Token::new(raw.trim())));
    }
    Ok(None)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
