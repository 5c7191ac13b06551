//! Logging in without a browser: an HTTP client that walks the same redirects a browser would.
//!
//! It starts at the URL the gateway's login API returns, follows each 3xx by hand (cookies
//! kept), submits the IdP's login form, and stops at the first `Location` that the caller's
//! [`Stop`] condition accepts, without contacting it. For a gateway login that is the loopback
//! redirect carrying `pomerium_jwt`.

use std::time::Duration;

use anyhow::Context as _;
use reqwest::header::LOCATION;
use url::Url;

use crate::form::LoginForm;

/// At most this many requests per walk (redirects plus form posts).
pub const MAX_STEPS: usize = 25;

/// The timeout of each request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a walk stops: a predicate on each redirect target, before it is requested.
pub type Stop<'a> = &'a (dyn Fn(&Url) -> bool + Send + Sync);

/// An HTTP client with a cookie store that never follows redirects on its own.
#[derive(Debug, Clone)]
pub struct LoginClient {
    http: reqwest::Client,
}

impl LoginClient {
    /// Builds a client that trusts `ca_pem` (the gateway's test CA), or, with `None`, accepts
    /// any certificate.
    ///
    /// # Errors
    /// When `ca_pem` is not a PEM certificate or the TLS setup fails.
    pub fn new(ca_pem: Option<&str>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .no_proxy();
        builder = match ca_pem {
            Some(pem) => builder
                .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).context("the CA is not PEM")?),
            None => builder.danger_accept_invalid_certs(true),
        };
        Ok(Self { http: builder.build().context("while building the login HTTP client")? })
    }

    /// The underlying `reqwest` client (shares the cookie store).
    #[must_use]
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Walks from `start` through redirects and the login form until a `Location` satisfies
    /// `stop`, and returns that location (which is not requested).
    ///
    /// # Errors
    /// When a request fails, a page is neither a redirect nor a login form, the credentials are
    /// refused (the login form comes back), or [`MAX_STEPS`] is exceeded. Each error names the
    /// URL, the status and the start of the body.
    pub async fn walk(&self, start: &str, email: &str, password: &str, stop: Stop<'_>) -> anyhow::Result<Url> {
        let mut url = Url::parse(start).with_context(|| format!("the login URL {start:?} is not a URL"))?;
        let mut post: Option<Vec<(String, String)>> = None;
        let mut forms_sent = 0;
        for _ in 0..MAX_STEPS {
            let request = match post.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let response = request.send().await.with_context(|| format!("while requesting {url}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .with_context(|| format!("{status} from {url} without a usable Location"))?;
                let next = url.join(location).with_context(|| format!("bad Location {location:?} from {url}"))?;
                if stop(&next) {
                    return Ok(next);
                }
                url = next;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            if !status.is_success() {
                anyhow::bail!("{status} from {url}: {}", excerpt(&body));
            }
            let form = LoginForm::find(&body).with_context(|| {
                format!("{status} from {url} is neither a redirect nor a login form: {}", excerpt(&body))
            })?;
            forms_sent += 1;
            anyhow::ensure!(
                forms_sent <= 2,
                "the login form at {url} came back after submitting it: wrong email or password? {}",
                excerpt(&body)
            );
            let action =
                url.join(&form.action).with_context(|| format!("bad form action {:?} at {url}", form.action))?;
            post = Some(form.fill(email, password));
            url = action;
        }
        anyhow::bail!("no stop after {MAX_STEPS} steps; last URL {url}")
    }

    /// Walks a gateway login URL (from [`fetch_login_url`]) to the loopback redirect and returns
    /// its `pomerium_jwt`.
    ///
    /// # Errors
    /// As [`LoginClient::walk`], and when the loopback redirect carries no `pomerium_jwt`.
    pub async fn login(&self, login_url: &str, email: &str, password: &str) -> anyhow::Result<String> {
        // The IdP may be on loopback http too: stop only where the token is handed over.
        let stop = |u: &Url| is_loopback_http(u) && jwt_from_redirect(u).is_some();
        let last = self.walk(login_url, email, password, &stop).await?;
        jwt_from_redirect(&last).with_context(|| format!("the final redirect {last} has no pomerium_jwt"))
    }

    /// `GET <gateway_base>/.pomerium/api/v1/login?pomerium_redirect_uri=<redirect_uri>` and
    /// returns the text/plain body verbatim: the URL to open in a browser.
    ///
    /// # Errors
    /// When the request fails or the status is not 2xx (the error has the status and body).
    pub async fn fetch_login_url(&self, gateway_base: &str, redirect_uri: &str) -> anyhow::Result<String> {
        let mut url = Url::parse(gateway_base)
            .with_context(|| format!("the gateway base {gateway_base:?} is not a URL"))?
            .join("/.pomerium/api/v1/login")?;
        url.query_pairs_mut().append_pair("pomerium_redirect_uri", redirect_uri);
        let response = self.http.get(url.clone()).send().await.with_context(|| format!("while requesting {url}"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "{status} from {url}: {}", excerpt(&body));
        Ok(body)
    }
}

/// Logs in through a gateway login URL without a browser (any gateway certificate accepted)
/// and returns the `pomerium_jwt` of the final loopback redirect.
///
/// # Errors
/// As [`LoginClient::login`].
pub async fn login_without_browser(login_url: &str, email: &str, password: &str) -> anyhow::Result<String> {
    LoginClient::new(None)?.login(login_url, email, password).await
}

/// Asks the gateway for a login URL bound to `redirect_uri`; trusts `ca_pem` if given, else any
/// certificate.
///
/// # Errors
/// As [`LoginClient::fetch_login_url`].
pub async fn fetch_login_url(gateway_base: &str, redirect_uri: &str, ca_pem: Option<&str>) -> anyhow::Result<String> {
    LoginClient::new(ca_pem)?.fetch_login_url(gateway_base, redirect_uri).await
}

/// Whether `url` is `http://127.0.0.1…` or `http://localhost…` (the CLI's callback listener).
#[must_use]
pub fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
}

/// The `pomerium_jwt` query parameter of `url`, if any.
#[must_use]
pub fn jwt_from_redirect(url: &Url) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == "pomerium_jwt").map(|(_, v)| v.into_owned()).filter(|v| !v.is_empty())
}

/// The first 300 characters of a body, on one line, for error messages.
#[must_use]
pub fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}
