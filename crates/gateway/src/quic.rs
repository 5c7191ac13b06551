//! The HTTP/3 listener (`codec_type: http3`): QUIC (quinn) on the UDP port of the TLS listener,
//! HTTP/3 (h3) on it. A CONNECT goes through the same [`connect::admit`] as over HTTP/1.1 and
//! HTTP/2 (route, client certificate, token, policy, upstream, registry), and its request
//! stream is relayed as a byte stream ([`porthole_io::h3_stream::H3Stream`]). The other paths
//! (login, health, routes API) are the TCP listener's ([`crate::server::endpoints`]).
//!
//! Limits as on TCP: the same connection [`limits::Gate`] (cap, unauthenticated per IP), the
//! TLS handshake within [`limits::HANDSHAKE_TIMEOUT`], [`limits::MAX_CONCURRENT_STREAMS`]
//! request streams per connection, a header section of at most [`limits::MAX_HEADER_LIST_BYTES`],
//! a request head within `timeout_read`, `timeout_idle` without a request in flight, and a peer
//! that stops answering is dropped after [`limits::H2_KEEPALIVE`]. Client certificates are the
//! TLS listener's (same rustls configuration, ALPN `h3`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use porthole_io::h3_stream::H3Stream;
use quinn::crypto::rustls::QuicServerConfig;
use rustls::pki_types::CertificateDer;
use tracing::Instrument as _;

use crate::connect::{self, Peer};
use crate::connect_udp::h3_datagrams;
use crate::idle::Activity;
use crate::limits::{self, Admission, Gate};
use crate::reply::{self, Body};
use crate::server::Shared;

/// Unidirectional streams a client may open: HTTP/3's control and QPACK streams, and a few
/// grease or unknown ones (which h3 reads and drops).
const MAX_UNI_STREAMS: u32 = 8;
/// Bytes of received QUIC DATAGRAM frames buffered per connection before the oldest are dropped.
const DATAGRAM_BUFFER: usize = 1024 * 1024;

/// A server-side HTTP/3 connection over quinn.
pub(crate) type H3Conn = h3::server::Connection<h3_quinn::Connection, Bytes>;
/// A server-side HTTP/3 request stream over quinn.
pub(crate) type H3Request = h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Binds the QUIC endpoint on `addr` (the TLS listener's address, over UDP). Connections are
/// accepted with the certificates in force at the time ([`accept_loop`]).
///
/// # Errors
/// The UDP port cannot be bound.
pub fn bind(addr: SocketAddr) -> std::io::Result<quinn::Endpoint> {
    let socket = std::net::UdpSocket::bind(addr)?;
    let runtime = quinn::default_runtime()
        .ok_or_else(|| std::io::Error::other("QUIC needs the tokio runtime; none is running"))?;
    quinn::Endpoint::new(quinn::EndpointConfig::default(), None, socket, runtime)
}

/// The QUIC configuration for the rustls server configuration in force, rebuilt when a reload
/// replaced it.
#[derive(Debug, Default)]
struct Configs(Mutex<Option<(Arc<rustls::ServerConfig>, Arc<quinn::ServerConfig>)>>);

impl Configs {
    fn get(&self, tls: &Arc<rustls::ServerConfig>) -> Option<Arc<quinn::ServerConfig>> {
        let mut cached = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, quic)) = cached.as_ref()
            && Arc::ptr_eq(seen, tls)
        {
            return Some(quic.clone());
        }
        let mut config = (**tls).clone();
        config.alpn_protocols = vec![b"h3".to_vec()];
        config.max_early_data_size = 0;
        let crypto = match QuicServerConfig::try_from(config) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the TLS configuration cannot be used for QUIC; HTTP/3 connections are refused");
                return None;
            }
        };
        let mut quic = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport
            .max_concurrent_bidi_streams(limits::MAX_CONCURRENT_STREAMS.into())
            .max_concurrent_uni_streams(MAX_UNI_STREAMS.into())
            .max_idle_timeout(quinn::IdleTimeout::try_from(limits::H2_KEEPALIVE).ok())
            .keep_alive_interval(Some(limits::H2_KEEPALIVE / 4))
            // HTTP Datagrams (CONNECT-UDP): QUIC DATAGRAM frames accepted, a bounded backlog.
            .datagram_receive_buffer_size(Some(DATAGRAM_BUFFER));
        quic.transport_config(Arc::new(transport));
        let quic = Arc::new(quic);
        *cached = Some((tls.clone(), quic.clone()));
        Some(quic)
    }
}

/// Accepts QUIC connections until shutdown; each admitted by `gate` like a TCP connection.
pub async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>, gate: Arc<Gate>) {
    let configs = Configs::default();
    // quinn ignores new connections on an endpoint without a server configuration; each one
    // is then accepted with the configuration in force ([`quinn::Incoming::accept_with`]).
    endpoint.set_server_config(configs.get(&shared.current.get().tls).map(|c| (*c).clone()));
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.accept() => incoming,
            () = shared.cancel.cancelled() => break,
        };
        let Some(incoming) = incoming else { break };
        let addr = incoming.remote_address();
        let admission = match gate.admit(addr.ip()) {
            Ok(a) => a,
            Err(refused) => {
                tracing::debug!(peer = %addr, reason = %refused, "QUIC connection refused");
                incoming.refuse();
                continue;
            }
        };
        let Some(config) = configs.get(&shared.current.get().tls) else {
            incoming.refuse();
            continue;
        };
        let connecting = match incoming.accept_with(config) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(peer = %addr, error = %e, "QUIC connection failed");
                continue;
            }
        };
        let shared2 = shared.clone();
        let span = tracing::info_span!("conn", peer = %addr, http = "h3");
        shared.tracker.spawn(
            async move {
                let admission = Arc::new(admission);
                let evicted = admission.evicted().clone();
                tokio::select! {
                    () = serve(connecting, addr, shared2, admission) => {}
                    () = evicted.cancelled() => tracing::debug!(peer = %addr, "evicted before it authenticated"),
                }
            }
            .instrument(span),
        );
    }
    // Connections still open finish on their own (drain); new ones are refused.
    endpoint.set_server_config(None);
}

/// One QUIC connection: handshake, HTTP/3 settings, then its requests until it ends.
async fn serve(connecting: quinn::Connecting, addr: SocketAddr, shared: Arc<Shared>, admission: Arc<Admission>) {
    let conn = match tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return tracing::debug!(peer = %addr, error = %e, "QUIC handshake failed"),
        Err(_) => return tracing::debug!(peer = %addr, "QUIC handshake timed out"),
    };
    let certs = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .map(|c| *c)
        .unwrap_or_default();
    let peer = Arc::new(Peer { addr, certs });
    let mut builder = h3::server::builder();
    builder
        .max_field_section_size(u64::from(limits::MAX_HEADER_LIST_BYTES))
        .enable_extended_connect(true)
        .enable_datagram(true);
    let built = tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, builder.build(h3_quinn::Connection::new(conn.clone())));
    let mut h3: H3Conn = match built.await {
        Ok(Ok(h3)) => h3,
        Ok(Err(e)) => return tracing::debug!(peer = %addr, error = %e, "HTTP/3 setup failed"),
        Err(_) => return tracing::debug!(peer = %addr, "HTTP/3 setup timed out"),
    };
    let datagrams = h3_datagrams::Slot::new(&h3);
    let activity = Activity::new();
    let slot = limits::Slot::new(admission.clone(), activity.clone());
    let cut = shared.tunnels.cut_token().clone();
    let idle = shared.current.get().config.timeouts.idle;
    let mut shutting_down = false;
    loop {
        let next = tokio::select! {
            next = h3.accept() => Some(next),
            () = activity.idle_for(idle), if !shutting_down => break,
            () = shared.cancel.cancelled(), if !shutting_down => None,
            () = activity.idle_for(Some(Duration::ZERO)), if shutting_down => break,
            () = cut.cancelled() => break,
        };
        let Some(next) = next else {
            // Shutdown: no new requests (GOAWAY); the tunnels on it may finish.
            shutting_down = true;
            let _ = h3.shutdown(0).await;
            continue;
        };
        let resolver = match next {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                if !e.is_h3_no_error() {
                    tracing::debug!(peer = %addr, error = %e, "HTTP/3 connection ended with an error");
                }
                break;
            }
        };
        let busy = activity.busy();
        let (shared, peer, slot, datagrams) = (shared.clone(), peer.clone(), slot.clone(), datagrams.clone());
        let read = shared.current.get().config.timeouts.read;
        shared.tracker.clone().spawn(
            async move {
                let head = resolver.resolve_request();
                let resolved = match read {
                    Some(limit) => tokio::time::timeout(limit, head).await.ok(),
                    None => Some(head.await),
                };
                match resolved {
                    Some(Ok((req, stream))) => request(shared, req, stream, peer, slot, datagrams).await,
                    Some(Err(e)) => tracing::debug!(error = %e, "HTTP/3 request could not be read"),
                    None => tracing::debug!("HTTP/3 request head not complete within timeout_read"),
                }
                drop(busy);
            }
            .in_current_span(),
        );
    }
    drop(h3);
    conn.close(0u32.into(), b"");
}

/// One request: a CONNECT-UDP goes to [`h3_datagrams`], a CONNECT is admitted and relayed,
/// anything else answered like on TCP.
async fn request(
    shared: Arc<Shared>,
    req: Request<()>,
    mut stream: H3Request,
    peer: Arc<Peer>,
    slot: limits::Slot,
    datagrams: h3_datagrams::Slot,
) {
    if h3_datagrams::is_connect_udp(&req) {
        return h3_datagrams::serve(shared, req, stream, peer, slot, datagrams).await;
    }
    if req.method() != Method::CONNECT {
        let resp = crate::server::endpoints(&shared, &req).await;
        return respond(&mut stream, resp).await;
    }
    if shared.cancel.is_cancelled() {
        return respond(&mut stream, reply::shutting_down(&peer.addr, http::Version::HTTP_3)).await;
    }
    let authority = req.uri().authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let span = connect::span(&authority);
    async move {
        let admitted = match connect::admit(&shared, &req, &peer, authority, Some(&slot)).await {
            Ok(a) => a,
            Err(resp) => return respond(&mut stream, resp).await,
        };
        let ok = Response::builder().status(StatusCode::OK).body(()).unwrap_or_default();
        if let Err(e) = stream.send_response(ok).await {
            return tracing::debug!(error = %e, "HTTP/3 CONNECT answer could not be sent");
        }
        slot.authenticated();
        let (send, recv) = stream.split();
        admitted.relay(H3Stream::spawn(send, recv, ()), Bytes::new()).await;
    }
    .instrument(span)
    .await;
}

/// Sends a whole answer (head, body, FIN). Connection-specific headers (`Connection`) have no
/// place in HTTP/3 and are dropped.
pub(crate) async fn respond(stream: &mut H3Request, resp: Response<Body>) {
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(http::header::CONNECTION);
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let sent = async {
        stream.send_response(Response::from_parts(parts, ())).await?;
        if body.has_remaining() {
            stream.send_data(body).await?;
        }
        stream.finish().await
    };
    if let Err(e) = sent.await {
        tracing::debug!(error = %e, "HTTP/3 answer could not be sent");
    }
}
