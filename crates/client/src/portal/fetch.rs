//! Reading `/.pomerium/api/v1/routes` as pomerium-cli does (`Authorization: Bearer
//! Pomerium-<token>`): with the stored token for that proxy, else after a browser login; a 401
//! or a redirect to sign-in means "log in again", once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, Token};
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::target;
use tokio::sync::broadcast;

use super::{PortalRoute, PortalSource};
use crate::error::{AppError, ErrorCode};
use crate::tunnel_options::{PemSource, TunnelOptions};

/// The portal's JSON endpoint.
pub const ROUTES_PATH: &str = "/.pomerium/api/v1/routes";
/// How long the portal may take to answer.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read (a portal of thousands of routes is far below it).
pub const MAX_BODY: usize = 4 << 20;
/// The most routes taken from one answer.
pub const MAX_ROUTES: usize = 10_000;

/// How a login for the portal is done.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// How the login URL is opened.
    pub browser: Browser,
    /// How long a login may take.
    pub login_timeout: Duration,
    /// The certificate store directory (unused unless a client certificate is configured).
    pub cert_store_dir: PathBuf,
}

/// The routes a server listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteList {
    /// The server as connections save it (`https://host[:port]`).
    pub server: String,
    /// The token key for it (`https://host:port`).
    pub origin: String,
    /// Its routes, in the portal's order.
    pub routes: Vec<PortalRoute>,
}

/// `https://` in front of a URL typed without a scheme.
pub fn normalize_url(url: &str) -> String {
    let url = url.trim();
    if url.contains("://") { url.to_owned() } else { format!("https://{url}") }
}

/// Fetches the routes `source` lists for the signed-in user, logging in through `auth` when
/// needed (the login's progress goes to `events`).
///
/// # Errors
/// `invalid` for a URL that is not one; `io` for an unreadable CA file; `proxy` when the
/// server cannot be reached or its TLS fails; `auth` when the login fails or the token is
/// refused after it; `denied`, `no_route` (no portal there) or `status` for other answers.
pub async fn fetch_routes(
    source: &PortalSource,
    auth: &Authenticator,
    settings: &FetchSettings,
    events: &broadcast::Sender<TunnelEvent>,
) -> Result<RouteList, AppError> {
    let url = normalize_url(&source.pomerium_url);
    if url == "https://" {
        return Err(AppError::new(ErrorCode::Invalid, "enter the Pomerium URL (e.g. https://pomerium.example.com)"));
    }
    let target = target::parse("portal.invalid:443", Some(&url))
        .map_err(|e| AppError::new(ErrorCode::Invalid, e.to_string()))?;
    let options = TunnelOptions {
        pomerium_url: Some(url.clone()),
        disable_tls_verification: source.disable_tls_verification,
        ca: source
            .ca_file
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| PemSource::File { path: f.into(), flag: None }),
        cert_store_dir: settings.cert_store_dir.clone(),
        browser: settings.browser.clone(),
        login_timeout: settings.login_timeout,
        ..TunnelOptions::new("portal.invalid:443")
    };
    let login: LoginSettings = options.build()?.login;
    let (origin, base) = (target.proxy.origin(), target.proxy.login_base());
    let client = http_client(login.tls.clone())?;
    let routes_url = format!("{base}{ROUTES_PATH}");

    let mut stale = None;
    for attempt in 0..2 {
        let token = match auth.current(&origin).await.filter(|t| Some(t) != stale.as_ref()) {
            Some(t) => t,
            None => auth
                .login(&origin, &base, stale.as_ref(), &login, events)
                .await
                .map_err(|e| AppError::new(ErrorCode::Auth, e.to_string()))?,
        };
        match get(&client, &routes_url, &token).await? {
            Answer::Routes(routes) => return Ok(RouteList { server: base, origin, routes }),
            Answer::LoginNeeded if attempt == 0 => stale = Some(token),
            Answer::LoginNeeded => {
                auth.forget(&origin).await;
                return Err(AppError::new(
                    ErrorCode::Auth,
                    format!("{base} refused the session even right after a login; sign out and try again"),
                ));
            }
        }
    }
    unreachable!("the loop returns on its second pass")
}

fn http_client(tls: Option<Arc<rustls::ClientConfig>>) -> Result<reqwest::Client, AppError> {
    let mut builder = reqwest::Client::builder().timeout(FETCH_TIMEOUT).redirect(reqwest::redirect::Policy::none());
    if let Some(tls) = tls {
        builder = builder.use_preconfigured_tls((*tls).clone());
    }
    builder.build().map_err(|e| AppError::new(ErrorCode::Proxy, format!("could not set up HTTPS: {}", chain(&e))))
}

enum Answer {
    Routes(Vec<PortalRoute>),
    LoginNeeded,
}

#[derive(serde::Deserialize)]
struct Body {
    #[serde(default)]
    routes: Vec<PortalRoute>,
}

async fn get(client: &reqwest::Client, url: &str, token: &Token) -> Result<Answer, AppError> {
    let mut resp = client
        .get(url)
        .header("Accept", "application/json")
        .header("Authorization", format!("Bearer Pomerium-{}", token.expose()))
        .send()
        .await
        .map_err(|e| AppError::new(ErrorCode::Proxy, format!("could not reach {url}: {}", chain(&e))))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status.is_redirection() {
        return Ok(Answer::LoginNeeded);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| AppError::new(ErrorCode::Proxy, format!("reading {url} failed: {}", chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(AppError::new(ErrorCode::Status, format!("{url} answered more than {} MiB", MAX_BODY >> 20)));
        }
        body.extend_from_slice(&chunk);
    }
    let code = match status.as_u16() {
        200..=299 => None,
        403 => Some((ErrorCode::Denied, "you may not list this server's routes")),
        404 => Some((ErrorCode::NoRoute, "there is no routes portal there; is this a Pomerium URL?")),
        _ => Some((ErrorCode::Status, "the routes portal failed")),
    };
    if let Some((code, what)) = code {
        return Err(AppError::new(code, format!("{url} answered {status}: {what}")));
    }
    let parsed: Body = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(ErrorCode::Status, format!("{url} did not answer with the routes portal's JSON ({e})"))
    })?;
    let mut routes = parsed.routes;
    routes.truncate(MAX_ROUTES);
    Ok(Answer::Routes(routes))
}

/// An error and its causes, joined with `: ` (reqwest hides the TLS reason in a cause).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_scheme_is_https() {
        assert_eq!(normalize_url(" pomerium.example.com "), "https://pomerium.example.com");
        assert_eq!(normalize_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
