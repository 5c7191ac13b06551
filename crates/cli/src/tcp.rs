//! `porthole tcp`: pomerium-cli's flags turned into [`TunnelOptions`] (the builder the desktop
//! app uses too), the tunnel run on a local port or on stdin/stdout, and its events shown
//! until Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use porthole_client::listen::Listen;
use porthole_client::tunnel_options::{self, ClientCertSource, KeySource, PemSource, TunnelOptions};
use porthole_tunnel::auth::{Authenticator, Token};
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelHandle, run_stream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::args::TcpArgs;
use crate::output::Printer;

/// Runs `porthole tcp`.
///
/// # Errors
/// Bad flags or destination, unreadable files, or a listen address that cannot be bound.
pub async fn run(args: Box<TcpArgs>) -> anyhow::Result<ExitCode> {
    let mut config = tunnel_options(&args)?.build()?;
    if let Some(mode) = args.http3 {
        config.connector = Arc::new(config.connector.as_ref().clone().with_http3(mode));
    }
    let Setup { printer, warnings, auth } = setup(&args)?;
    let (events, rx) = broadcast::channel(1024);
    let (listen, exposed) = match &args.listen {
        Listen::Stdio => (None, None),
        Listen::Addr(addr) => (Some(addr.bind_spec()), addr.network_warning(&addr.to_string())),
    };
    let shown = warnings.iter().cloned().chain(exposed).collect();
    let printing = tokio::spawn(printer.run(rx, shown, listen.is_some()));

    let Some(listen) = listen else {
        let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
        let error = run_stream(stdio, config, auth, events.clone()).await;
        drop(events);
        let _ = printing.await;
        return Ok(if error.is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    };

    let started = TunnelHandle::start_with_events(&listen, config, auth, events.clone()).await;
    serve_until_ctrl_c(started, |h| h.stop(DRAIN), events, printing, printer, &warnings).await
}

/// How long Ctrl-C waits for the tunnel's tasks to end.
pub(crate) const DRAIN: Duration = Duration::from_secs(2);

/// What `porthole tcp` and `porthole udp` set up alike: the printer, the warnings to show once
/// the tunnel listens, and the logins (the service account's token, else the token store).
pub(crate) struct Setup {
    pub(crate) printer: Printer,
    pub(crate) warnings: Vec<String>,
    pub(crate) auth: Arc<Authenticator>,
}

/// The [`Setup`] of `args`.
///
/// # Errors
/// An unreadable `--service-account-file`.
pub(crate) fn setup(args: &TcpArgs) -> anyhow::Result<Setup> {
    let printer = Printer::new(args.json, args.no_browser());
    let mut warnings = Vec::new();
    if args.insecure() {
        warnings.push("TLS verification is disabled (--disable-tls-verification): anyone on the network path can read and change this tunnel".to_owned());
    }
    let service_account = service_account(args)?;
    let store = if service_account.is_some() {
        crate::tokens::memory_store()
    } else {
        let (store, warning) = crate::tokens::store();
        warnings.extend(warning);
        store
    };
    Ok(Setup { printer, warnings, auth: Arc::new(Authenticator::new(store, service_account)) })
}

/// Serves a tunnel that `started` until Ctrl-C, then `stop`s it and lets `printing` show the
/// last events. One that did not start: the events so far, the warnings, then its error.
pub(crate) async fn serve_until_ctrl_c<H, E, S>(
    started: Result<H, E>,
    stop: impl FnOnce(H) -> S,
    events: broadcast::Sender<TunnelEvent>,
    printing: JoinHandle<()>,
    printer: Printer,
    warnings: &[String],
) -> anyhow::Result<ExitCode>
where
    E: std::fmt::Display,
    S: Future<Output = ()>,
{
    let handle = match started {
        Ok(h) => h,
        Err(e) => {
            drop(events);
            let _ = printing.await;
            for w in warnings {
                printer.warn(w);
            }
            bail!("{e}");
        }
    };
    shutdown_signal().await;
    stop(handle).await;
    drop(events);
    let _ = tokio::time::timeout(Duration::from_secs(1), printing).await;
    Ok(ExitCode::SUCCESS)
}

/// The tunnel's options from the flags. `--ca-cert` wins over `--alternate-ca-path`, as in
/// pomerium-cli; files are read when the tunnel is built, and only for a TLS proxy.
pub(crate) fn tunnel_options(args: &TcpArgs) -> anyhow::Result<TunnelOptions> {
    let ca = match (&args.ca_cert, &args.alternate_ca_path) {
        (Some(b64), _) if !b64.is_empty() => Some(PemSource::Base64(b64.clone())),
        (_, Some(path)) => Some(PemSource::File { path: path.clone(), flag: Some("--alternate-ca-path") }),
        _ => None,
    };
    let client_cert = match (&args.client_cert, &args.client_key, args.use_store()) {
        (Some(cert), Some(key), _) => Some(ClientCertSource::Pem {
            cert: PemSource::File { path: cert.clone(), flag: Some("--client-cert") },
            key: KeySource::File { path: key.clone(), flag: Some("--client-key") },
        }),
        (Some(_), None, _) => bail!("--client-cert needs --client-key"),
        (None, Some(_), _) => bail!("--client-key needs --client-cert"),
        (None, None, true) => Some(ClientCertSource::Store {
            issuer: args.client_cert_issuer.clone(),
            subject: args.client_cert_subject.clone(),
        }),
        (None, None, false) => None,
    };
    Ok(TunnelOptions {
        pomerium_url: args.pomerium_url.clone(),
        disable_tls_verification: args.insecure(),
        ca,
        client_cert,
        browser: tunnel_options::browser(args.browser_cmd.as_deref(), args.no_browser()),
        login_timeout: args.login_timeout,
        ..TunnelOptions::new(args.destination.clone())
    })
}

pub(crate) fn service_account(args: &TcpArgs) -> anyhow::Result<Option<Token>> {
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

pub(crate) async fn shutdown_signal() {
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
