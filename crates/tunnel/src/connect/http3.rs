//! HTTP/3 to the proxy (docs/protocol.md §2.1, §2.3): the `Alt-Svc` probe, the QUIC dial
//! (quinn, ALPN `h3`, the same rustls configuration as HTTP/1.1: roots, extra CA, verifier,
//! client certificate), the CONNECT on an h3 request stream, and what is remembered per proxy.
//!
//! Choice, per proxy (the `https://host:port` origin), for the whole process:
//! - The probe (`GET https://proxyHost/`, no token, no redirect followed) runs once, before the
//!   first tunnel; an `Alt-Svc` naming `h3` makes HTTP/3 the first choice. Its port is ignored:
//!   QUIC goes to the proxy's own port, as pomerium-cli does.
//! - A QUIC dial that fails (no handshake within [`DIAL_TIMEOUT`], refused, HTTP/3 setup or the
//!   request failing before an answer) falls back to HTTP/1.1 for that connection, and the
//!   failure is remembered for [`REMEMBER`]: the next connections go straight to HTTP/1.1 and
//!   say why. A live HTTP/3 tunnel whose QUIC connection times out (UDP blocked on the way
//!   later) is remembered the same way.
//! - `--http3 off` (or `PORTHOLE_HTTP3=off`) never probes and never dials QUIC.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Buf as _, Bytes};
use http_body_util::Empty;
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use porthole_io::h3_stream::H3Stream;
use quinn::crypto::rustls::QuicClientConfig;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::sync::OnceCell;

use super::{ConnectError, response};
use crate::target::ProxyAddr;

/// How long the QUIC handshake (and the HTTP/3 settings) may take before HTTP/1.1 is used.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a failed QUIC dial sends a proxy's next connections straight to HTTP/1.1.
pub const REMEMBER: Duration = Duration::from_secs(600);
/// How long the `Alt-Svc` probe may take (dial, TLS, answer head); then HTTP/1.1 is used.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// QUIC keep-alive: an idle tunnel's connection stays open, and a path that stops carrying
/// UDP is noticed after [`IDLE_TIMEOUT`].
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// A QUIC connection with no packet from the proxy for this long is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of received QUIC DATAGRAM frames buffered (UDP tunnels) before the oldest are dropped.
const DATAGRAM_BUFFER: usize = 1024 * 1024;

/// Whether HTTP/3 may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Http3Mode {
    /// Probe `Alt-Svc` and prefer HTTP/3 when the proxy offers it (pomerium-cli's behaviour).
    #[default]
    Auto,
    /// HTTP/1.1 only, for networks that block or mangle UDP.
    Off,
}

impl Http3Mode {
    /// `auto` or `off` (also `on`/`true`/`1` → auto, `false`/`0` → off).
    ///
    /// # Errors
    /// A sentence naming the accepted values.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" | "on" | "true" | "1" | "" => Ok(Self::Auto),
            "off" | "false" | "0" => Ok(Self::Off),
            other => Err(format!("`{other}` is not an HTTP/3 mode; use auto or off")),
        }
    }

    /// `PORTHOLE_HTTP3` (`auto` or `off`), else auto.
    pub fn from_env() -> Self {
        std::env::var("PORTHOLE_HTTP3").ok().and_then(|v| Self::parse(&v).ok()).unwrap_or_default()
    }
}

/// What is known about one proxy: its probe's answer, and a remembered QUIC failure.
#[derive(Debug, Default)]
pub(crate) struct ProxyState {
    advertised: OnceCell<bool>,
    failed: Mutex<Option<(Instant, String)>>,
}

static PROXIES: LazyLock<Mutex<HashMap<String, Arc<ProxyState>>>> = LazyLock::new(Mutex::default);

impl ProxyState {
    /// The state of the proxy at `origin`, shared by every tunnel of this process.
    pub(crate) fn of(origin: &str) -> Arc<Self> {
        let mut all = PROXIES.lock().unwrap_or_else(PoisonError::into_inner);
        all.entry(origin.to_owned()).or_default().clone()
    }

    /// Whether the proxy offers HTTP/3 (the probe, run once).
    pub(super) async fn advertised(&self, proxy: &ProxyAddr, tls: &Arc<ClientConfig>) -> bool {
        *self
            .advertised
            .get_or_init(|| async {
                let found = tokio::time::timeout(PROBE_TIMEOUT, probe(proxy, tls.clone())).await;
                let found = found.unwrap_or_else(|_| Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())));
                match found {
                    Ok(h3) => {
                        tracing::debug!(proxy = %proxy.host_port(), h3, "Alt-Svc probe");
                        h3
                    }
                    Err(e) => {
                        tracing::debug!(proxy = %proxy.host_port(), error = %e, "Alt-Svc probe failed; using HTTP/1.1");
                        false
                    }
                }
            })
            .await
    }

    /// Why HTTP/3 is not tried now, if a failure is remembered.
    pub(crate) fn remembered(&self) -> Option<String> {
        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
        match failed.as_ref() {
            Some((until, why)) if Instant::now() < *until => Some(why.clone()),
            Some(_) => {
                *failed = None;
                None
            }
            None => None,
        }
    }

    /// Remembers a QUIC failure for [`REMEMBER`].
    pub(crate) fn remember(&self, why: String) {
        let until = Instant::now() + REMEMBER;
        *self.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some((until, why));
    }
}

/// `GET https://proxyHost/` without a token; `true` when an `Alt-Svc` answer header names `h3`.
async fn probe(proxy: &ProxyAddr, tls: Arc<ClientConfig>) -> Result<bool, String> {
    let host_port = proxy.host_port();
    let tcp = tokio::net::TcpStream::connect(&host_port).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from(proxy.host.clone()).map_err(|e| e.to_string())?;
    let stream = porthole_io::tls::connect(tls, name, tcp).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    let driver = tokio::spawn(conn);
    let req = Request::get("/")
        .header(header::HOST, &host_port)
        .header(header::USER_AGENT, "Go-http-client/1.1")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string());
    driver.abort();
    let resp = resp?;
    Ok(resp.headers().get_all(header::ALT_SVC).iter().any(|v| v.to_str().is_ok_and(|v| v.contains("h3"))))
}

/// Why HTTP/3 could not carry a tunnel.
#[derive(Debug)]
pub(crate) enum H3Failure {
    /// QUIC or HTTP/3 did not work (dial, handshake, settings, the request lost): fall back.
    Unavailable(String),
    /// The proxy answered the CONNECT: that answer stands, as over HTTP/1.1.
    Answered(ConnectError),
}

/// Closes the QUIC connection once the tunnel's stream is done with it, and remembers a
/// connection that timed out (UDP blocked after the dial) so the next tunnel uses HTTP/1.1.
pub(crate) struct Closer {
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    state: Arc<ProxyState>,
}

impl Closer {
    /// Owns `conn` (and its `endpoint`) for one tunnel; a time-out is remembered in `state`.
    pub(crate) fn new(conn: quinn::Connection, endpoint: quinn::Endpoint, state: Arc<ProxyState>) -> Self {
        Self { conn, _endpoint: endpoint, state }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some(quinn::ConnectionError::TimedOut) = self.conn.close_reason() {
            tracing::debug!("the QUIC connection timed out; the next connections use HTTP/1.1");
            self.state.remember("the QUIC connection timed out while in use (UDP blocked on the way?)".into());
        }
        self.conn.close(0u32.into(), b"");
    }
}

/// Dials the proxy over QUIC and sends CONNECT `destination` on a new request stream.
pub(super) async fn connect(
    proxy: &ProxyAddr,
    tls: &Arc<ClientConfig>,
    destination: &str,
    token: Option<&str>,
    state: Arc<ProxyState>,
) -> Result<H3Stream, H3Failure> {
    let unavailable = H3Failure::Unavailable;
    let (conn, endpoint, mut driver, mut send_request) =
        tokio::time::timeout(DIAL_TIMEOUT, dial(proxy, tls, false)).await.map_err(|_| {
            unavailable(format!("no QUIC handshake with {} within {} s", proxy.host_port(), DIAL_TIMEOUT.as_secs()))
        })??;
    tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
    let closer = Closer { conn, _endpoint: endpoint, state };
    let mut req = Request::builder()
        .method(Method::CONNECT)
        .uri(hyper::Uri::builder().authority(destination).build().map_err(|e| unavailable(e.to_string()))?)
        .header(header::USER_AGENT, "Go-http-client/3");
    if let Some(jwt) = token {
        req = req.header(header::AUTHORIZATION, format!("Pomerium {jwt}"));
    }
    let req = req.body(()).map_err(|e| unavailable(e.to_string()))?;
    let answer = async {
        let mut stream = send_request.send_request(req).await?;
        let resp = stream.recv_response().await?;
        Ok::<_, h3::error::StreamError>((stream, resp))
    };
    let (mut stream, resp) = tokio::time::timeout(response::HEAD_TIMEOUT, answer)
        .await
        .map_err(|_| unavailable(format!("no answer to CONNECT within {} s", response::HEAD_TIMEOUT.as_secs())))?
        .map_err(|e| unavailable(format!("HTTP/3 request failed: {e}")))?;
    let status = resp.status();
    if status == StatusCode::OK {
        let (send, recv) = stream.split();
        return Ok(H3Stream::spawn(send, recv, (closer, send_request)));
    }
    Err(H3Failure::Answered(refusal(&mut stream, status, destination).await))
}

/// The proxy's refusal as a [`ConnectError`]: its first body line, bounded in size and time,
/// as over HTTP/1.1.
pub(crate) async fn refusal(stream: &mut ClientRequest, status: StatusCode, destination: &str) -> ConnectError {
    let mut body = Vec::new();
    let read = async {
        while body.len() < response::MAX_BODY {
            match stream.recv_data().await {
                Ok(Some(mut chunk)) => body.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining())),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(response::BODY_TIMEOUT, read).await;
    body.truncate(response::MAX_BODY);
    let text = String::from_utf8_lossy(&body);
    let message = match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => line.chars().take(300).collect(),
        None => format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")).trim_end().to_owned(),
    };
    ConnectError::from_status(status.as_u16(), destination, message)
}

/// The client's handle for new requests on an HTTP/3 connection.
pub(crate) type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;
/// The client's HTTP/3 connection driver (settings, control streams, datagram ends).
pub(crate) type Driver = h3::client::Connection<h3_quinn::Connection, Bytes>;
/// A client request stream.
pub(crate) type ClientRequest = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

/// Dials the proxy over QUIC (HTTP Datagrams offered when `datagrams`) and sets up HTTP/3; the
/// caller drives the returned connection.
pub(crate) async fn dial(
    proxy: &ProxyAddr,
    tls: &Arc<ClientConfig>,
    datagrams: bool,
) -> Result<(quinn::Connection, quinn::Endpoint, Driver, SendRequest), H3Failure> {
    let fail = |what: &str, e: &dyn std::fmt::Display| H3Failure::Unavailable(format!("{what}: {e}"));
    let host_port = proxy.host_port();
    let addr = tokio::net::lookup_host(&host_port)
        .await
        .map_err(|e| fail("cannot resolve the proxy", &e))?
        .next()
        .ok_or_else(|| H3Failure::Unavailable(format!("{host_port} has no address")))?;
    let mut crypto = (**tls).clone();
    crypto.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = QuicClientConfig::try_from(crypto).map_err(|e| fail("TLS configuration unusable for QUIC", &e))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok())
        .initial_mtu(1350)
        .datagram_receive_buffer_size(datagrams.then_some(DATAGRAM_BUFFER));
    config.transport_config(Arc::new(transport));
    let local: SocketAddr =
        if addr.is_ipv6() { "[::]:0".parse() } else { "0.0.0.0:0".parse() }.map_err(|e| fail("local address", &e))?;
    let endpoint = quinn::Endpoint::client(local).map_err(|e| fail("cannot open a UDP socket", &e))?;
    let conn = endpoint
        .connect_with(config, addr, &proxy.host)
        .map_err(|e| fail("QUIC connect", &e))?
        .await
        .map_err(|e| fail("QUIC handshake failed", &e))?;
    let (driver, send_request) = h3::client::builder()
        .enable_datagram(datagrams)
        .build::<_, _, Bytes>(h3_quinn::Connection::new(conn.clone()))
        .await
        .map_err(|e| fail("HTTP/3 setup failed", &e))?;
    Ok((conn, endpoint, driver, send_request))
}
