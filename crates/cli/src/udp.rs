//! `porthole udp`: pomerium-cli's `udp` flags (those of `tcp`) turned into a UDP tunnel: one
//! local UDP socket, a tunnel per local peer, its events shown until Ctrl-C. Unlike
//! pomerium-cli, `--pomerium-url` is honoured.

use std::process::ExitCode;

use anyhow::bail;
use porthole_client::listen::Listen;
use porthole_tunnel::udp::session::UdpTunnelHandle;
use tokio::sync::broadcast;

use crate::args::UdpArgs;
use crate::tcp::{DRAIN, Setup, serve_until_ctrl_c, setup, tunnel_options};

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
    let Setup { printer, warnings, auth } = setup(&args)?;
    let (events, rx) = broadcast::channel(1024);
    let listen = addr.bind_spec();
    let shown = warnings.iter().cloned().chain(addr.network_warning(&addr.to_string())).collect();
    let printing = tokio::spawn(printer.run(rx, shown, true));
    let started = UdpTunnelHandle::start_with_events(&listen, config, auth, events.clone()).await;
    serve_until_ctrl_c(started, |h| h.stop(DRAIN), events, printing, printer, &warnings).await
}
