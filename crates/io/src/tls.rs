//! The TLS stream both ends use: rustls, through tokio-rustls, for the handshake and for every
//! record after it (alerts, key updates, session tickets, close_notify and truncation are
//! rustls' own handling). [`connect`] is the CLI's and the desktop app's, [`accept`] the
//! gateway's; both build their configurations on [`provider`].
//!
//! A peer that ends the TCP connection without close_notify is an error when read
//! (`UnexpectedEof`, "peer closed connection without sending TLS close_notify"), never a clean
//! end of stream: the relay turns it into an abort ([`crate::relay::End::Aborted`]).

use std::io;
use std::sync::Arc;

use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

/// ring's provider with AES-128-GCM preferred over AES-256-GCM, the order Go's crypto/tls
/// (pomerium-cli) and BoringSSL (Envoy, in front of every Pomerium) use: both are 128-bit secure
/// against every known attack, and AES-128 runs four fewer rounds per block. Everything else is
/// ring's default.
#[must_use]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as cs;
    let mut provider = rustls::crypto::ring::default_provider();
    let rank = |s: &rustls::SupportedCipherSuite| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        _ => 2,
    };
    provider.cipher_suites.sort_by_key(rank);
    debug_assert_eq!(provider.cipher_suites.first().map(|s| s.suite()), Some(cs::TLS13_AES_128_GCM_SHA256.suite()));
    Arc::new(provider)
}

/// A client TLS connection to the proxy.
pub type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;
/// A server TLS connection from a client (the gateway's side).
pub type ServerStream = tokio_rustls::server::TlsStream<TcpStream>;

/// rustls takes plaintext only while fewer than this many bytes of records wait for the socket
/// (its default is 64 KiB): room for a whole 64 KiB relay buffer even when records of the one
/// before are still queued, so it becomes one batch, written with one vectored `write`.
const SEND_BUFFER: usize = 80 * 1024;

/// What the handshake settled.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// The peer's certificate chain, leaf first (the client's, in the gateway).
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The ALPN protocol both sides agreed on.
    pub alpn: Option<Vec<u8>>,
    /// Whether the handshake resumed an earlier session (a ticket, no certificate exchange).
    pub resumed: bool,
}

/// [`Negotiated`] for both stream types.
pub trait Handshaken {
    /// What the handshake settled (the peer's chain is copied).
    fn negotiated(&self) -> Negotiated;
}

fn negotiated<D>(conn: &rustls::ConnectionCommon<D>) -> Negotiated {
    Negotiated {
        peer_certificates: conn.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    }
}

impl Handshaken for ClientStream {
    fn negotiated(&self) -> Negotiated {
        negotiated(self.get_ref().1)
    }
}

impl Handshaken for ServerStream {
    fn negotiated(&self) -> Negotiated {
        negotiated(self.get_ref().1)
    }
}

/// Runs a client handshake on `tcp` and returns the stream.
///
/// # Errors
/// An I/O error wrapping the [`rustls::Error`] (kind `InvalidData`), or the socket's. rustls
/// queues the alert that describes a fatal error and tokio-rustls writes it before returning.
///
/// # Cancel safety
/// Dropping the future drops the half-done connection.
pub async fn connect(config: Arc<ClientConfig>, name: ServerName<'static>, tcp: TcpStream) -> io::Result<ClientStream> {
    let mut tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    tls.get_mut().1.set_buffer_limit(Some(SEND_BUFFER));
    Ok(tls)
}

/// Runs a server handshake on `tcp` and returns the stream.
///
/// # Errors
/// As [`connect`].
///
/// # Cancel safety
/// As [`connect`].
pub async fn accept(config: Arc<ServerConfig>, tcp: TcpStream) -> io::Result<ServerStream> {
    let mut tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
    tls.get_mut().1.set_buffer_limit(Some(SEND_BUFFER));
    Ok(tls)
}
