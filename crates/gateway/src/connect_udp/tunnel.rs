//! A CONNECT-UDP tunnel whatever carries it (HTTP/1.1 capsules, HTTP/3 datagrams): admission
//! ([`UdpTunnel::admit`]: `authorize` as a `udp+` route, the upstream socket, the live-tunnel
//! registry), then the relay to the upstream with revocation, drain, idle expiry and the
//! access line ([`UdpTunnel::run`]). A transport supplies a [`ClientSide`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use porthole_io::capsule;
use porthole_io::datagram::{Counters, Counts};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::config::Upstream;
use crate::connect::{Authorized, Peer, authorize, register, who};
use crate::limits;
use crate::reply::{self, Body};
use crate::server::Shared;

/// Largest datagram read from the upstream socket.
const READ_BUFFER: usize = 65_536;

/// An admitted CONNECT-UDP, whatever carries it (HTTP/1.1 capsules, HTTP/3 datagrams): the
/// route and user, the upstream socket and the live-tunnel registration (revocation, drain).
pub(crate) struct UdpTunnel {
    authority: String,
    snapshot: Arc<crate::snapshot::Snapshot>,
    route: Arc<crate::route::Route>,
    user: String,
    socket: UdpSocket,
    upstream: SocketAddr,
    live: crate::tunnels::LiveTunnel,
}

impl UdpTunnel {
    /// Route by `authority` (the MASQUE path's target), [`authorize`] as a `udp+` route, open
    /// the upstream socket and register the tunnel; or the answer to send instead.
    pub(crate) async fn admit(
        shared: &Arc<Shared>,
        headers: &HeaderMap,
        peer: &Arc<Peer>,
        authority: String,
        version: http::Version,
    ) -> Result<Self, Box<Response<Body>>> {
        if shared.cancel.is_cancelled() {
            return Err(Box::new(reply::shutting_down(&peer.addr, version)));
        }
        let Authorized { snapshot, route, identity } = authorize(shared, headers, peer, &authority, true)?;
        let user = who(identity.as_ref());
        let (socket, upstream) = match open_upstream(&route.config.to, shared).await {
            Ok(s) => s,
            Err(why) => {
                let msg = format!("cannot reach {authority}'s upstream: {why}");
                tracing::info!(target: "porthole_gateway::access", peer = %peer.addr, authority, route = %route.display_name(), user = %user, status = 503, reason = %msg, "tunnel refused");
                return Err(Box::new(reply::text(StatusCode::SERVICE_UNAVAILABLE, msg)));
            }
        };
        let live = register(shared, &route, &authority, identity, peer);
        if let Some(why) = live.changed_since(&snapshot, &shared.current) {
            let msg = format!("access to {authority} changed while connecting ({why}); try again");
            return Err(Box::new(reply::text(why.status(), msg)));
        }
        Ok(Self { authority, snapshot, route, user, socket, upstream, live })
    }

    /// Relays datagrams between `client` and the upstream until an end, then writes the
    /// access line.
    pub(crate) async fn run(self, shared: &Arc<Shared>, peer: &Peer, client: impl ClientSide) {
        let Self { authority, snapshot, route, user, socket, upstream, live } = self;
        tracing::debug!(upstream = %upstream, "UDP tunnel open");
        let timeouts = snapshot.config.timeouts;
        let idle = route.config.idle_timeout.or(timeouts.idle).filter(|d| !d.is_zero());
        let stop = limits::with_deadline(live.stop_token(), timeouts.write);
        let _end = stop.clone().drop_guard();
        let counters = Counters::new();
        let started = Instant::now();
        let ends = Ends { stop, revoked: live.revoked_token(), cut: shared.tunnels.cut_token().clone() };
        let end = live.watch(relay(client, socket, counters.clone(), idle, ends), &shared.current).await;
        let Counts { datagrams_up, datagrams_down, bytes_up, bytes_down, dropped } = counters.get();
        tracing::info!(
            target: "porthole_gateway::access",
            peer = %peer.addr,
            authority,
            route = %route.display_name(),
            user = %user,
            upstream = %upstream,
            bytes_up,
            bytes_down,
            datagrams_up,
            datagrams_down,
            dropped,
            duration_ms = started.elapsed().as_millis() as u64,
            end = %live.describe_end(&end),
            "tunnel closed"
        );
    }
}

/// What the client side of a UDP tunnel delivered.
pub(crate) enum FromClient {
    /// A datagram for context id 0: its UDP payload.
    Datagram(Bytes),
    /// A datagram for another context id (dropped, counted).
    OtherContext,
    /// Something else that is read and discarded (another capsule type).
    Skipped,
    /// The client ended the tunnel.
    Closed,
    /// The client side failed.
    Failed(String),
}

/// The client's side of a UDP tunnel: HTTP/1.1 capsules or HTTP/3 datagrams
/// (`h3_datagrams`).
pub(crate) trait ClientSide: Send {
    /// The next thing the client sent. Cancel safe.
    fn recv(&mut self) -> impl Future<Output = FromClient> + Send;
    /// Sends one datagram (at most [`capsule::MAX_DATAGRAM`] bytes) to the client: `false`
    /// when it was dropped (too large for the path), an error when the client is gone.
    fn send(&mut self, datagram: &[u8]) -> impl Future<Output = Result<bool, String>> + Send;
    /// Ends the tunnel toward the client.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// A connected UDP socket toward one of the route's `udp://` upstreams (round robin, the next
/// on failure).
async fn open_upstream(to: &[Upstream], shared: &Shared) -> Result<(UdpSocket, SocketAddr), String> {
    let n = to.len().max(1);
    let first = shared.next_upstream.fetch_add(1, Ordering::Relaxed) % n;
    let mut last = "no udp:// upstream".to_owned();
    for i in 0..to.len() {
        let Upstream::Udp { host, port } = &to[(first + i) % n] else { continue };
        match connect_udp(host, *port).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn connect_udp(host: &str, port: u16) -> Result<(UdpSocket, SocketAddr), String> {
    let addrs = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("resolving {host} took over 10 s"))?
        .map_err(|e| format!("resolving {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let local: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = match UdpSocket::bind(local).await {
            Ok(s) => s,
            Err(e) => {
                last = format!("binding a UDP socket: {e}");
                continue;
            }
        };
        match socket.connect(addr).await {
            Ok(()) => return Ok((socket, addr)),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// What ends a relay besides the two sides: the deadline and drain (`stop`), a revocation.
struct Ends {
    stop: CancellationToken,
    revoked: CancellationToken,
    cut: CancellationToken,
}

/// How a UDP relay ended, for the access log.
#[derive(Debug)]
enum End {
    ClientClosed,
    Idle,
    Stopped,
    Revoked,
    Error(String),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientClosed => f.write_str("closed"),
            Self::Idle => f.write_str("idle timeout"),
            Self::Stopped => f.write_str("shutdown"),
            Self::Revoked => f.write_str("revoked"),
            Self::Error(e) => f.write_str(e),
        }
    }
}

/// Datagrams from the client → the upstream, and back, until an end.
async fn relay(
    mut client: impl ClientSide,
    socket: UdpSocket,
    counters: Arc<Counters>,
    idle: Option<Duration>,
    ends: Ends,
) -> End {
    let mut buf = vec![0u8; READ_BUFFER];
    // No idle timeout: a deadline that never comes (the branch is disabled anyway).
    let idle_for = idle.unwrap_or(Duration::from_secs(365 * 86_400));
    let deadline = tokio::time::sleep(idle_for);
    tokio::pin!(deadline);
    let end = loop {
        tokio::select! {
            got = client.recv() => match got {
                FromClient::Datagram(d) => {
                    deadline.as_mut().reset(tokio::time::Instant::now() + idle_for);
                    match socket.send(&d).await {
                        Ok(_) => counters.add_up(d.len()),
                        // An ICMP "port unreachable" from an earlier datagram: UDP goes on.
                        Err(e) => {
                            tracing::debug!(error = %e, "sending to the upstream failed");
                            counters.add_dropped();
                        }
                    }
                }
                FromClient::OtherContext => counters.add_dropped(),
                FromClient::Skipped => {}
                FromClient::Closed => break End::ClientClosed,
                FromClient::Failed(e) => break End::Error(e),
            },
            got = socket.recv(&mut buf) => match got {
                Ok(n) if n > capsule::MAX_DATAGRAM => counters.add_dropped(),
                Ok(n) => {
                    deadline.as_mut().reset(tokio::time::Instant::now() + idle_for);
                    match client.send(&buf[..n]).await {
                        Ok(true) => counters.add_down(n),
                        Ok(false) => counters.add_dropped(),
                        Err(e) => break End::Error(e),
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "receiving from the upstream failed");
                    counters.add_dropped();
                }
            },
            () = &mut deadline, if idle.is_some() => break End::Idle,
            () = ends.revoked.cancelled() => break End::Revoked,
            () = ends.stop.cancelled() => break End::Stopped,
            () = ends.cut.cancelled() => break End::Stopped,
        }
    };
    client.close().await;
    end
}
