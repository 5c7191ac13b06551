//! `porthole udp`: pomerium-cli's `udp` flags (those of `tcp`) turned into a UDP tunnel: one
//! local UDP socket, a tunnel per local peer, its events shown until Ctrl-C. Unlike
//! pomerium-cli, `--pomerium-url` is honoured.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use porthole_client::listen::Listen;
use porthole_tunnel::auth::Authenticator;
use porthole_tunnel::udp::session::UdpTunnelHandle;
use tokio::sync::broadcast;

use crate::args::UdpArgs;
use crate::output::Printer;
use crate::tcp::{service_account, shutdown_signal, tunnel_options};

/// Runs `porthole udp`.
///
/// # Errors
/// Bad flags or destination, `--listen -`, unreadable files, or a local address that cannot
/// be bound.
pub async fn run(args: Box<UdpArgs>) -> anyhow::Result<ExitCode> {
    let UdpArgs { tunnel: args, udp_idle_timeout, udp_max_datagram } = *args;
    let Listen::Addr(addr) = &args.listen else {
        bail!(
            "porthole udp cannot use `--listen -`: stdin and stdout carry a byte stream, not datagrams; \
             give a local UDP address instead, e.g. `--listen 127.0.0.1:5353`"
        );
    };
    let mut config = tunnel_options(&args)?.build_udp_with(udp_idle_timeout, args.http3)?;
    config.max_datagram = udp_max_datagram as usize;
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
    let (events, rx) = broadcast::channel(1024);
    let listen = addr.bind_spec();
    let shown = warnings.iter().cloned().chain(addr.network_warning(&addr.to_string())).collect();
    let printing = tokio::spawn(printer.run(rx, shown, true));
    let handle = match UdpTunnelHandle::start_with_events(&listen, config, auth, events.clone()).await {
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
