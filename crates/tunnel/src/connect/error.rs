//! Why a CONNECT failed, as variants a caller can act on (docs/protocol.md §2.7), the mapping
//! from a non-200 status to them, and the typed causes of a failed dial or handshake.

use std::io;

use crate::code::ErrorCode;

/// Why [`super::Connector::connect`] did not produce a tunnel. The text is the whole sentence;
/// a dial or handshake failure keeps its typed cause as [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The proxy could not be dialled: DNS, refused, unreachable, or the 10 s dial timeout.
    #[error("cannot reach {proxy}: {}", dial_reason(source))]
    Dial {
        /// The proxy's `host:port`.
        proxy: String,
        /// What the network said (`TimedOut` with "no answer within 10 s" for the dial timeout).
        #[source]
        source: io::Error,
    },
    /// The TLS handshake with the proxy failed; the cause carries a hint when the fix is a flag.
    #[error("TLS handshake with {proxy} failed: {source}")]
    Tls {
        /// The proxy's `host:port`.
        proxy: String,
        /// What failed, and what to try.
        #[source]
        source: TlsFailure,
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
    #[error("unexpected answer from the proxy: {source}")]
    Protocol {
        /// What was wrong.
        #[source]
        source: ProtocolFailure,
    },
}

/// Why the proxy's answer to a CONNECT was unusable ([`ConnectError::Protocol`]).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolFailure {
    /// No answer head within the time allowed.
    #[error("no answer to {what} within {} s", .within.as_secs())]
    NoAnswer {
        /// `CONNECT` or `the probe`.
        what: &'static str,
        /// The time allowed.
        within: std::time::Duration,
    },
    /// The request could not be sent, or the answer was not an HTTP head (closed, malformed,
    /// over the cap).
    #[error("{0}")]
    Exchange(#[source] porthole_io::connect::ExchangeError),
}

impl ConnectError {
    /// `false` only for [`ConnectError::LoginRequired`]: the cached token is then stale.
    ///
    /// pomerium-cli deletes the token on network errors, 404, 495 and so on; keeping it there
    /// saves a needless browser login.
    #[must_use]
    pub fn keeps_token(&self) -> bool {
        !matches!(self, Self::LoginRequired { .. })
    }

    /// The class a front end branches on.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Dial { .. } | Self::Tls { .. } | Self::Protocol { .. } => ErrorCode::Proxy,
            Self::LoginRequired { .. } => ErrorCode::Auth,
            Self::Denied { .. } => ErrorCode::Denied,
            Self::NoRoute { .. } => ErrorCode::NoRoute,
            Self::CertificateRequired { .. } => ErrorCode::Certificate,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::Status { .. } => ErrorCode::Status,
        }
    }

    /// Maps a non-200 status and its message to the variant a caller acts on (§2.7); every
    /// transport (TCP CONNECT, CONNECT-UDP over HTTP/1.1 or HTTP/3) maps its refusals here.
    pub fn from_status(status: u16, destination: &str, message: String) -> Self {
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

/// A dial failure in the words the CLI has always used: the OS's own text only when it is not
/// one of the common two.
fn dial_reason(e: &io::Error) -> String {
    match (e.raw_os_error(), e.kind()) {
        (Some(_), io::ErrorKind::ConnectionRefused) => "connection refused".into(),
        (Some(_), io::ErrorKind::TimedOut) => "timed out".into(),
        _ => e.to_string(),
    }
}

/// Why the TLS handshake with the proxy failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsFailure {
    /// An `https` proxy without a TLS configuration (a bug in the caller).
    #[error("no TLS configuration for an https proxy (a bug in the caller)")]
    NoConfig,
    /// The proxy's host is not a valid TLS server name.
    #[error("{host:?} is not a valid server name: {source}")]
    ServerName {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: rustls_pki_types::InvalidDnsNameError,
    },
    /// The handshake did not finish within the dial timeout.
    #[error("the handshake did not finish within 10 s")]
    Timeout,
    /// The handshake failed; the text names the flag that fixes it when there is one.
    #[error("{}", explain_tls(.0))]
    Handshake(#[source] io::Error),
}

/// A TLS failure in words, with the flag that fixes it when there is one.
fn explain_tls(e: &io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(cert)) => crate::tls::explain::certificate_sentence(cert),
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the proxy refused the handshake ({alert:?}); it may require a client certificate")
        }
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}
