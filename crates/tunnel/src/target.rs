//! The destination grammar, exactly pomerium-cli's `ParseURLs` (docs/protocol.md §1.1): what to
//! CONNECT to, and which proxy to reach it through.
//!
//! Where pomerium-cli is sloppy we are stricter, never looser on the wire: an empty CONNECT
//! target (`tcp+https://proxy/`), an empty host or a port that is not a number is refused with a
//! message instead of being sent, and an IPv6 proxy gets its default port (Go leaves it off).

/// Why a destination or `--pomerium-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// pomerium-cli's `invalid destination`.
    #[error("invalid destination {0:?}: expected host:port, tcp+https://host:port or tcp+https://proxy/host:port")]
    Destination(String),
    /// pomerium-cli's `invalid pomerium url`.
    #[error("invalid pomerium url {0:?}: expected a URL with a scheme, e.g. https://proxy.example.com")]
    PomeriumUrl(String),
    /// A bastion URL with nothing after the proxy (`tcp+https://proxy/`); pomerium-cli would
    /// send an empty CONNECT target.
    #[error("no destination after the proxy in {0:?}: expected tcp+https://proxy/host:port")]
    NoDestination(String),
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
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
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
/// - `scheme://host:port` → CONNECT `host:port` through `scheme://host` (default port);
/// - `scheme://proxy[:port]/host:port[/…]` → CONNECT `host:port` through the proxy (port kept);
/// - `host:port` → CONNECT `host:port` through `https://host:443`.
///
/// `tcp+`/`udp+` are stripped from the scheme; `https` means TLS, anything else plaintext. A
/// non-empty `pomerium_url` replaces the proxy (its path is ignored). The CONNECT target must
/// be printable ASCII without spaces (a host name in Unicode must be given in its `xn--` form).
///
/// # Errors
/// [`TargetError::Destination`] / [`TargetError::PomeriumUrl`] as pomerium-cli's
/// `invalid destination` / `invalid pomerium url`; [`TargetError::NoDestination`] for a bastion
/// URL with an empty first path segment.
pub fn parse(destination: &str, pomerium_url: Option<&str>) -> Result<Target, TargetError> {
    let bad = || TargetError::Destination(destination.to_owned());
    let (dest, mut proxy) = if let Some(url) = Url::split(destination) {
        let url = url.ok_or_else(bad)?;
        match url.path {
            None => {
                let (host, _) = split_host_port(url.authority).ok_or_else(bad)?;
                (url.authority.to_owned(), ProxyAddr::new(url.scheme, host, None).ok_or_else(bad)?)
            }
            Some(path) => {
                let first = path.split('/').next().unwrap_or_default();
                if first.is_empty() {
                    return Err(TargetError::NoDestination(destination.to_owned()));
                }
                let (host, port) = split_host_port(url.authority).ok_or_else(bad)?;
                (first.to_owned(), ProxyAddr::new(url.scheme, host, port).ok_or_else(bad)?)
            }
        }
    } else {
        let (host, port) = split_host_port(destination).ok_or_else(bad)?;
        let port = port.filter(|p| p.parse::<u16>().is_ok()).ok_or_else(bad)?;
        let joined = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        (joined, ProxyAddr::new("https", host, None).ok_or_else(bad)?)
    };
    // The destination goes verbatim into the CONNECT line and `Host`: a space, a control or a
    // non-ASCII byte would break the request or inject a header line (found by fuzzing).
    if !dest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    if let Some(raw) = pomerium_url.filter(|u| !u.is_empty()) {
        let bad = || TargetError::PomeriumUrl(raw.to_owned());
        let url = Url::split(raw).flatten().ok_or_else(bad)?;
        let (host, port) = split_host_port(url.authority).ok_or_else(bad)?;
        proxy = ProxyAddr::new(url.scheme, host, port).ok_or_else(bad)?;
    }
    Ok(Target { destination: dest, proxy })
}

impl ProxyAddr {
    /// Builds a proxy address: `tcp+`/`udp+` stripped, brackets off, default port filled in.
    /// `None` when the host is empty or the port is not a number.
    fn new(scheme: &str, host: &str, port: Option<&str>) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        let scheme = scheme.strip_prefix("tcp+").unwrap_or(&scheme);
        let scheme = scheme.strip_prefix("udp+").unwrap_or(scheme).to_owned();
        let port = match port {
            Some(p) => p.parse().ok()?,
            None if scheme == "https" => 443,
            None => 80,
        };
        (!host.is_empty()).then(|| Self { scheme, host: host.to_owned(), port })
    }
}

/// The parts of `scheme://authority/path` pomerium-cli looks at (Go `url.Parse`'s `Scheme`,
/// `Host` and `Path`); userinfo, query and fragment are dropped.
struct Url<'a> {
    scheme: &'a str,
    authority: &'a str,
    /// After the `/` that ends the authority; `None` when there is no `/` at all.
    path: Option<&'a str>,
}

impl<'a> Url<'a> {
    /// `None` when `raw` has no `://`; `Some(None)` when it has one but is malformed.
    fn split(raw: &'a str) -> Option<Option<Self>> {
        let (scheme, rest) = raw.split_once("://")?;
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Some(None);
        }
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        Some(Some(Self { scheme, authority, path }))
    }
}

/// Splits `host[:port]` or `[v6][:port]`; the host comes back without brackets.
/// `None` for an empty host, a bare IPv6 literal without brackets, or junk after `]`.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((_, p)) if p.contains(':') => return None,
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    (!host.is_empty()).then_some((host, port))
}
