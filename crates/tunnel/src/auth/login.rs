//! One browser login against a Pomerium-compatible proxy (docs/protocol.md §3.2), done better than
//! pomerium-cli: the callback listens on 127.0.0.1 at an unguessable path (no other local page
//! can plant a token), and the wait has a deadline with a message that says what to do.

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::Token;
use super::browser::Browser;

/// How long the login API may take to answer (as pomerium-cli's fetch).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a login failed. Each is a sentence a person can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    /// The proxy's login API could not be reached or refused.
    #[error("could not start a login at {base}: {reason}")]
    Fetch {
        /// The login base URL.
        base: String,
        /// Why.
        reason: String,
    },
    /// The browser could not be opened.
    #[error("{0}")]
    Browser(String),
    /// Nobody finished the login in time.
    #[error("login not completed within {}; run the command again to get a new login URL (or use --no-browser and open it yourself)", humanize(*.0))]
    Timeout(Duration),
    /// The local callback could not listen.
    #[error("could not listen for the login callback on 127.0.0.1: {0}")]
    Callback(String),
    /// The login result could not be stored.
    #[error("could not store the token: {0}")]
    Store(String),
    /// The tunnel is shutting down.
    #[error("cancelled")]
    Cancelled,
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) { format!("{} min", s / 60) } else { format!("{s} s") }
}

/// What a login needs: where, over which TLS, how to show the URL, and how long to wait.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// TLS for the login API fetch (the same as the tunnel's, client certificate included).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// How to open the URL.
    pub browser: Browser,
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
}

/// A random path only this process knows: `/callback/<32 hex digits>`.
fn secret_path() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("/callback/{hex}")
}

/// Runs the browser login for the proxy at `login_base` (e.g. `https://proxy.example.com`).
/// `on_url` is called with the URL to open before the browser is launched (so a front end can
/// show it even when launching fails).
///
/// # Errors
/// [`LoginError`] with what to do about it.
///
/// # Cancel safety
/// Dropping the future closes the callback listener; a late browser gets "connection refused".
pub async fn browser_login(
    login_base: &str,
    settings: &LoginSettings,
    on_url: impl FnOnce(&str),
) -> Result<Token, LoginError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| LoginError::Callback(e.to_string()))?;
    let port = listener.local_addr().map_err(|e| LoginError::Callback(e.to_string()))?.port();
    let path = secret_path();
    let redirect = format!("http://127.0.0.1:{port}{path}");
    let url = fetch_login_url(login_base, &redirect, settings.tls.clone()).await?;
    on_url(&url);
    settings.browser.open(&url).map_err(LoginError::Browser)?;
    tokio::time::timeout(settings.timeout, wait_for_token(&listener, &path))
        .await
        .map_err(|_| LoginError::Timeout(settings.timeout))
}

/// `GET <base>/.pomerium/api/v1/login?pomerium_redirect_uri=<redirect>` → the URL to open.
///
/// # Errors
/// [`LoginError::Fetch`] for network errors and non-2xx answers.
pub async fn fetch_login_url(
    base: &str,
    redirect: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<String, LoginError> {
    let fail = |reason: String| LoginError::Fetch { base: base.to_owned(), reason };
    let mut builder = reqwest::Client::builder().timeout(FETCH_TIMEOUT);
    if let Some(tls) = tls {
        builder = builder.use_preconfigured_tls((*tls).clone());
    }
    let client = builder.build().map_err(|e| fail(e.to_string()))?;
    let mut url = url::Url::parse(base).map_err(|e| fail(e.to_string()))?;
    url.set_path("/.pomerium/api/v1/login");
    url.query_pairs_mut().append_pair("pomerium_redirect_uri", redirect);
    let resp = client.get(url).send().await.map_err(|e| fail(error_chain(&e)))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| fail(e.to_string()))?;
    if !status.is_success() {
        let first = body.lines().next().unwrap_or("").trim();
        return Err(fail(format!("{status} {first}").trim().to_owned()));
    }
    // The body is the URL, used verbatim (as pomerium-cli), minus surrounding whitespace.
    let url = body.trim().to_owned();
    if url::Url::parse(&url).is_err() {
        return Err(fail("the answer is not a URL".into()));
    }
    Ok(url)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Serves the callback until a request to `path` carries `pomerium_jwt`.
async fn wait_for_token(listener: &TcpListener, path: &str) -> Token {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 2048];
        let head_end = loop {
            match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break None,
            }
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break Some(p);
            }
            if buf.len() > 64 * 1024 {
                break None;
            }
        };
        let Some(head_end) = head_end else { continue };
        let Some(callback) = parse_callback(&buf[..head_end + 4], path) else { continue };
        let token = callback.token;
        let (status, body) = match &token {
            Some(_) => ("200 OK", "login complete, you may close this page\n"),
            None => ("404 Not Found", "not found\n"),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(t) = token {
            return t;
        }
    }
}

/// A callback request's head, read by [`parse_callback`].
#[derive(Debug, PartialEq, Eq)]
pub struct Callback {
    /// The `pomerium_jwt` query value when the request went to the secret path and carried a
    /// non-empty one of printable ASCII without spaces (what a JWT is made of).
    pub token: Option<Token>,
}

/// Reads one callback request head (`head` ends with its blank line): the token when the
/// request targets `path` (the secret path) with a non-empty `pomerium_jwt`; `None` when the
/// head is not an HTTP request. Public for the fuzz target `login_callback`.
pub fn parse_callback(head: &[u8], path: &str) -> Option<Callback> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    let target = match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => req.path.unwrap_or("/"),
        _ => return None,
    };
    let (req_path, query) = target.split_once('?').unwrap_or((target, ""));
    let token = (req_path == path)
        .then(|| {
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "pomerium_jwt").map(|(_, v)| v.into_owned())
        })
        .flatten()
        .map(Token::new)
        // A JWT is printable ASCII without spaces; anything else would end up in the
        // `Authorization` line of every CONNECT (a line break injects a header: found by fuzzing).
        .filter(|t| !t.expose().is_empty() && t.expose().bytes().all(|b| b.is_ascii_graphic()));
    Some(Callback { token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn callback_only_accepts_the_secret_path() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let path = secret_path();
        let waiter = tokio::spawn(async move { wait_for_token(&listener, &path).await });
        let send = |target: String| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let planted = send("/?pomerium_jwt=planted".into()).await;
        assert!(planted.starts_with("HTTP/1.1 404"), "a token on a guessable path is refused: {planted}");
        assert!(!waiter.is_finished(), "and not taken");
        drop(waiter);
    }

    #[test]
    fn a_callback_token_with_line_breaks_or_spaces_is_refused() {
        // Found by the `login_callback` fuzz target: `%0D%0A` in `pomerium_jwt` decoded into
        // the token, and the next CONNECT request carried an injected header line.
        let path = "/callback/00";
        let head = |q: &str| format!("GET {path}?pomerium_jwt={q} HTTP/1.1\r\nHost: x\r\n\r\n");
        for bad in ["a.b.c%0D%0AX-Evil:%201", "a.b%0Ac", "a+b", "a.b.c%00", "a.b.%C3%A9"] {
            let got = parse_callback(head(bad).as_bytes(), path).expect("an HTTP request");
            assert_eq!(got.token, None, "{bad:?} is not a token");
        }
        let good = parse_callback(head("eyJh.eyJz-_.c2l").as_bytes(), path).expect("an HTTP request");
        assert_eq!(good.token, Some(Token::new("eyJh.eyJz-_.c2l")), "a JWT's characters pass");
    }

    #[test]
    fn secret_paths_differ() {
        assert_ne!(secret_path(), secret_path());
        assert_eq!(secret_path().len(), "/callback/".len() + 32);
    }
}
