//! HTTP/1.1 CONNECT to the proxy (docs/protocol.md §2.2): dial, TLS, the request bytes exactly as
//! pomerium-cli writes them, and the answer turned into a tunnel or an actionable error. The
//! exchange itself (request head, answer head) is `porthole_io::connect`, the gateway's too.
//!
//! - [`error`]: [`ConnectError`] and the status mapping of §2.7.
//! - [`response`]: the answer's head within 30 s, and a refusal's message, bounded.
//! - [`probe`]: one CONNECT after the proxy ended a live tunnel, its answer read as the reason.
//! - [`http3`]: the same CONNECT over HTTP/3 when the proxy offers it (`Alt-Svc`), with the
//!   fallback to HTTP/1.1 and what is remembered per proxy.

pub mod error;
pub mod http3;
pub mod probe;
pub mod response;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use porthole_io::h3_stream::H3Stream;
use porthole_io::tls::ClientStream;

pub use error::{ConnectError, ProtocolFailure, TlsFailure};
pub use http3::Http3Mode;

use crate::events::Transport;
use crate::target::Target;

/// How long dialling the proxy (and then its TLS handshake) may take.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

use porthole_io::stream::Either;

/// The connection to the proxy over TCP: `Left` plain TCP for `http` proxies, `Right` TLS for
/// `https` ones (tokio-util's `Either` forwards reads and writes to the one it holds).
pub type ProxyStream = Either<TcpStream, Box<ClientStream>>;

/// A tunnel's stream: `Left` over TCP ([`ProxyStream`]), `Right` an HTTP/3 request stream.
pub type TunnelStream = Either<ProxyStream, Box<H3Stream>>;

/// An established tunnel: raw bytes to the destination from here on.
pub struct Connected {
    /// The stream to the proxy, past the `200` head.
    pub stream: TunnelStream,
    /// Bytes the proxy sent after the head; forward them to the local side first.
    pub early: Vec<u8>,
    /// HTTP/3, or HTTP/1.1 and why not HTTP/3.
    pub transport: Transport,
}

impl fmt::Debug for Connected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connected")
            .field("early", &self.early.len())
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// The CONNECT request, byte for byte as Go's `Request.Write` puts it on the wire.
///
/// The `Authorization: Pomerium <jwt>` line is present only when `token` is given.
#[must_use]
pub fn request_bytes(destination: &str, token: Option<&str>) -> Vec<u8> {
    const USER_AGENT: (&str, &str) = ("User-Agent", "Go-http-client/1.1");
    match token {
        Some(jwt) => {
            let authorization = format!("Pomerium {jwt}");
            porthole_io::connect::request(destination, &[USER_AGENT, ("Authorization", &authorization)])
        }
        None => porthole_io::connect::request(destination, &[USER_AGENT]),
    }
}

/// Opens tunnels to one [`Target`], one proxy connection per tunnel (no reuse, as pomerium-cli).
#[derive(Debug, Clone)]
pub struct Connector {
    target: Target,
    tls: Option<Arc<ClientConfig>>,
    http3: Http3Mode,
}

impl Connector {
    /// A connector for `target`; `tls` must be `Some` when `target.proxy.tls()` (see
    /// [`crate::tls::client_config`]) and is ignored otherwise.
    #[must_use]
    pub fn new(target: Target, tls: Option<Arc<ClientConfig>>) -> Self {
        Self { target, tls, http3: Http3Mode::from_env() }
    }

    /// The same connector with HTTP/3 allowed or not (default: `PORTHOLE_HTTP3`, else auto).
    #[must_use]
    pub fn with_http3(mut self, mode: Http3Mode) -> Self {
        self.http3 = mode;
        self
    }

    /// The TLS configuration (for an `https` proxy).
    pub(crate) fn tls(&self) -> Option<&Arc<ClientConfig>> {
        self.tls.as_ref()
    }

    /// Whether HTTP/3 may be used.
    pub(crate) fn http3(&self) -> Http3Mode {
        self.http3
    }

    /// The target tunnels go to.
    #[must_use]
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Dials the proxy, sends CONNECT (with `Authorization: Pomerium <token>` when given) and
    /// returns the tunnel when the answer is `200`.
    ///
    /// # Errors
    /// [`ConnectError`]: `Dial` / `Tls` before the request, a status variant for a non-200
    /// answer, `Protocol` for an answer that is not HTTP. Only `LoginRequired` means the token
    /// should be dropped ([`ConnectError::keeps_token`]).
    ///
    /// # Cancel safety
    /// Dropping the future closes the half-open connection; nothing else is left behind.
    pub async fn connect(&self, token: Option<&str>) -> Result<Connected, ConnectError> {
        let h3_unavailable = match self.try_http3(token).await {
            Ok(Ok(connected)) => return Ok(connected),
            Ok(Err(answered)) => return Err(answered),
            Err(why) => why,
        };
        let proxy = self.target.proxy.host_port();
        let transport = Transport::Http1 { h3_unavailable };
        let mut stream = Either::Left(self.dial_proxy().await?);
        let destination = &self.target.destination;
        tracing::debug!(%proxy, %destination, with_token = token.is_some(), "CONNECT");
        let head = response::exchange(&mut stream, &request_bytes(destination, token)).await?;
        if head.status == 200 {
            return Ok(Connected { stream, early: head.rest, transport });
        }
        let status = head.status;
        let message = response::refusal_message(&mut stream, head).await;
        tracing::debug!(%proxy, %destination, status, %message, "CONNECT refused");
        Err(ConnectError::from_status(status, destination, message))
    }

    /// HTTP/3 when the proxy offers it and no QUIC failure is remembered: `Ok` with the
    /// tunnel or the proxy's refusal, `Err` to use HTTP/1.1 (with why, when HTTP/3 was offered).
    async fn try_http3(&self, token: Option<&str>) -> Result<Result<Connected, ConnectError>, Option<String>> {
        let proxy = &self.target.proxy;
        let Some(tls) = self.tls.as_ref().filter(|_| proxy.tls() && self.http3 == Http3Mode::Auto) else {
            return Err(None);
        };
        let state = http3::ProxyState::of(&proxy.origin());
        if !state.advertised(proxy, tls).await {
            return Err(None);
        }
        if let Some(why) = state.remembered() {
            return Err(Some(why));
        }
        let destination = &self.target.destination;
        tracing::debug!(proxy = %proxy.host_port(), %destination, with_token = token.is_some(), "CONNECT over HTTP/3");
        match http3::connect(proxy, tls, destination, token, state.clone()).await {
            Ok(stream) => {
                let stream = Either::Right(Box::new(stream));
                Ok(Ok(Connected { stream, early: Vec::new(), transport: Transport::Http3 }))
            }
            Err(http3::H3Failure::Answered(e)) => {
                tracing::debug!(%destination, error = %e, "CONNECT over HTTP/3 refused");
                Ok(Err(e))
            }
            Err(http3::H3Failure::Unavailable(why)) => {
                tracing::debug!(proxy = %proxy.host_port(), %why, "HTTP/3 unavailable; using HTTP/1.1");
                state.remember(why.clone());
                Err(Some(why))
            }
        }
    }

    /// Dials the proxy and, for an `https` proxy, completes TLS (ALPN as configured): the
    /// fresh connection each tunnel, TCP or UDP, is opened on.
    ///
    /// # Errors
    /// [`ConnectError::Dial`] / [`ConnectError::Tls`].
    pub(crate) async fn dial_proxy(&self) -> Result<ProxyStream, ConnectError> {
        let proxy = self.target.proxy.host_port();
        let tcp = dial(&proxy).await?;
        Ok(if self.target.proxy.tls() {
            Either::Right(Box::new(self.handshake(&proxy, tcp).await?))
        } else {
            Either::Left(tcp)
        })
    }

    async fn handshake(&self, proxy: &str, tcp: TcpStream) -> Result<ClientStream, ConnectError> {
        let tls_err = |source: TlsFailure| ConnectError::Tls { proxy: proxy.to_owned(), source };
        let config = self.tls.clone().ok_or_else(|| tls_err(TlsFailure::NoConfig))?;
        let host = &self.target.proxy.host;
        let name = ServerName::try_from(host.clone())
            .map_err(|source| tls_err(TlsFailure::ServerName { host: host.clone(), source }))?;
        tokio::time::timeout(DIAL_TIMEOUT, porthole_io::tls::connect(config, name, tcp))
            .await
            .map_err(|_| tls_err(TlsFailure::Timeout))?
            .map_err(|e| tls_err(TlsFailure::Handshake(e)))
    }
}

async fn dial(proxy: &str) -> Result<TcpStream, ConnectError> {
    let dial_err = |source: std::io::Error| ConnectError::Dial { proxy: proxy.to_owned(), source };
    let tcp = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(proxy))
        .await
        .map_err(|_| dial_err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 10 s")))?
        .map_err(dial_err)?;
    tcp.set_nodelay(true).map_err(dial_err)?;
    Ok(tcp)
}
