//! Why a CONNECT failed, as variants a caller can act on (docs/protocol.md §2.7), and the mapping
//! from a non-200 status to them.

/// Why [`super::Connector::connect`] did not produce a tunnel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The proxy could not be dialled: DNS, refused, unreachable, or the 10 s dial timeout.
    #[error("cannot reach {proxy}: {reason}")]
    Dial {
        /// The proxy's `host:port`.
        proxy: String,
        /// What the network said.
        reason: String,
    },
    /// The TLS handshake with the proxy failed; the reason carries a hint when the fix is a flag.
    #[error("TLS handshake with {proxy} failed: {reason}")]
    Tls {
        /// The proxy's `host:port`.
        proxy: String,
        /// What failed, and what to try.
        reason: String,
    },
    /// 301, 302, 307, 308 or 401: log in (again) and retry once with the new token.
    #[error("the proxy asks for a login (HTTP {status})")]
    LoginRequired {
        /// The status received.
        status: u16,
    },
    /// 403: the policy denies this user; logging in again will not help.
    #[error("{} (403)", denied_sentence(destination, message))]
    Denied {
        /// The CONNECT target.
        destination: String,
        /// The first line of the response body, or the reason phrase.
        message: String,
    },
    /// 404: no route matches the destination.
    #[error("the proxy has no route for {destination} (404): check the host:port against the route's `from`")]
    NoRoute {
        /// The CONNECT target.
        destination: String,
    },
    /// 495: the route needs a client certificate the proxy did not get or did not trust.
    #[error(
        "{destination} requires a valid client certificate (495): pass --client-cert and --client-key \
         (or --client-cert-from-store) with a certificate from the route's CA"
    )]
    CertificateRequired {
        /// The CONNECT target.
        destination: String,
    },
    /// 502 or 503: the proxy could not reach the destination; retry later.
    #[error("{destination} is unavailable: the proxy could not reach it ({message})")]
    Unavailable {
        /// The CONNECT target.
        destination: String,
        /// The first line of the response body, or the reason phrase.
        message: String,
    },
    /// Any other status.
    #[error("the proxy answered HTTP {status}: {message}")]
    Status {
        /// The status received.
        status: u16,
        /// The first line of the response body, or the reason phrase.
        message: String,
    },
    /// Not HTTP, a head over 16 KiB, a timeout, or the connection closed before the answer.
    #[error("unexpected answer from the proxy: {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
}

impl ConnectError {
    /// Maps a non-200 status and its message to the variant a caller acts on.
    pub(super) fn from_status(status: u16, destination: &str, message: String) -> Self {
        let destination = destination.to_owned();
        match status {
            301 | 302 | 307 | 308 | 401 => Self::LoginRequired { status },
            403 => Self::Denied { destination, message },
            404 => Self::NoRoute { destination },
            495 => Self::CertificateRequired { destination },
            502 | 503 => Self::Unavailable { destination, message },
            _ => Self::Status { status, message },
        }
    }
}

/// The gateway's own 403 sentence names the user (`access denied to X for alice@example.com`);
/// use it when present, else say what we know.
fn denied_sentence(destination: &str, message: &str) -> String {
    if message.starts_with("access denied") {
        message.to_owned()
    } else if message.is_empty() || message.eq_ignore_ascii_case("forbidden") {
        format!("access denied to {destination} by the proxy's policy")
    } else {
        format!("access denied to {destination} by the proxy's policy: {message}")
    }
}
