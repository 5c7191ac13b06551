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
//!
//! The tunnel itself (admission, relay, access line) is transport-neutral ([`tunnel`]); the
//! same request over HTTP/3 is [`h3_datagrams`].

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt as _;
use porthole_io::capsule::{self, Capsule};
use porthole_io::stream::Prefixed;
use porthole_io::tls::ServerStream;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::connect::Peer;
use crate::limits;
use crate::reply::{self, Body};
use crate::server::Shared;

pub(crate) mod h3_datagrams;
mod tunnel;

pub(crate) use tunnel::{ClientSide, FromClient, UdpTunnel};

/// The start of every CONNECT-UDP request over HTTP/1.1.
const PREFIX: &[u8] = b"GET /.well-known/masque/udp/";
/// How long the first bytes (and a CONNECT-UDP head) may take when `timeout_read` is unset.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

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
