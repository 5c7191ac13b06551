//! The HTTP/3 transport of UDP tunnels (docs/protocol.md §2.5), and the connector that tries it
//! before HTTP/1.1 ([`UdpConnector`]).
//!
//! A fresh QUIC connection per tunnel (as pomerium-cli), HTTP Datagrams offered; the proxy's
//! SETTINGS must enable extended CONNECT and HTTP/3 datagrams. Then an extended CONNECT:
//! `:protocol connect-udp`, `:authority` the proxy's host:port, `:path
//! /.well-known/masque/udp/{host}/{port}/`, `capsule-protocol: ?1`; after a `200` each datagram
//! is one HTTP Datagram in a QUIC DATAGRAM frame (`h3-datagram`; context id 0, others dropped
//! and counted). Capsules on the request stream are read and discarded.
//!
//! Order (pomerium-cli's `fallback(http3, http1)`, no `Alt-Svc` probe): HTTP/3 first for an
//! `https` proxy unless `--http3 off` or a QUIC failure is remembered for the proxy (the same
//! memory as TCP, [`crate::connect::http3`]); QUIC failing, or SETTINGS without extended
//! CONNECT / datagrams, falls back to HTTP/1.1 (pomerium-cli does not fall back there; we do).

use std::sync::Arc;
use std::time::{Duration, Instant};

use h3::ConnectionState as _;
use h3_datagram::datagram_handler::{HandleDatagramsExt as _, SendDatagramError};
use hyper::{Method, Request, StatusCode, header};
use porthole_io::capsule::{self, Capsule};
use porthole_io::datagram::Counters;

use super::channel::{BoxFuture, ChannelEnd, DatagramChannel, DatagramConnector, TransportSide};
use super::h1::{H1Connector, split_destination};
use crate::connect::http3::{self, ClientRequest, Closer, Driver, H3Failure, ProxyState, SendRequest};
use crate::connect::{ConnectError, Connector, Http3Mode, response};
use crate::events::Transport;
use crate::target::Target;

/// How often the proxy's SETTINGS are looked at while waiting for them (within
/// [`http3::DIAL_TIMEOUT`]).
const SETTINGS_POLL: Duration = Duration::from_millis(10);

/// Opens UDP tunnels over HTTP/3 when it works, else over HTTP/1.1 ([`H1Connector`]).
#[derive(Debug, Clone)]
pub struct UdpConnector {
    connector: Connector,
    h1: H1Connector,
}

impl UdpConnector {
    /// UDP over the proxy `connector` dials, HTTP/3 first (its `--http3` mode and TLS).
    #[must_use]
    pub fn new(connector: Connector) -> Self {
        Self { h1: H1Connector::new(connector.clone()), connector }
    }

    async fn open_any(&self, token: Option<&str>, counters: Arc<Counters>) -> Result<DatagramChannel, ConnectError> {
        let h3_unavailable = match self.try_http3(token, &counters).await {
            Ok(answer) => return answer,
            Err(why) => why,
        };
        let channel = self.h1.open(token, counters).await?;
        Ok(channel.with_transport(Transport::Http1 { h3_unavailable }))
    }

    /// `Ok` with the tunnel or the proxy's refusal; `Err` to use HTTP/1.1 (with why, when
    /// HTTP/3 was tried or is remembered as failing).
    async fn try_http3(
        &self,
        token: Option<&str>,
        counters: &Arc<Counters>,
    ) -> Result<Result<DatagramChannel, ConnectError>, Option<String>> {
        let proxy = &self.connector.target().proxy;
        let Some(tls) = self.connector.tls().filter(|_| proxy.tls() && self.connector.http3() == Http3Mode::Auto)
        else {
            return Err(None);
        };
        let state = ProxyState::of(&proxy.origin());
        if let Some(why) = state.remembered() {
            return Err(Some(why));
        }
        let destination = &self.connector.target().destination;
        tracing::debug!(proxy = %proxy.host_port(), %destination, with_token = token.is_some(), "CONNECT-UDP over HTTP/3");
        match open_h3(&self.connector, tls, token, state.clone(), counters.clone()).await {
            Ok(channel) => Ok(Ok(channel.with_transport(Transport::Http3))),
            Err(H3Failure::Answered(e)) => Ok(Err(e)),
            Err(H3Failure::Unavailable(why)) => {
                tracing::debug!(proxy = %proxy.host_port(), %why, "HTTP/3 unavailable for UDP; using HTTP/1.1");
                state.remember(why.clone());
                Err(Some(why))
            }
        }
    }
}

impl DatagramConnector for UdpConnector {
    fn target(&self) -> &Target {
        self.connector.target()
    }

    fn open<'a>(
        &'a self,
        token: Option<&'a str>,
        counters: Arc<Counters>,
    ) -> BoxFuture<'a, Result<DatagramChannel, ConnectError>> {
        Box::pin(self.open_any(token, counters))
    }
}

/// Dials QUIC, waits for SETTINGS with extended CONNECT and datagrams, sends the extended
/// CONNECT; on `200` the channel, its datagrams moved by [`pump`].
async fn open_h3(
    connector: &Connector,
    tls: &Arc<rustls::ClientConfig>,
    token: Option<&str>,
    state: Arc<ProxyState>,
    counters: Arc<Counters>,
) -> Result<DatagramChannel, H3Failure> {
    let unavailable = H3Failure::Unavailable;
    let target = connector.target();
    let proxy = &target.proxy;
    let limit = http3::DIAL_TIMEOUT;
    let started = Instant::now();
    let (conn, endpoint, mut driver, mut send_request) =
        tokio::time::timeout(limit, http3::dial(proxy, tls, true)).await.map_err(|_| {
            unavailable(format!("no QUIC handshake with {} within {} s", proxy.host_port(), limit.as_secs()))
        })??;
    let closer = Closer::new(conn, endpoint, state);
    settings(&mut driver, limit.saturating_sub(started.elapsed())).await?;
    let (host, port) = split_destination(&target.destination);
    let uri = format!("https://{}/.well-known/masque/udp/{host}/{port}/", proxy.host_port());
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri(uri)
        .extension(h3::ext::Protocol::CONNECT_UDP)
        .header("capsule-protocol", "?1")
        .header(header::USER_AGENT, "Go-http-client/3");
    if let Some(jwt) = token {
        req = req.header(header::AUTHORIZATION, format!("Pomerium {jwt}"));
    }
    let req = req.body(()).map_err(|e| unavailable(format!("the CONNECT-UDP request cannot be built: {e}")))?;
    let answer = async {
        let mut stream = send_request.send_request(req).await?;
        let resp = stream.recv_response().await?;
        Ok::<_, h3::error::StreamError>((stream, resp))
    };
    // The driver is polled meanwhile: it reads the control stream.
    let answered = tokio::time::timeout(response::HEAD_TIMEOUT, async {
        tokio::select! {
            got = answer => got.map_err(|e| format!("HTTP/3 request failed: {e}")),
            closed = std::future::poll_fn(|cx| driver.poll_close(cx)) => Err(format!("the HTTP/3 connection ended: {closed}")),
        }
    });
    let (mut stream, resp) = answered
        .await
        .map_err(|_| unavailable(format!("no answer to CONNECT-UDP within {} s", response::HEAD_TIMEOUT.as_secs())))?
        .map_err(unavailable)?;
    let status = resp.status();
    if status != StatusCode::OK {
        return Err(H3Failure::Answered(http3::refusal(&mut stream, status, &target.destination).await));
    }
    let (channel, side) = DatagramChannel::pair(capsule::MAX_DATAGRAM);
    tokio::spawn(pump(Quic { driver, stream, _keep: (closer, send_request) }, side, counters));
    Ok(channel)
}

/// Drives the connection until the proxy's SETTINGS enable extended CONNECT and datagrams.
async fn settings(driver: &mut Driver, limit: Duration) -> Result<(), H3Failure> {
    let ready = async {
        loop {
            let s = driver.settings();
            if s.enable_extended_connect() && s.enable_datagram() {
                return Ok(());
            }
            tokio::select! {
                closed = std::future::poll_fn(|cx| driver.poll_close(cx)) => {
                    return Err(format!("the HTTP/3 connection ended before its SETTINGS: {closed}"));
                }
                () = tokio::time::sleep(SETTINGS_POLL) => {}
            }
        }
    };
    match tokio::time::timeout(limit, ready).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(H3Failure::Unavailable(why)),
        Err(_) => Err(H3Failure::Unavailable(format!(
            "the proxy's HTTP/3 SETTINGS did not enable extended CONNECT and datagrams within the {} s dial limit",
            http3::DIAL_TIMEOUT.as_secs()
        ))),
    }
}

/// One tunnel's HTTP/3 parts, kept until it ends (dropping them closes the QUIC connection).
struct Quic {
    driver: Driver,
    stream: ClientRequest,
    _keep: (Closer, SendRequest),
}

/// Moves datagrams between the channel and the QUIC connection until either ends.
async fn pump(mut quic: Quic, mut side: TransportSide, counters: Arc<Counters>) {
    let id = quic.stream.id();
    let mut reader = quic.driver.get_datagram_reader();
    let mut sender = quic.driver.get_datagram_sender(id);
    let to_local = side.to_local.clone();
    let cancel = side.cancel.clone();
    let mut open = true;
    let why = loop {
        tokio::select! {
            up = side.to_proxy.recv() => match up {
                Some(d) => match sender.send_datagram(capsule::http_datagram(&d)) {
                    Ok(()) => {}
                    Err(SendDatagramError::TooLarge { .. }) => counters.add_dropped(),
                    Err(e) => break ChannelEnd::Failed(format!("sending a datagram to the proxy failed: {e}")),
                },
                None => break ChannelEnd::Closed,
            },
            down = reader.read_datagram() => match down {
                Ok(d) if d.stream_id() != id => counters.add_dropped(),
                Ok(d) => match capsule::read_http_datagram(d.into_payload()) {
                    Some(Capsule::Datagram(payload)) => {
                        if to_local.send(payload).await.is_err() {
                            break ChannelEnd::Closed;
                        }
                    }
                    Some(_) | None => counters.add_dropped(),
                },
                Err(e) => break ChannelEnd::Failed(format!("the QUIC connection to the proxy failed: {e}")),
            },
            data = quic.stream.recv_data(), if open => match data {
                // Capsules on the request stream: read and discarded.
                Ok(Some(_)) => {}
                Ok(None) => break ChannelEnd::ProxyClosed,
                Err(e) if e.is_h3_no_error() => break ChannelEnd::ProxyClosed,
                Err(e) => {
                    open = false;
                    tracing::debug!(error = %e, "the CONNECT-UDP request stream failed");
                }
            },
            closed = std::future::poll_fn(|cx| quic.driver.poll_close(cx)) => {
                break if closed.is_h3_no_error() {
                    ChannelEnd::ProxyClosed
                } else {
                    ChannelEnd::Failed(format!("the HTTP/3 connection to the proxy ended: {closed}"))
                };
            }
            () = cancel.cancelled() => break ChannelEnd::Closed,
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), quic.stream.finish()).await;
    drop(quic);
    side.end(why);
}
