//! The local address a tunnel listens on, in the forms pomerium-cli (Go) accepts: `:PORT` (all
//! interfaces), `HOST:PORT`, `[IPv6]:PORT`, `localhost:PORT`, and `-` for stdin/stdout. The one
//! parser for `porthole tcp --listen` and the desktop's "local address" field.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Where a tunnel takes its local connections from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `-`: one tunnel on stdin/stdout (ssh's `ProxyCommand`).
    Stdio,
    /// A TCP address to listen on.
    Addr(ListenAddr),
}

/// A parsed `HOST:PORT` (port 0 picks a free one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    /// The host part.
    pub host: ListenHost,
    /// The port.
    pub port: u16,
}

/// The host part of a [`ListenAddr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenHost {
    /// Empty, as in `:2202`: every interface (Go's meaning).
    AllInterfaces,
    /// An IP address (`127.0.0.1`, `[::1]`, `0.0.0.0`).
    Ip(IpAddr),
    /// A host name resolved when binding (`localhost`).
    Name(String),
}

/// Why a listen address does not parse; the text names the value and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a local address to listen on: {reason}; expected :PORT, HOST:PORT, [IPv6]:PORT or \
     localhost:PORT with a port from 0 to 65535 (e.g. :2202, 127.0.0.1:2202, [::1]:2202)"
)]
pub struct ListenError {
    /// What was given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Listen {
    /// Parses `-` or an address (see [`ListenAddr::parse`]).
    ///
    /// # Errors
    /// [`ListenError`] when it is neither.
    pub fn parse(value: &str) -> Result<Self, ListenError> {
        if value == "-" { Ok(Self::Stdio) } else { ListenAddr::parse(value).map(Self::Addr) }
    }
}

impl FromStr for Listen {
    type Err = ListenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl ListenAddr {
    /// Parses Go's `host:port` forms: `:PORT`, `HOST:PORT`, `[IPv6]:PORT`.
    ///
    /// # Errors
    /// [`ListenError`] for a missing or out-of-range port, an IPv6 address without brackets, or
    /// a host that is neither an IP address nor a host name.
    pub fn parse(value: &str) -> Result<Self, ListenError> {
        let fail = |reason: String| ListenError { value: value.to_owned(), reason };
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(|| fail("the [ has no closing ]".into()))?;
            let port = after.strip_prefix(':').ok_or_else(|| fail(format!("no :PORT after [{inside}]")))?;
            let ip = inside.parse::<Ipv6Addr>().map_err(|_| fail(format!("[{inside}] is not an IPv6 address")))?;
            (ListenHost::Ip(IpAddr::V6(ip)), port)
        } else {
            let (host, port) = value.rsplit_once(':').ok_or_else(|| fail("it has no port".into()))?;
            let host = if host.is_empty() {
                ListenHost::AllInterfaces
            } else if host.contains(':') {
                return Err(fail("an IPv6 address needs brackets, as in [::1]:2202".into()));
            } else if let Ok(ip) = host.parse::<IpAddr>() {
                ListenHost::Ip(ip)
            } else if is_host_name(host) {
                ListenHost::Name(host.to_owned())
            } else {
                return Err(fail(format!("{host:?} is not an IP address or a host name")));
            };
            (host, port)
        };
        let port = match port.parse::<u16>() {
            Ok(port) => port,
            Err(_) if port.is_empty() => return Err(fail("the port is missing".into())),
            Err(_) => return Err(fail(format!("the port {port:?} is not a number from 0 to 65535"))),
        };
        Ok(Self { host, port })
    }

    /// What to bind: `:PORT` is every interface (`0.0.0.0:PORT`), as in pomerium-cli.
    #[must_use]
    pub fn bind_spec(&self) -> String {
        match &self.host {
            ListenHost::AllInterfaces => format!("0.0.0.0:{}", self.port),
            ListenHost::Ip(ip) => SocketAddr::new(*ip, self.port).to_string(),
            ListenHost::Name(name) => format!("{name}:{}", self.port),
        }
    }

    /// `true` for every-interface forms (`:PORT`, `0.0.0.0:PORT`, `[::]:PORT`): other machines
    /// can connect to the port.
    #[must_use]
    pub fn all_interfaces(&self) -> bool {
        match &self.host {
            ListenHost::AllInterfaces => true,
            ListenHost::Ip(ip) => ip.is_unspecified(),
            ListenHost::Name(_) => false,
        }
    }

    /// The one-line warning for an every-interface address, `None` otherwise.
    #[must_use]
    pub fn network_warning(&self, given: &str) -> Option<String> {
        self.all_interfaces().then(|| {
            let port = if self.port == 0 { "the port".to_owned() } else { format!("port {}", self.port) };
            format!(
                "listening on all interfaces ({given}): {port} is reachable from the network, not only from this \
                 computer; use 127.0.0.1:{} to keep it local",
                self.port
            )
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            ListenHost::AllInterfaces => write!(f, ":{}", self.port),
            _ => f.write_str(&self.bind_spec()),
        }
    }
}

/// Letters, digits, `-` and `_` in dot-separated labels of at most 63 bytes (253 in all).
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(value: &str) -> ListenAddr {
        match Listen::parse(value) {
            Ok(Listen::Addr(a)) => a,
            other => panic!("{value}: {other:?}"),
        }
    }

    #[test]
    fn go_forms_parse_to_what_is_bound() {
        assert_eq!(Listen::parse("-"), Ok(Listen::Stdio));
        for (given, bound, everywhere) in [
            (":2202", "0.0.0.0:2202", true),
            (":0", "0.0.0.0:0", true),
            ("127.0.0.1:2202", "127.0.0.1:2202", false),
            ("[::1]:2202", "[::1]:2202", false),
            ("[::]:2202", "[::]:2202", true),
            ("0.0.0.0:2202", "0.0.0.0:2202", true),
            ("localhost:2202", "localhost:2202", false),
            ("db-tunnel.internal:5432", "db-tunnel.internal:5432", false),
        ] {
            let a = addr(given);
            assert_eq!(a.bind_spec(), bound, "{given}");
            assert_eq!(a.all_interfaces(), everywhere, "{given}");
            assert_eq!(a.network_warning(given).is_some(), everywhere, "{given}");
        }
        assert_eq!(addr(":2202").to_string(), ":2202");
        let warning = addr(":2202").network_warning(":2202").unwrap();
        assert!(warning.contains("reachable from the network") && warning.contains("127.0.0.1:2202"), "{warning}");
    }

    #[test]
    fn errors_name_the_value_and_what_is_expected() {
        for (given, reason) in [
            ("99999", "it has no port"),
            (":99999", "the port \"99999\" is not a number from 0 to 65535"),
            ("127.0.0.1:", "the port is missing"),
            ("127.0.0.1:ssh", "the port \"ssh\" is not a number"),
            ("::1:2202", "an IPv6 address needs brackets"),
            ("[::1:2202", "the [ has no closing ]"),
            ("[::1]2202", "no :PORT after [::1]"),
            ("[localhost]:2202", "[localhost] is not an IPv6 address"),
            ("my host:2202", "\"my host\" is not an IP address or a host name"),
            ("", "it has no port"),
        ] {
            let e = Listen::parse(given).expect_err(given).to_string();
            assert!(e.starts_with(&format!("{given:?} is not a local address to listen on: ")), "{e}");
            assert!(e.contains(reason), "{given}: {e}");
            assert!(e.contains("expected :PORT, HOST:PORT, [IPv6]:PORT"), "{e}");
        }
    }
}
