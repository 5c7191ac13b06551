//! The destination grammar, exactly pomerium-cli's `ParseURLs` (PROTOCOL.md §1.1): what to
//! CONNECT to, and which proxy to reach it through.
//!
//! INTERFACE STUB — to be implemented.

/// Why a destination or `--pomerium-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// pomerium-cli's `invalid destination`.
    #[error("invalid destination {0:?}: expected host:port, tcp+https://host:port or tcp+https://proxy/host:port")]
    Destination(String),
    /// pomerium-cli's `invalid pomerium url`.
    #[error("invalid pomerium url {0:?}: expected a URL with a scheme, e.g. https://proxy.example.com")]
    PomeriumUrl(String),
}

/// The proxy to dial: scheme and `host:port` (a default port always filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAddr {
    /// `https` (TLS) or anything else (plaintext HTTP/1.1), after stripping `tcp+`/`udp+`.
    pub scheme: String,
    /// Host name or IP literal, without brackets.
    pub host: String,
    /// Port (443 default for https, 80 for anything else).
    pub port: u16,
}

impl ProxyAddr {
    /// `true` when the proxy speaks TLS (`https`).
    pub fn tls(&self) -> bool {
        self.scheme == "https"
    }

    /// pomerium-cli's `proxyHost`: `host:port` (IPv6 in brackets), the dial address.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }

    /// The login base URL: `https://host[:port]` with a default port left out (as pomerium-cli).
    pub fn login_base(&self) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        let default = if self.tls() { 443 } else { 80 };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default { format!("{scheme}://{host}") } else { format!("{scheme}://{host}:{}", self.port) }
    }

    /// The key tokens are stored under, shared by the CLI and the desktop app:
    /// `https://host:port` (always with the port).
    pub fn origin(&self) -> String {
        let scheme = if self.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.host_port())
    }
}

/// A parsed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The CONNECT target and `Host`, `host:port` as written.
    pub destination: String,
    /// The proxy.
    pub proxy: ProxyAddr,
}

/// Parses a destination and an optional `--pomerium-url` as pomerium-cli does.
///
/// # Errors
/// [`TargetError`] as pomerium-cli's `invalid destination` / `invalid pomerium url`.
pub fn parse(destination: &str, pomerium_url: Option<&str>) -> Result<Target, TargetError> {
    let _ = pomerium_url;
    Err(TargetError::Destination(destination.into()))
}
