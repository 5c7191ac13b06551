//! Login: the API a client calls for a login URL, the sign-in hop that starts OpenID Connect
//! (authorization code + PKCE) at the identity provider, and the callback that turns the
//! provider's answer into a session token handed to the client's loopback redirect.
//!
//! Nothing is kept in memory between the hops: the sign-in URL carries an HMAC over its
//! redirect target, and the PKCE verifier, nonce and state ride in a sealed cookie, so any
//! replica that shares `signing_key` can serve any hop.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use hmac::Mac;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::{CancellationToken, DropGuard};
use url::Url;

use crate::config::IdpConfig;
use crate::oidc::http::HttpClient;
use crate::oidc::{self, IdpError, Provider};
use crate::reply::{self, Body};
use crate::seal::Sealer;
use crate::token::{TokenKeys, derive_key, unix_now};

/// How long a sign-in URL and its login cookie stay valid.
const LOGIN_TTL_SECS: u64 = 600;
/// Prefix of the login-state cookie; the rest of the name is the state's first characters,
/// so two logins in one browser do not overwrite each other.
const COOKIE_PREFIX: &str = "_porthole_login_";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A client for the provider's authorization and token endpoints.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Login state carried in the sealed cookie between sign-in and callback.
#[derive(Serialize, Deserialize)]
struct LoginState {
    /// Where the token goes (a loopback URL).
    redirect: String,
    /// PKCE verifier.
    verifier: String,
    /// OpenID Connect nonce.
    nonce: String,
    /// OAuth `state`.
    state: String,
    /// Unix time after which the state is refused.
    exp: u64,
}

/// The login endpoints of one gateway.
pub struct Login {
    idp: Option<IdpConfig>,
    /// `<authenticate_service_url>` without a trailing slash.
    auth_base: Url,
    http: HttpClient,
    /// Discovery and keys of `idp`, kept fresh.
    provider: Option<Arc<Provider>>,
    /// Stops the provider's background refresh when the login endpoints go away.
    _refresher: Option<DropGuard>,
    sealer: Sealer,
    url_key: [u8; 32],
    keys: Arc<TokenKeys>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("auth_base", &self.auth_base.as_str()).finish_non_exhaustive()
    }
}

/// `true` if `uri` is an `http(s)` URL on a loopback host (`localhost`, 127.0.0.0/8, `::1`):
/// the only places a token may be sent.
pub fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else { return false };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl Login {
    /// Login endpoints that send the browser back to `auth_base` (`/oauth2/callback`).
    ///
    /// Called inside a tokio runtime, it starts fetching the provider's discovery document and
    /// keys in the background and keeps them fresh ([`crate::oidc`]) until it is dropped; a
    /// provider that is down does not stop the gateway from starting.
    ///
    /// # Errors
    /// If the HTTP client for the identity provider cannot be built (rustls refuses its TLS
    /// settings).
    pub fn new(idp: Option<IdpConfig>, auth_base: Url, keys: Arc<TokenKeys>) -> Result<Self, rustls::Error> {
        let http = HttpClient::new()?;
        let sealer = Sealer::new(&derive_key(keys.seed(), "login-cookie"));
        let url_key = derive_key(keys.seed(), "sign-in-url");
        let provider = idp.as_ref().map(|i| Arc::new(Provider::new(i.issuer(), http.clone())));
        let refresher = match (&provider, tokio::runtime::Handle::try_current()) {
            (Some(p), Ok(runtime)) => {
                let stop = CancellationToken::new();
                runtime.spawn(p.clone().keep_fresh(stop.clone()));
                Some(stop.drop_guard())
            }
            _ => None,
        };
        Ok(Self { idp, auth_base, http, provider, _refresher: refresher, sealer, url_key, keys })
    }

    fn auth_url(&self, path: &str) -> String {
        format!("{}{}", self.auth_base.as_str().trim_end_matches('/'), path)
    }

    /// The sign-in URL a no-token CONNECT is redirected to.
    pub fn sign_in_location(&self) -> String {
        self.auth_url("/.pomerium/sign_in")
    }

    fn sign(&self, redirect: &str, exp: u64, prompt: Option<&str>) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.url_key) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(signed_text(redirect, exp, prompt).as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn verify_sig(&self, redirect: &str, exp: u64, prompt: Option<&str>, sig: &str) -> bool {
        let Ok(sig) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else { return false };
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.url_key) else { return false };
        mac.update(signed_text(redirect, exp, prompt).as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    /// `GET /.pomerium/api/v1/login?pomerium_redirect_uri=…`: 200 `text/plain` with the URL to
    /// open in a browser.
    ///
    /// Answers as Pomerium's proxy (`proxy/handlers.go`): without the parameter, Go's plain
    /// `404 Not Found`; with a redirect that is not a loopback URL, 400 as Pomerium's error
    /// renderer writes it (`internal/httputil/errors.go`): `{"Status":400}` to a client that
    /// sends `Accept: application/json`, a sentence otherwise.
    pub fn api_login(&self, query: Option<&str>, headers: &HeaderMap) -> Response<Body> {
        let Some(redirect) = query_param(query, "pomerium_redirect_uri") else {
            return reply::go_error(StatusCode::NOT_FOUND);
        };
        if !is_loopback_redirect(&redirect) {
            let wants_json = headers.get(header::ACCEPT).is_some_and(|v| v.as_bytes() == b"application/json");
            let mut resp = if wants_json {
                reply::pomerium_json_error(StatusCode::BAD_REQUEST)
            } else {
                reply::text(
                    StatusCode::BAD_REQUEST,
                    "invalid redirect uri: only http(s) URLs on a loopback address (localhost, 127.0.0.1, ::1) are allowed",
                )
            };
            resp.headers_mut().insert("x-pomerium-intercepted-response", HeaderValue::from_static("true"));
            return resp;
        }
        let prompt = query_param(query, "prompt");
        if let Some(p) = &prompt
            && !FORWARDED_PROMPTS.contains(&p.as_str())
        {
            return reply::text(
                StatusCode::BAD_REQUEST,
                "invalid prompt: only login, select_account and consent are passed to the identity provider",
            );
        }
        if self.idp.is_none() {
            return reply::text(StatusCode::SERVICE_UNAVAILABLE, "this gateway has no identity provider configured");
        }
        let exp = unix_now() + LOGIN_TTL_SECS;
        let sig = self.sign(&redirect, exp, prompt.as_deref());
        let mut url = match Url::parse(&self.sign_in_location()) {
            Ok(u) => u,
            Err(_) => return reply::text(StatusCode::INTERNAL_SERVER_ERROR, "bad authenticate_service_url"),
        };
        url.query_pairs_mut()
            .append_pair("pomerium_redirect_uri", &redirect)
            .append_pair("pomerium_programmatic", "true")
            .append_pair("exp", &exp.to_string())
            .append_pair("sig", &sig);
        if let Some(p) = &prompt {
            url.query_pairs_mut().append_pair("prompt", p);
        }
        reply::exact_text(StatusCode::OK, url.to_string())
    }

    fn client(&self, idp: &IdpConfig, metadata: &CoreProviderMetadata) -> Result<Client, String> {
        let redirect = RedirectUrl::new(self.auth_url("/oauth2/callback")).map_err(|e| e.to_string())?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(idp.client_id.clone()),
            Some(ClientSecret::new(idp.client_secret.0.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The configured provider, its current metadata, and a client built from it.
    async fn current(&self) -> Result<(&IdpConfig, oidc::Snapshot, Client), String> {
        let (Some(idp), Some(provider)) = (&self.idp, &self.provider) else {
            return Err(IdpError::NotConfigured.to_string());
        };
        let snapshot = provider.get().await.map_err(|e| e.to_string())?;
        let client = self.client(idp, &snapshot.metadata)?;
        Ok((idp, snapshot, client))
    }

    /// `GET /.pomerium/sign_in?pomerium_redirect_uri=…&exp=…&sig=…`: set the sealed login
    /// cookie and send the browser to the identity provider.
    pub async fn sign_in(&self, query: Option<&str>) -> Response<Body> {
        let (Some(redirect), Some(exp), Some(sig)) = (
            query_param(query, "pomerium_redirect_uri"),
            query_param(query, "exp").and_then(|e| e.parse::<u64>().ok()),
            query_param(query, "sig"),
        ) else {
            return reply::text(
                StatusCode::BAD_REQUEST,
                "This page starts a login for Porthole or pomerium-cli. Connect with `porthole tcp <route>` and it will open the right URL.",
            );
        };
        // The prompt is signed with the rest: only what the login API let through reaches the IdP.
        let prompt = query_param(query, "prompt").filter(|p| FORWARDED_PROMPTS.contains(&p.as_str()));
        if !self.verify_sig(&redirect, exp, prompt.as_deref(), &sig) || !is_loopback_redirect(&redirect) {
            return reply::text(StatusCode::BAD_REQUEST, "this login link is not valid; start the login again");
        }
        if exp < unix_now() {
            return reply::text(StatusCode::BAD_REQUEST, "this login link has expired; start the login again");
        }
        let (idp, _, client) = match self.current().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "identity provider unavailable");
                return reply::text(StatusCode::BAD_GATEWAY, e);
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge);
        for scope in &idp.scopes {
            if scope != "openid" {
                req = req.add_scope(Scope::new(scope.clone()));
            }
        }
        match prompt.as_deref() {
            Some("login") => req = req.add_prompt(CoreAuthPrompt::Login),
            Some("select_account") => req = req.add_prompt(CoreAuthPrompt::SelectAccount),
            Some("consent") => req = req.add_prompt(CoreAuthPrompt::Consent),
            _ => {}
        }
        let (url, state, nonce) = req.url();
        let login = LoginState {
            redirect,
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            state: state.secret().clone(),
            exp: unix_now() + LOGIN_TTL_SECS,
        };
        let sealed = match serde_json::to_vec(&login) {
            Ok(v) => self.sealer.seal(&v),
            Err(_) => return reply::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode login state"),
        };
        let secure = if self.auth_base.scheme() == "https" { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE_PREFIX}{}={sealed}; Path=/; Max-Age={LOGIN_TTL_SECS}; HttpOnly; SameSite=Lax{secure}",
            cookie_suffix(state.secret())
        );
        let mut resp = reply::found(url.as_str());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        resp
    }

    /// `GET /oauth2/callback?code=…&state=…`: finish the login and hand the token to the
    /// client's loopback redirect.
    pub async fn callback(&self, query: Option<&str>, headers: &HeaderMap) -> Response<Body> {
        if let Some(err) = query_param(query, "error") {
            let desc = query_param(query, "error_description").unwrap_or_default();
            return reply::text(
                StatusCode::FORBIDDEN,
                format!("the identity provider refused the login: {err} {desc}"),
            );
        }
        let (Some(code), Some(state)) = (query_param(query, "code"), query_param(query, "state")) else {
            return reply::text(StatusCode::BAD_REQUEST, "missing code or state");
        };
        let cookie_name = format!("{COOKIE_PREFIX}{}", cookie_suffix(&state));
        let Some(login) = read_cookie(headers, &cookie_name)
            .and_then(|v| self.sealer.open(&v))
            .and_then(|v| serde_json::from_slice::<LoginState>(&v).ok())
        else {
            return reply::text(
                StatusCode::BAD_REQUEST,
                "no login in progress in this browser (the login cookie is missing or from another gateway); start the login again",
            );
        };
        if login.state != state || login.exp < unix_now() {
            return reply::text(
                StatusCode::BAD_REQUEST,
                "this login has expired or does not match; start the login again",
            );
        }
        let claims = match self.exchange(code, &login).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "login failed at the identity provider");
                return reply::text(StatusCode::BAD_GATEWAY, format!("login failed: {e}"));
            }
        };
        let token = match self.keys.issue(&claims) {
            Ok(t) => t,
            Err(_) => return reply::text(StatusCode::INTERNAL_SERVER_ERROR, "cannot sign the session token"),
        };
        tracing::info!(
            user = claims.get("sub").and_then(|v| v.as_str()).unwrap_or(""),
            email = claims.get("email").and_then(|v| v.as_str()).unwrap_or(""),
            "login complete"
        );
        let Ok(mut target) = Url::parse(&login.redirect) else {
            return reply::text(StatusCode::BAD_REQUEST, "bad redirect uri");
        };
        target.query_pairs_mut().append_pair("pomerium_jwt", &token);
        let mut resp = reply::found(target.as_str());
        let clear = format!("{cookie_name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
        if let Ok(v) = HeaderValue::from_str(&clear) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        resp
    }

    /// Exchanges the code (with the PKCE verifier), verifies the ID token (signature, issuer,
    /// audience, nonce) and returns all of its claims.
    ///
    /// When the signature does not verify (unknown `kid`, or a key the provider has since
    /// rotated), the provider's keys are fetched again (rate-limited, see [`crate::oidc`]) and
    /// the token is verified once more against them.
    async fn exchange(
        &self,
        code: String,
        login: &LoginState,
    ) -> Result<serde_json::Map<String, serde_json::Value>, String> {
        let (idp, snapshot, client) = self.current().await?;
        let token_url = snapshot.metadata.token_endpoint().map_or(idp.provider_url.as_str(), |u| u.as_str()).to_owned();
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(login.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| oidc::error::exchange(&token_url, &e).to_string())?;
        let id_token = response.id_token().ok_or("the identity provider returned no ID token")?;
        let nonce = Nonce::new(login.nonce.clone());
        if let Err(first) = id_token.claims(&client.id_token_verifier(), &nonce) {
            let retry = match (&first, &self.provider) {
                (ClaimsVerificationError::SignatureVerification(_), Some(p)) => {
                    p.refresh_after_key_miss(snapshot.generation).await
                }
                _ => None,
            };
            let Some(fresh) = retry else { return Err(oidc::error::id_token(&first).to_string()) };
            let client = self.client(idp, &fresh.metadata)?;
            id_token.claims(&client.id_token_verifier(), &nonce).map_err(|e| oidc::error::id_token(&e).to_string())?;
            tracing::info!(provider = %idp.provider_url, "ID token verified with the provider's refreshed keys");
        }
        // Verified above: read every claim (groups, custom claims) from its payload.
        let raw = id_token.to_string();
        let payload = raw.split('.').nth(1).ok_or("malformed ID token")?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| "malformed ID token")?;
        serde_json::from_slice(&bytes).map_err(|_| "malformed ID token".into())
    }
}

fn cookie_suffix(state: &str) -> String {
    state.chars().filter(char::is_ascii_alphanumeric).take(12).collect()
}

/// The OIDC `prompt` values the login API passes on to the identity provider ("log in as
/// someone else" sends `login` or `select_account`); any other value is refused.
pub const FORWARDED_PROMPTS: &[&str] = &["login", "select_account", "consent"];

/// What a login URL's signature covers: the redirect, the expiry and the prompt (when given;
/// without one the text is what it was before prompts, so older links stay valid).
fn signed_text(redirect: &str, exp: u64, prompt: Option<&str>) -> String {
    match prompt {
        Some(p) => format!("{redirect}\n{exp}\nprompt={p}"),
        None => format!("{redirect}\n{exp}"),
    }
}

/// The first value of `name` in a URL query string, percent-decoded.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_redirect;

    #[test]
    fn only_loopback_redirects() {
        for ok in ["http://127.0.0.1:5000", "http://localhost:1/x", "https://[::1]:9", "http://127.1.2.3:80"] {
            assert!(is_loopback_redirect(ok), "{ok} is loopback");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
            "javascript:alert(1)",
            "http://localhost.evil.com",
        ] {
            assert!(!is_loopback_redirect(bad), "{bad} must be refused");
        }
    }
}
