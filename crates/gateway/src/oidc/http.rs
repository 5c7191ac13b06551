//! The gateway's HTTP client for the identity provider: one HTTP/1.1 request per connection,
//! on hyper over a tokio `TcpStream`, with TLS from [`porthole_io::tls::connect`] for `https`.
//!
//! It is what `openidconnect` calls (it implements [`AsyncHttpClient`]) for the discovery
//! document, the key set (JWKS) and the code exchange, and nothing else. So it does only what
//! those need: no redirect is followed (a `302` goes back to `openidconnect` as it came), the
//! whole exchange (DNS, connect, TLS, request, body) has one deadline ([`TIMEOUT`]), and a
//! body larger than [`MAX_BODY`] is refused. It trusts the web's public roots (webpki-roots)
//! and no others: the config has no setting for a private CA. Its errors keep their causes as
//! [`std::error::Error::source`], so [`super::error`] can name the innermost one
//! (`connection refused`).

use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri, Version};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper_util::rt::TokioIo;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// One request, from name lookup to the last byte of the body, may take this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body accepted: discovery documents and key sets are a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a request to the identity provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL has no host, or a scheme other than `http` and `https`.
    #[error("{0} is not an http:// or https:// URL with a host")]
    BadUrl(String),
    /// The request could not be put together (a header value that is not valid).
    #[error("cannot build the request")]
    Request(#[source] http::Error),
    /// The host name did not resolve.
    #[error("cannot resolve {host}")]
    Resolve {
        /// The name looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection (the error is the last address's).
    #[error("cannot connect to {addr}")]
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why it failed, e.g. connection refused.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed (e.g. a certificate no trusted root signed).
    #[error("TLS handshake with {host} failed")]
    Tls {
        /// The server name verified.
        host: String,
        /// rustls' verdict, inside an I/O error.
        #[source]
        source: io::Error,
    },
    /// The HTTP exchange failed (connection closed, malformed response).
    #[error("the HTTP exchange failed")]
    Http(#[source] hyper::Error),
    /// The body could not be read.
    #[error("cannot read the response body")]
    Body(#[source] Box<dyn StdError + Send + Sync>),
    /// The body is larger than the cap.
    #[error("the answer is larger than {} KiB, far more than a discovery document or key set", .0 / 1024)]
    TooLarge(usize),
    /// No complete answer within the deadline.
    #[error("no answer within {} s", .0.as_secs())]
    TimedOut(Duration),
}

/// An HTTP client for the identity provider; cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client that trusts the web's public roots (webpki-roots).
    ///
    /// # Errors
    /// If rustls refuses the TLS settings (never with the ring provider).
    pub fn new() -> Result<Self, rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::with_roots(roots)
    }

    /// A client that trusts exactly `roots` (tests pass their own CA).
    ///
    /// # Errors
    /// As [`HttpClient::new`].
    pub fn with_roots(roots: rustls::RootCertStore) -> Result<Self, rustls::Error> {
        let mut tls = rustls::ClientConfig::builder_with_provider(porthole_io::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self { tls: Arc::new(tls) })
    }

    /// Sends `request` and returns the response as it came, redirects included.
    ///
    /// # Errors
    /// An [`HttpError`]; [`HttpError::TimedOut`] after the deadline.
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        match tokio::time::timeout(TIMEOUT, self.send_unbounded(request)).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::TimedOut(TIMEOUT)),
        }
    }

    async fn send_unbounded(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (mut parts, body) = request.into_parts();
        let url = parts.uri.clone();
        let bad_url = || HttpError::BadUrl(url.to_string());
        let https = match url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad_url()),
        };
        let host = url.host().filter(|h| !h.is_empty()).ok_or_else(bad_url)?;
        let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
        // HTTP/1.1 to an origin server: the path in the request line, the authority in `Host`.
        let path = url.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(path).map_err(|e| HttpError::Request(e.into()))?;
        parts.version = Version::HTTP_11;
        let authority = match url.port_u16() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let host_header = HeaderValue::try_from(authority).map_err(|e| HttpError::Request(e.into()))?;
        parts.headers.insert(HOST, host_header);
        let request = Request::from_parts(parts, Full::new(Bytes::from(body)));

        // `[::1]` in a URL is `::1` to the resolver and to rustls.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let tcp = connect(bare, port).await?;
        if https {
            let name = ServerName::try_from(bare.to_owned()).map_err(|_| bad_url())?;
            let tls = porthole_io::tls::connect(self.tls.clone(), name, tcp)
                .await
                .map_err(|source| HttpError::Tls { host: bare.to_owned(), source })?;
            exchange(tls, request).await
        } else {
            exchange(tcp, request).await
        }
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A TCP connection to the first address of `host` that accepts one (IPv4 or IPv6, in the
/// resolver's order).
async fn connect(host: &str, port: u16) -> Result<TcpStream, HttpError> {
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| HttpError::Resolve { host: host.to_owned(), source })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Err(source) => last = Some(HttpError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| HttpError::Resolve {
        host: host.to_owned(),
        source: io::Error::new(io::ErrorKind::NotFound, "the name has no addresses"),
    }))
}

/// Sends `request` on `io` and reads the response, its body capped at [`MAX_BODY`] bytes.
async fn exchange<S>(io: S, request: Request<Full<Bytes>>) -> Result<HttpResponse, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(HttpError::Http)?;
    // The connection is driven here, not in a spawned task: it ends with this exchange.
    // Its errors reach `send_request` or the body; nothing is left to report once it ends.
    let drive = async move {
        let _ = conn.await;
        std::future::pending::<Infallible>().await
    };
    let talk = async {
        let response = sender.send_request(request).await.map_err(HttpError::Http)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| if e.is::<LengthLimitError>() { HttpError::TooLarge(MAX_BODY) } else { HttpError::Body(e) })?;
        Ok(Response::from_parts(parts, body.to_bytes().to_vec()))
    };
    tokio::select! {
        result = talk => result,
        never = drive => match never {},
    }
}

#[cfg(test)]
mod tests;
