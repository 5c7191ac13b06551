//! The gateway's configuration: Pomerium's YAML key names, the TCP subset.
//!
//! # Layout
//!
//! - `yaml`: typed access to marked YAML nodes, collecting every problem with its line.
//! - `keys`: the keys this gateway reads, and Pomerium's keys it accepts without effect.
//! - `values`: durations, files, base64 and PEM.
//! - `global`: the top-level keys → [`Config`].
//! - `route`: one `routes[i]` entry → [`RouteConfig`].
//! - `tls`: server certificates, the signing key, `downstream_mtls`.
//! - `idp`: `idp_provider` names and each provider's issuer rules.

mod global;
mod http3;
mod idp;
mod keys;
mod route;
mod tls;
mod values;
pub(crate) mod yaml;

use std::path::PathBuf;
use std::time::Duration;

use crate::policy::Policy;
pub use http3::Http3;

/// A secret string (client secret, signing key): `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A validated gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address as written (`:443`, `127.0.0.1:0`, `[::1]:8443`), normalised so that a
    /// leading `:` means `0.0.0.0`.
    pub address: String,
    /// Server certificates (`certificate_file`/`certificate_key_file` first, then `certificates:`).
    pub certificates: Vec<CertificatePair>,
    /// When no certificate is configured: the self-signed one kept beside the config.
    pub self_signed: Option<crate::self_signed::SelfSigned>,
    /// `authenticate_service_url`: where the identity provider sends the browser back
    /// (`<url>/oauth2/callback`). `None` means this gateway's own address.
    pub authenticate_service_url: Option<url::Url>,
    /// OpenID Connect identity provider, when `idp_provider` names one (`oidc`, `google`, …).
    pub idp: Option<IdpConfig>,
    /// `signing_key`: PEM of an EC P-256 private key (decoded from Pomerium's base64 form).
    /// `None` means generate one at start (with a warning).
    pub signing_key: Option<Secret>,
    /// `cookie_expire`: lifetime of issued tokens (default 14h).
    pub cookie_expire: Duration,
    /// `downstream_mtls`.
    pub downstream_mtls: Option<DownstreamMtls>,
    /// `timeout_read`, `timeout_write`, `timeout_idle`.
    pub timeouts: Timeouts,
    /// `end_tunnels_at_session_expiry` (Porthole's own key, default `true`): a live tunnel ends
    /// when the session token it was opened with expires. A route's own key overrides it.
    pub end_tunnels_at_session_expiry: bool,
    /// `codec_type: http3` (with `http3_advertise_port`): QUIC on the same port, `Alt-Svc` sent.
    pub http3: Option<Http3>,
    /// `routes`, in file order.
    pub routes: Vec<RouteConfig>,
}

/// Pomerium's global timeouts. `None` means disabled (the key was set to `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `timeout_read` (default 30 s): an HTTP/1.1 client must send a whole request head within
    /// it, counted from the connection's start or the end of the previous response (hyper's
    /// head timer). HTTP/2 has no head timer: a half-sent request ends at `timeout_idle`.
    pub read: Option<Duration>,
    /// `timeout_write` (default none): the longest a request may live, from its head to the end
    /// of its response; for a CONNECT, the whole tunnel.
    pub write: Option<Duration>,
    /// `timeout_idle` (default 5 min): a connection with no request in flight (HTTP/1 between
    /// requests, HTTP/2 with no open stream) is closed after it; also the idle timeout of a
    /// tunnel whose route sets no `idle_timeout`.
    pub idle: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { read: Some(Duration::from_secs(30)), write: None, idle: Some(Duration::from_secs(300)) }
    }
}

/// Secret bytes (a private key's PEM): `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One server certificate and its key, loaded (from files or inline base64) and checked to
/// parse as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePair {
    /// PEM certificate chain.
    pub cert_pem: Vec<u8>,
    /// PEM private key.
    pub key_pem: SecretBytes,
}

/// `idp_*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpConfig {
    /// `idp_provider` as written (`oidc`, `google`, `okta`, …).
    pub provider: String,
    /// `idp_provider_url`, or the provider's default issuer when it has one (`google`,
    /// `gitlab`, `onelogin`): the issuer URL (discovery at `<url>/.well-known/openid-configuration`).
    pub provider_url: url::Url,
    /// `idp_client_id`.
    pub client_id: String,
    /// `idp_client_secret`.
    pub client_secret: Secret,
    /// `idp_scopes` (default `openid`, `profile`, `email`).
    pub scopes: Vec<String>,
}

/// `downstream_mtls` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownstreamMtls {
    /// `ca_file` (or `ca`, base64 PEM, written to memory): trusted client CA PEM.
    pub ca_pem: Vec<u8>,
    /// `enforcement`.
    pub enforcement: MtlsEnforcement,
}

/// `downstream_mtls.enforcement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MtlsEnforcement {
    /// `policy_with_default_deny` (default): no valid client certificate → 495.
    #[default]
    PolicyWithDefaultDeny,
    /// `policy`: only explicit policy criteria look at the certificate.
    Policy,
    /// `reject_connection`: the TLS handshake fails without a valid certificate.
    RejectConnection,
}

/// Where a route's `from` sends CONNECTs: the authority it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFrom {
    /// The `from` URL as written.
    pub raw: String,
    /// Lower-cased host the CONNECT authority must name (the path target for bastion form).
    pub host: String,
    /// Port the CONNECT authority must name; `None` matches any port.
    pub port: Option<u16>,
    /// For bastion form (`tcp+https://proxy:8443/host:port`), the proxy part (`proxy:8443`).
    pub bastion: Option<String>,
    /// `udp+https://` / `udp+http://`: CONNECT-UDP requests match it, CONNECTs do not.
    pub udp: bool,
}

/// One `to` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `tcp://host:port`: the gateway dials it and relays raw bytes.
    Tcp {
        /// Host name or IP literal (no brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// `udp://host:port` (only in a `udp+` route): datagrams go to it from a connected socket.
    Udp {
        /// Host name or IP literal (no brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// `http://host:port` or `https://host:port`: forward the CONNECT to that proxy.
    Proxy {
        /// `true` for `https://`.
        tls: bool,
        /// Host name or IP literal (no brackets).
        host: String,
        /// Port (default 80 / 443).
        port: u16,
    },
}

/// A validated route.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    /// `from`.
    pub from: RouteFrom,
    /// `to` (at least one; all `tcp://` or all proxies).
    pub to: Vec<Upstream>,
    /// `policy` combined with the legacy keys (`allowed_users`, `allowed_domains`,
    /// `allowed_idp_claims`, `allow_any_authenticated_user`, `allow_public_unauthenticated_access`).
    pub policy: Policy,
    /// `allow_public_unauthenticated_access`.
    pub allow_public_unauthenticated_access: bool,
    /// `tls_downstream_client_ca_file` contents, or `tls_downstream_client_ca` decoded (PEM).
    pub tls_downstream_client_ca_pem: Option<Vec<u8>>,
    /// `preserve_host_header`.
    pub preserve_host_header: bool,
    /// `idle_timeout`: a tunnel with no bytes either way for this long is closed; `Some(0)`
    /// disables it. `None` (unset) falls back to the global `timeout_idle`.
    pub idle_timeout: Option<Duration>,
    /// `end_tunnels_at_session_expiry` for this route; `None` follows the global key.
    pub end_tunnels_at_session_expiry: Option<bool>,
    /// `name`.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// 1-based line of the route in the config file.
    pub line: usize,
}

/// One problem (or warning) in a config file, located by line and field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// 1-based line in the file (0 when not tied to a line, e.g. a missing required key → the
    /// line of the enclosing mapping).
    pub line: usize,
    /// Field path, e.g. `routes[0].policy[0].allow.or[1].email`.
    pub field: String,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// A config that loaded, with warnings (e.g. a Pomerium key that has no effect here).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated config.
    pub config: Config,
    /// Warnings to print once at start.
    pub warnings: Vec<ConfigIssue>,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has problems; every one is listed.
    #[error("{} problem(s) in the config:{}", .0.len(), list_issues(.0))]
    Invalid(Vec<ConfigIssue>),
}

/// One issue per line, each indented, for [`ConfigError`]'s message.
fn list_issues(issues: &[ConfigIssue]) -> String {
    issues.iter().map(|i| format!("\n  {i}")).collect()
}

/// Loads and validates a config file. Relative paths in it are relative to the file's folder.
///
/// # Errors
/// [`ConfigError::Io`] when the file cannot be read, [`ConfigError::Invalid`] with every problem.
pub fn load_file(path: &std::path::Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
    parse_str(&text, path.parent().unwrap_or(std::path::Path::new(".")))
}

/// Parses and validates config text; `base_dir` resolves relative file paths.
///
/// # Errors
/// [`ConfigError::Invalid`] with every problem found.
pub fn parse_str(text: &str, base_dir: &std::path::Path) -> Result<Loaded, ConfigError> {
    let root = yaml::load(text).map_err(|e| ConfigError::Invalid(vec![e]))?;
    let mut issues = yaml::Issues::default();
    let config = global::parse(&root, base_dir, &mut issues);
    match config {
        Some(config) if issues.errors.is_empty() => Ok(Loaded { config, warnings: issues.warnings }),
        _ => {
            let mut errors = issues.errors;
            errors.sort_by_key(|e| e.line);
            Err(ConfigError::Invalid(errors))
        }
    }
}
