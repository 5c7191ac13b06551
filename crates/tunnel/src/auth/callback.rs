//! The login callback: a small HTTP/1.1 server (hyper) on 127.0.0.1 that waits for the browser
//! to come back to an unguessable path with `pomerium_jwt`. Connections are served at the same
//! time, each with a deadline for its request head and a cap on its size, so a local process
//! that opens a connection and sends nothing (or half a request) cannot hold up the real one.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::RngCore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::Token;

/// How long one callback connection may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head a callback connection may send (a browser's is a few KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Callback connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;
/// The most header lines in one request head.
const MAX_HEADERS: usize = 64;

/// The listening callback: `http://127.0.0.1:<port>/callback/<32 hex digits>`.
#[derive(Debug)]
pub struct CallbackServer {
    listener: TcpListener,
    path: String,
    port: u16,
}

impl CallbackServer {
    /// Listens on a random loopback port with a fresh secret path.
    ///
    /// # Errors
    /// The bind error, when no loopback port can be had.
    pub async fn bind() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        Ok(Self { listener, path: secret_path(), port })
    }

    /// Where the proxy sends the browser back to (`pomerium_redirect_uri`).
    #[must_use]
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Serves callback connections until one carries a token on the secret path (it gets the
    /// "login complete" page; every other request gets a 404). Has no deadline of its own: the
    /// caller puts one around it.
    ///
    /// # Cancel safety
    /// Dropping the future closes the listener and every callback connection.
    pub async fn token(self) -> Token {
        let (found, mut tokens) = mpsc::channel::<Token>(1);
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let path: Arc<str> = self.path.into();
        let mut connections = JoinSet::new();
        loop {
            let permit = tokio::select! {
                biased;
                Some(token) = tokens.recv() => return token,
                p = limit.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            };
            let stream = tokio::select! {
                biased;
                Some(token) = tokens.recv() => return token,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        tracing::debug!(error = %e, "login callback: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            while connections.try_join_next().is_some() {}
            connections.spawn(serve(stream, path.clone(), found.clone(), permit));
        }
    }
}

/// Serves one connection: one request, then close.
async fn serve(stream: TcpStream, path: Arc<str>, found: mpsc::Sender<Token>, _permit: OwnedSemaphorePermit) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let answer = match callback_token(target, &path) {
            Some(token) => {
                // The first token wins; a second one while it is being taken is not needed.
                let _ = found.try_send(token);
                page(StatusCode::OK, "login complete, you may close this page\n")
            }
            None => page(StatusCode::NOT_FOUND, "not found\n"),
        };
        async move { Ok::<_, Infallible>(answer) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES + 8 * 1024)
        .max_headers(MAX_HEADERS)
        .title_case_headers(true)
        .keep_alive(false);
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(error = %e, "login callback connection ended with an error");
    }
}

/// A small plain-text page that closes the connection.
fn page(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A random path only this process knows: `/callback/<32 hex digits>`.
fn secret_path() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("/callback/{hex}")
}

/// The token in a request target (`/path?query`) when it goes to `path` (the secret path) with a
/// usable `pomerium_jwt`.
fn callback_token(target: &str, path: &str) -> Option<Token> {
    let (req_path, query) = target.split_once('?').unwrap_or((target, ""));
    (req_path == path)
        .then(|| {
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "pomerium_jwt").map(|(_, v)| v.into_owned())
        })
        .flatten()
        .map(Token::new)
        // A JWT is printable ASCII without spaces; anything else would end up in the
        // `Authorization` line of every CONNECT (a line break injects a header: found by fuzzing).
        .filter(|t| !t.expose().is_empty() && t.expose().bytes().all(|b| b.is_ascii_graphic()))
}

/// A callback request's head, read by [`parse_callback`].
#[derive(Debug, PartialEq, Eq)]
pub struct Callback {
    /// The `pomerium_jwt` query value when the request went to the secret path and carried a
    /// non-empty one of printable ASCII without spaces (what a JWT is made of).
    pub token: Option<Token>,
}

/// Reads one callback request head (`head` ends with its blank line) with the rule the server
/// applies: the token when the request targets `path` with a usable `pomerium_jwt`; `None` when
/// the head is not an HTTP request. Public for the fuzz target `login_callback`.
pub fn parse_callback(head: &[u8], path: &str) -> Option<Callback> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let target = match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => req.path.unwrap_or("/"),
        _ => return None,
    };
    Some(Callback { token: callback_token(target, path) })
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
