//! A raw CONNECT client: TLS to a gateway (optionally with a client certificate), the request
//! written byte by byte as pomerium-cli writes it, and the response head parsed, so tests can
//! assert on exact statuses and bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::certs::CertPair;

/// A client config trusting `ca_pem`, ALPN `http/1.1`, with an optional client certificate.
#[must_use]
/// # Panics
/// When the PEM inputs are not valid (test inputs are).
pub fn client_config(ca_pem: &str, client: Option<&CertPair>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match client {
        Some(pair) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes()).map(Result::unwrap).collect();
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

/// Opens TLS to `addr` (SNI `localhost`) trusting `ca_pem`.
///
/// # Errors
/// When the TCP connect or the handshake fails.
pub async fn tls_connect(
    addr: SocketAddr,
    ca_pem: &str,
    client: Option<&CertPair>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca_pem, client)));
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Opens TLS to `addr` (SNI `localhost`) trusting `ca_pem`, offering `alpn`, from the local
/// address `from` when given (any `127.x.y.z` works on Linux: tests use them as distinct
/// clients).
///
/// # Errors
/// When the bind, the TCP connect or the handshake fails.
pub async fn tls_connect_from(
    addr: SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
    from: Option<std::net::IpAddr>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = match from {
        Some(ip) => {
            let socket = if ip.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await?
        }
        None => TcpStream::connect(addr).await?,
    };
    let mut cfg = client_config(ca_pem, None);
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// A CONNECT response: status, the raw head, any body, and the stream for relaying.
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The raw response head, through the blank line.
    pub head: String,
    /// The body of a non-200 answer (by `Content-Length`).
    pub body: Vec<u8>,
    /// The TLS stream, for relaying after a 200.
    pub stream: TlsStream<TcpStream>,
    /// Bytes read past the head of a 200 (belong to the tunnel).
    pub early: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
    /// The body as (lossy) UTF-8.
    #[must_use]
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `CONNECT authority` with `headers` on `stream` and reads the answer.
///
/// # Panics
/// When the gateway closes before answering or the head is not HTTP.
pub async fn connect_on(mut stream: TlsStream<TcpStream>, authority: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: Go-http-client/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write CONNECT");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await.expect("read response");
        assert!(n > 0, "gateway closed before answering: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut rest = buf[end..].to_vec();
    let mut reply = Reply { status, head, body: Vec::new(), stream, early: Vec::new() };
    if status == 200 {
        reply.early = rest;
        return reply;
    }
    if let Some(len) = reply.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        while rest.len() < len {
            let n = reply.stream.read(&mut chunk).await.expect("read body");
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
    }
    reply.body = rest;
    reply
}
