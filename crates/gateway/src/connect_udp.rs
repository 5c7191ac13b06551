//! CONNECT-UDP over HTTP/1.1 (RFC 9298 with the capsule protocol, docs/protocol.md §2.4):
//! `GET /.well-known/masque/udp/{host}/{port}/` with `Upgrade: connect-udp`, routed by the
//! path's target to a `udp+` route, admitted like a CONNECT (`connect::authorize`: 404, 495, 401,
//! 302, 403), then datagram capsules relayed to a connected UDP socket toward the upstream.
//!
//! hyper upgrades a non-CONNECT request only on a `101`, and pomerium-cli accepts only `200`,
//! so this request is read before hyper sees the connection ([`sniff`]): when the first bytes
//! are `GET /.well-known/masque/udp/`, the head is read and answered here; anything else goes
//! to hyper with those bytes put back in front ([`Prefixed`]). So CONNECT-UDP must be the
//! first request on its connection, as pomerium-cli sends it (one fresh connection each).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt as _;
use porthole_io::capsule::{self, Capsule};
use porthole_io::datagram::{Counters, Counts};
use porthole_io::stream::Prefixed;
use porthole_io::tls::ServerStream;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::config::Upstream;
use crate::connect::{Authorized, Peer, authorize};
use crate::limits;
use crate::reply::{self, Body};
use crate::server::Shared;
use crate::tunnels::TunnelInfo;

pub(crate) mod h3_datagrams;

/// The start of every CONNECT-UDP request over HTTP/1.1.
const PREFIX: &[u8] = b"GET /.well-known/masque/udp/";
/// How long the first bytes (and a CONNECT-UDP head) may take when `timeout_read` is unset.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest datagram read from the upstream socket.
const READ_BUFFER: usize = 65_536;

/// A CONNECT-UDP request's head, parsed.
#[derive(Debug)]
pub struct UdpRequest {
    /// `host:port` from the path (`[v6]:port` for an IPv6 literal).
    pub target: String,
    /// The headers.
    pub headers: HeaderMap,
}

/// What [`sniff`] found at the start of a connection.
pub enum Sniffed {
    /// A CONNECT-UDP request (or one that looked like it and is malformed: the reason),
    /// with the bytes that came after its head.
    Udp(ServerStream, Result<UdpRequest, &'static str>, Vec<u8>),
    /// Anything else: the stream for hyper, the bytes read put back in front.
    Http(Prefixed<ServerStream>),
    /// The client closed or sent nothing in time.
    Gone,
}

/// Reads just enough of a new HTTP/1.1 connection to tell CONNECT-UDP from the rest.
pub async fn sniff(mut tls: ServerStream, read_timeout: Option<Duration>) -> Sniffed {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            let n = PREFIX.len().min(buf.len());
            if buf[..n] != PREFIX[..n] {
                return Some(false);
            }
            if buf.len() >= PREFIX.len() {
                if find_head_end(&buf).is_some() {
                    return Some(true);
                }
                if buf.len() > limits::MAX_HEAD_BYTES {
                    return Some(true);
                }
            }
            let mut chunk = [0u8; 4096];
            match tls.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let udp = match tokio::time::timeout(read_timeout.unwrap_or(HEAD_TIMEOUT), read).await {
        Ok(Some(udp)) => udp,
        Ok(None) | Err(_) => return Sniffed::Gone,
    };
    if !udp {
        return Sniffed::Http(Prefixed::new(buf, tls));
    }
    let Some(end) = find_head_end(&buf) else {
        return Sniffed::Udp(tls, Err("the request head is too large"), Vec::new());
    };
    let rest = buf.split_off(end);
    Sniffed::Udp(tls, parse(&buf), rest)
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a CONNECT-UDP head: the MASQUE path's target, `Upgrade: connect-udp`.
fn parse(head: &[u8]) -> Result<UdpRequest, &'static str> {
    let mut raw = [httparse::EMPTY_HEADER; limits::MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("the request head is not valid HTTP/1.1"),
    }
    let mut headers = HeaderMap::new();
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| "a header name is not valid")?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| "a header value is not valid")?;
        headers.append(name, value);
    }
    let upgrade = headers.get(http::header::UPGRADE).and_then(|v| v.to_str().ok());
    if !upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("connect-udp")) {
        return Err("a CONNECT-UDP request needs `Upgrade: connect-udp` (RFC 9298)");
    }
    let target = masque_target(req.path.unwrap_or_default())?;
    Ok(UdpRequest { target, headers })
}

/// The `host:port` a MASQUE path (`/.well-known/masque/udp/{host}/{port}/`) names, as in
/// HTTP/1.1 and HTTP/3 alike.
pub(crate) fn masque_target(path: &str) -> Result<String, &'static str> {
    let rest = path.strip_prefix("/.well-known/masque/udp/").ok_or("the path is not a MASQUE UDP path")?;
    let mut parts = rest.split('/');
    let (Some(host), Some(port)) = (parts.next(), parts.next()) else {
        return Err("the path needs /.well-known/masque/udp/{host}/{port}/");
    };
    // RFC 9298 percent-encodes an IPv6 literal's colons; pomerium-cli writes them raw.
    let host = host.replace("%3A", ":").replace("%3a", ":");
    let port: u16 = port.parse().map_err(|_| "the port in the MASQUE path is not a number")?;
    if host.is_empty() || host.contains(['[', ']', '@', '?', '#', ' ']) || port == 0 {
        return Err("the target in the MASQUE path is not a host and port");
    }
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    Ok(target)
}

/// Writes `resp` as an HTTP/1.1 answer with `Content-Length` and `Connection: close`.
async fn write_response(tls: &mut ServerStream, resp: Response<Body>) {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let reason = parts.status.canonical_reason().unwrap_or("Status");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", parts.status.as_u16());
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let sent = async {
        tls.write_all(head.as_bytes()).await?;
        tls.write_all(&body).await?;
        tls.flush().await?;
        tls.shutdown().await
    };
    let _ = tokio::time::timeout(HEAD_TIMEOUT, sent).await;
}

/// Serves one CONNECT-UDP request (the connection's only one) inside a `connect_udp` span.
pub async fn serve(
    shared: Arc<Shared>,
    tls: ServerStream,
    request: Result<UdpRequest, &'static str>,
    early: Vec<u8>,
    peer: Arc<Peer>,
    admission: Arc<limits::Admission>,
) {
    let target = request.as_ref().map(|r| r.target.clone()).unwrap_or_default();
    let span = tracing::info_span!("connect_udp", authority = %target, route = Empty, user = Empty);
    serve_in(shared, tls, request, early, peer, admission).instrument(span).await;
}

async fn serve_in(
    shared: Arc<Shared>,
    mut tls: ServerStream,
    request: Result<UdpRequest, &'static str>,
    early: Vec<u8>,
    peer: Arc<Peer>,
    admission: Arc<limits::Admission>,
) {
    let request = match request {
        Ok(r) => r,
        Err(why) => return write_response(&mut tls, refuse_malformed(&peer, why)).await,
    };
    let tunnel = match UdpTunnel::admit(&shared, &request.headers, &peer, request.target, http::Version::HTTP_11).await
    {
        Ok(t) => t,
        Err(refusal) => return write_response(&mut tls, *refusal).await,
    };
    // 200, not RFC 9298's 101: pomerium-cli accepts only 200 (docs/protocol.md §2.4). No
    // Content-Length and no chunking: the capsules follow the head until either side closes.
    let ok = async {
        tls.write_all(b"HTTP/1.1 200 OK\r\nCapsule-Protocol: ?1\r\n\r\n").await?;
        tls.flush().await
    };
    if ok.await.is_err() {
        return;
    }
    admission.authenticated();
    let (read, write) = tokio::io::split(tls);
    let client = Capsules { reader: capsule::Reader::new(read, &early), write, out: BytesMut::with_capacity(2048) };
    tunnel.run(&shared, &peer, client).await;
}

/// A `400` for a CONNECT-UDP request that cannot be read, logged as refused.
pub(crate) fn refuse_malformed(peer: &Peer, why: &'static str) -> Response<Body> {
    tracing::info!(target: "porthole_gateway::access", peer = %peer.addr, status = 400, reason = why, "tunnel refused");
    reply::text(StatusCode::BAD_REQUEST, why)
}

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
        let user = identity
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |id| id.email.clone().unwrap_or_else(|| id.user.clone()));
        let (socket, upstream) = match open_upstream(&route.config.to, shared).await {
            Ok(s) => s,
            Err(why) => {
                let msg = format!("cannot reach {authority}'s upstream: {why}");
                tracing::info!(target: "porthole_gateway::access", peer = %peer.addr, authority, route = %route.display_name(), user = %user, status = 503, reason = %msg, "tunnel refused");
                return Err(Box::new(reply::text(StatusCode::SERVICE_UNAVAILABLE, msg)));
            }
        };
        let live = shared.tunnels.register(TunnelInfo {
            route_id: route.id.clone(),
            route: route.display_name(),
            authority: authority.clone(),
            user: user.clone(),
            expires: TunnelInfo::expiry_of(identity.as_ref()),
            identity,
            peer: peer.clone(),
        });
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

/// The client's side of a UDP tunnel: HTTP/1.1 capsules ([`Capsules`]) or HTTP/3 datagrams
/// ([`h3_datagrams::Datagrams`]).
pub(crate) trait ClientSide: Send {
    /// The next thing the client sent. Cancel safe.
    fn recv(&mut self) -> impl Future<Output = FromClient> + Send;
    /// Sends one datagram (at most [`capsule::MAX_DATAGRAM`] bytes) to the client: `false`
    /// when it was dropped (too large for the path), an error when the client is gone.
    fn send(&mut self, datagram: &[u8]) -> impl Future<Output = Result<bool, String>> + Send;
    /// Ends the tunnel toward the client.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// CONNECT-UDP over HTTP/1.1: DATAGRAM capsules on the upgraded connection.
struct Capsules {
    reader: capsule::Reader<tokio::io::ReadHalf<ServerStream>>,
    write: tokio::io::WriteHalf<ServerStream>,
    out: BytesMut,
}

impl ClientSide for Capsules {
    async fn recv(&mut self) -> FromClient {
        match self.reader.next().await {
            Ok(Some(Capsule::Datagram(d))) => FromClient::Datagram(d),
            Ok(Some(Capsule::OtherContext(_))) => FromClient::OtherContext,
            Ok(Some(Capsule::Skipped(_))) => FromClient::Skipped,
            Ok(None) => FromClient::Closed,
            Err(e) => FromClient::Failed(e.to_string()),
        }
    }

    async fn send(&mut self, datagram: &[u8]) -> Result<bool, String> {
        self.out.clear();
        capsule::encode_datagram(datagram, &mut self.out);
        let sent = async {
            self.write.write_all(&self.out).await?;
            self.write.flush().await
        };
        sent.await.map(|()| true).map_err(|e| format!("the client went away: {e}"))
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.write.shutdown()).await;
    }
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

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn pomerium_clis_request_is_parsed_and_routed_by_the_path() {
        let head = b"GET /.well-known/masque/udp/dns.example.com/53/ HTTP/1.1\r\nHost: dns.example.com:53\r\n\
User-Agent: Go-http-client/1.1\r\nAuthorization: Pomerium x.y.z\r\nCapsule-Protocol: ?1\r\n\
Connection: Upgrade\r\nUpgrade: connect-udp\r\n\r\n";
        let req = parse(head).unwrap();
        assert_eq!(req.target, "dns.example.com:53");
        assert_eq!(req.headers.get("authorization").unwrap(), "Pomerium x.y.z");
        assert_eq!(
            parse(b"GET /.well-known/masque/udp/2001:db8::1/53/ HTTP/1.1\r\nUpgrade: connect-udp\r\n\r\n")
                .unwrap()
                .target,
            "[2001:db8::1]:53"
        );
        assert!(parse(b"GET /.well-known/masque/udp/a/53/ HTTP/1.1\r\nHost: a\r\n\r\n").is_err(), "no Upgrade");
        assert!(parse(b"GET /.well-known/masque/udp/a/x/ HTTP/1.1\r\nUpgrade: connect-udp\r\n\r\n").is_err());
    }
}
