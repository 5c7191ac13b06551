//! [`ErrorCode`]: the one failure class shared by the engine (a connection's `Disconnected`
//! event) and the application layer (`porthole-client`'s `AppError` and connection status), so
//! a front end branches on a code and shows the sentence next to it, never parses one.

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The class of a failure: what a front end can do about it. Serialized in `snake_case`
/// (`port_in_use`); the desktop's TypeScript type is generated from this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is wrong; `fields` says where.
    Invalid,
    /// No such profile or session.
    NotFound,
    /// The listen address is taken by another program.
    PortInUse,
    /// Reading or writing failed: a file, or a connection to the proxy after it was open.
    Io,
    /// The keychain failed.
    Keychain,
    /// The import data could not be read.
    Import,
    /// The tunnel could not be built or started.
    Tunnel,
    /// The proxy could not be reached, its TLS failed, or its answer was not HTTP.
    Proxy,
    /// A login is needed, failed, or its token was refused.
    Auth,
    /// The proxy's policy denies this user (403).
    Denied,
    /// The proxy has no route for the destination (404).
    NoRoute,
    /// The route needs a client certificate (495).
    Certificate,
    /// The proxy could not reach the destination (502, 503).
    Unavailable,
    /// The proxy answered another status.
    Status,
    /// The connection was closed after being idle.
    Idle,
    /// The upstream reset the connection.
    Reset,
    /// The local client went away.
    Local,
    /// The proxy ended a live tunnel and, asked again, denies this user (403): the policy no
    /// longer allows them. Logging in again will not help; ask for access.
    Revoked,
    /// The proxy ended a live tunnel because the session expired or is no longer accepted
    /// (401, or the token's `exp` has passed): the next connection logs in again.
    SessionExpired,
}

impl ErrorCode {
    /// The code as it appears in JSON (`port_in_use`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::PortInUse => "port_in_use",
            Self::Io => "io",
            Self::Keychain => "keychain",
            Self::Import => "import",
            Self::Tunnel => "tunnel",
            Self::Proxy => "proxy",
            Self::Auth => "auth",
            Self::Denied => "denied",
            Self::NoRoute => "no_route",
            Self::Certificate => "certificate",
            Self::Unavailable => "unavailable",
            Self::Status => "status",
            Self::Idle => "idle",
            Self::Reset => "reset",
            Self::Local => "local",
            Self::Revoked => "revoked",
            Self::SessionExpired => "session_expired",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` and serde agree for every code, so a log line and the JSON use the same word.
    #[test]
    fn as_str_is_the_wire_string() {
        use ErrorCode::*;
        let all = [
            Invalid,
            NotFound,
            PortInUse,
            Io,
            Keychain,
            Import,
            Tunnel,
            Proxy,
            Auth,
            Denied,
            NoRoute,
            Certificate,
            Unavailable,
            Status,
            Idle,
            Reset,
            Local,
            Revoked,
            SessionExpired,
        ];
        for code in all {
            let json = serde_json::to_value(code).expect("serializes");
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()), "{code:?}");
            assert_eq!(serde_json::from_value::<ErrorCode>(json).expect("reads back"), code);
        }
        assert_eq!(PortInUse.to_string(), "port_in_use");
    }
}
