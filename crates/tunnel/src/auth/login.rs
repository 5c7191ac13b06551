//! One browser login against a Pomerium-compatible proxy (docs/protocol.md §3.2), done better than
//! pomerium-cli: the callback listens on 127.0.0.1 at an unguessable path (no other local page
//! can plant a token; [`super::callback`]), and the wait has a deadline with a message that says
//! what to do.

use std::sync::Arc;
use std::time::Duration;

use super::Token;
use super::browser::{Browser, BrowserError};
use super::callback::CallbackServer;

/// How long the login API may take to answer (as pomerium-cli's fetch).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a login failed. Each is a sentence a person can act on; the typed cause is its
/// [`std::error::Error::source`]. `Clone`, because every connection waiting for one login
/// shares its outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoginError {
    /// The proxy's login API could not be reached or refused.
    #[error("could not start a login at {base}: {source}")]
    Fetch {
        /// The login base URL.
        base: String,
        /// Why.
        #[source]
        source: FetchError,
    },
    /// The browser could not be opened.
    #[error("{0}")]
    Browser(#[from] BrowserError),
    /// Nobody finished the login in time.
    #[error("login not completed within {}; run the command again to get a new login URL (or use --no-browser and open it yourself)", humanize(*.0))]
    Timeout(Duration),
    /// The local callback could not listen.
    #[error("could not listen for the login callback on 127.0.0.1: {0}")]
    Callback(#[source] Arc<std::io::Error>),
}

/// Why the login API did not give a URL to open.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built (a TLS configuration it cannot use).
    #[error("{0}")]
    Client(#[source] Arc<reqwest::Error>),
    /// The login base is not a URL.
    #[error("{0}")]
    Url(#[from] url::ParseError),
    /// The request failed on the way (DNS, TLS, timeout); the text names every cause.
    #[error("{}", error_chain(.0))]
    Request(#[source] Arc<reqwest::Error>),
    /// The proxy answered with an error status.
    #[error("{}", format!("{status} {first_line}").trim())]
    Refused {
        /// The status, as `401 Unauthorized`.
        status: reqwest::StatusCode,
        /// The first line of the answer's body.
        first_line: String,
    },
    /// The answer is not a URL.
    #[error("the answer is not a URL")]
    NotAUrl,
}

impl LoginError {
    /// The facts of this failure, for a front end's own words.
    #[must_use]
    pub fn problem(&self) -> crate::cause::LoginProblem {
        use crate::cause::LoginProblem;
        match self {
            Self::Fetch { base, source } => {
                LoginProblem::Unreachable { base: base.clone(), detail: source.to_string() }
            }
            Self::Browser(_) => LoginProblem::NoBrowser,
            Self::Timeout(d) => LoginProblem::TimedOut { after_secs: d.as_secs() },
            Self::Callback(e) => LoginProblem::Callback { detail: e.to_string() },
        }
    }
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
    let callback = CallbackServer::bind().await.map_err(|e| LoginError::Callback(Arc::new(e)))?;
    let url = fetch_login_url(login_base, &callback.redirect_uri(), settings.tls.clone()).await?;
    on_url(&url);
    settings.browser.open(&url)?;
    wait_for_token(callback, settings.timeout).await
}

/// The token from `callback`, or [`LoginError::Timeout`] after `timeout`.
async fn wait_for_token(callback: CallbackServer, timeout: Duration) -> Result<Token, LoginError> {
    tokio::time::timeout(timeout, callback.token()).await.map_err(|_| LoginError::Timeout(timeout))
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
    fetch(base, redirect, tls).await.map_err(|source| LoginError::Fetch { base: base.to_owned(), source })
}

async fn fetch(base: &str, redirect: &str, tls: Option<Arc<rustls::ClientConfig>>) -> Result<String, FetchError> {
    let mut builder = reqwest::Client::builder().timeout(FETCH_TIMEOUT);
    if let Some(tls) = tls {
        builder = builder.use_preconfigured_tls((*tls).clone());
    }
    let client = builder.build().map_err(|e| FetchError::Client(Arc::new(e)))?;
    let mut url = url::Url::parse(base)?;
    url.set_path("/.pomerium/api/v1/login");
    url.query_pairs_mut().append_pair("pomerium_redirect_uri", redirect);
    let resp = client.get(url).send().await.map_err(|e| FetchError::Request(Arc::new(e)))?;
    let status = resp.status();
    // A body that breaks off is a failed request too (reqwest says why).
    let body = resp.text().await.map_err(|e| FetchError::Client(Arc::new(e)))?;
    if !status.is_success() {
        let first_line = body.lines().next().unwrap_or("").trim().to_owned();
        return Err(FetchError::Refused { status, first_line });
    }
    // The body is the URL, used verbatim (as pomerium-cli), minus surrounding whitespace.
    let url = body.trim().to_owned();
    if url::Url::parse(&url).is_err() {
        return Err(FetchError::NotAUrl);
    }
    Ok(url)
}

fn error_chain(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadline on tokio's paused clock: five minutes pass in no time, and the sentence
    /// says what to do.
    #[tokio::test(start_paused = true)]
    async fn a_login_nobody_finishes_ends_at_its_deadline() {
        let callback = CallbackServer::bind().await.expect("a loopback port");
        let started = tokio::time::Instant::now();
        let e = wait_for_token(callback, Duration::from_secs(300)).await.expect_err("nobody comes back");
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(300),
            "the wait ends at its deadline, not before or long after"
        );
        assert_eq!(
            e.to_string(),
            "login not completed within 5 min; run the command again to get a new login URL (or use --no-browser and open it yourself)"
        );
        assert!(
            LoginError::Timeout(Duration::from_secs(90)).to_string().starts_with("login not completed within 90 s;")
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_its_typed_cause() {
        let e = fetch_login_url("not a url", "http://127.0.0.1:1/x", None).await.expect_err("no URL");
        assert!(e.to_string().starts_with("could not start a login at not a url: "), "{e}");
        let cause = std::error::Error::source(&e).expect("a typed cause");
        assert!(matches!(cause.downcast_ref::<FetchError>(), Some(FetchError::Url(_))), "{cause:?}");
    }
}
