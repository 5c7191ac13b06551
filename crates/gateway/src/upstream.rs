//! Reaching a route's upstream: dial `tcp://host:port`, or forward the CONNECT to an
//! `http(s)://` proxy (proxy chaining) with Pomerium's auth headers stripped; the request and
//! the answer's head are `porthole_io::connect`'s, the engine's CONNECT client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use porthole_io::connect::ExchangeError;
use porthole_io::head::HeadError;
use porthole_io::stream::{Either, Stream};
use tokio::net::TcpStream;

use crate::config::{RouteConfig, Upstream};

/// How long to wait for an upstream (or upstream proxy) TCP connect and its CONNECT answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the upstream could not be reached. Each maps to a status the client sees.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing answered (refused, unreachable, DNS, timeout): 503.
    #[error("upstream {target} is unavailable: {reason}")]
    Unavailable {
        /// `host:port` dialled.
        target: String,
        /// The cause.
        reason: String,
    },
    /// The upstream proxy answered, but not 200: 502.
    #[error("upstream proxy {proxy} refused CONNECT {target}: {status}")]
    ProxyRefused {
        /// The proxy.
        proxy: String,
        /// What was asked of it.
        target: String,
        /// Its status line, e.g. `403 Access violation`.
        status: String,
    },
    /// The upstream proxy's answer was not HTTP: 502.
    #[error("upstream proxy {proxy} sent a malformed response")]
    ProxyProtocol {
        /// The proxy.
        proxy: String,
    },
}

/// A connected upstream, plus bytes that arrived after the proxy's 200 and belong to the client.
pub struct Connected {
    /// The stream.
    pub stream: Stream,
    /// Bytes to send to the client before relaying.
    pub early: Vec<u8>,
    /// Where it went, for the access log.
    pub target: String,
}

/// Connects to one of the route's `to` entries, starting at a rotating index and trying the
/// others on failure.
///
/// # Errors
/// The last entry's [`UpstreamError`] when none could be reached.
pub async fn connect(
    route: &RouteConfig,
    authority: &str,
    extra_headers: &[(String, String)],
    next: &AtomicUsize,
    proxy_tls: &Arc<rustls::ClientConfig>,
) -> Result<Connected, UpstreamError> {
    let n = route.to.len().max(1);
    let first = next.fetch_add(1, Ordering::Relaxed) % n;
    let mut last_err = None;
    for i in 0..route.to.len() {
        let up = &route.to[(first + i) % n];
        let res = match up {
            Upstream::Tcp { host, port } => dial(host, *port).await.map(|s| Connected {
                stream: Either::Left(s),
                early: Vec::new(),
                target: join(host, *port),
            }),
            // `udp+` routes are found only by CONNECT-UDP, which opens its own socket.
            Upstream::Udp { host, port } => Err(UpstreamError::Unavailable {
                target: join(host, *port),
                reason: "a udp:// upstream takes CONNECT-UDP, not CONNECT".into(),
            }),
            Upstream::Proxy { tls, host, port } => {
                let target = if route.preserve_host_header { authority.to_owned() } else { join(host, *port) };
                via_proxy(*tls, host, *port, &target, extra_headers, proxy_tls).await
            }
        };
        match res {
            Ok(c) => return Ok(c),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or(UpstreamError::Unavailable { target: authority.into(), reason: "no upstream".into() }))
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

async fn dial(host: &str, port: u16) -> Result<TcpStream, UpstreamError> {
    let target = join(host, port);
    let unavailable = |reason: String| UpstreamError::Unavailable { target: target.clone(), reason };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| unavailable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(|e| unavailable(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn via_proxy(
    tls: bool,
    host: &str,
    port: u16,
    target: &str,
    extra_headers: &[(String, String)],
    proxy_tls: &Arc<rustls::ClientConfig>,
) -> Result<Connected, UpstreamError> {
    let proxy = join(host, port);
    let tcp = dial(host, port).await?;
    let mut stream: Stream = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| UpstreamError::Unavailable { target: proxy.clone(), reason: e.to_string() })?;
        let tls = tokio_rustls::TlsConnector::from(proxy_tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| UpstreamError::Unavailable { target: proxy.clone(), reason: format!("TLS: {e}") })?;
        Either::Right(Box::new(tls))
    } else {
        Either::Left(tcp)
    };
    let headers: Vec<(&str, &str)> = extra_headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let request = porthole_io::connect::request(target, &headers);
    let answer = tokio::time::timeout(CONNECT_TIMEOUT, porthole_io::connect::exchange(&mut stream, &request))
        .await
        .map_err(|_| UpstreamError::Unavailable { target: proxy.clone(), reason: "no CONNECT answer".into() })?;
    match answer {
        Ok(head) if head.status == 200 => {
            Ok(Connected { stream, early: head.rest, target: format!("{target} via {proxy}") })
        }
        Ok(head) => Err(UpstreamError::ProxyRefused { proxy, target: target.into(), status: head.status_line() }),
        Err(ExchangeError::Answer(HeadError::Malformed(_))) => Err(UpstreamError::ProxyProtocol { proxy }),
        Err(e) => Err(UpstreamError::Unavailable { target: proxy, reason: e.to_string() }),
    }
}

/// A rustls client config for `https://` upstream proxies: the platform's web roots.
pub fn proxy_tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(mut c) => {
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(c)
        }
        // The ring provider always supports the default versions.
        Err(_) => Arc::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}
