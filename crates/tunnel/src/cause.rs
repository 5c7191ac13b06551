//! [`Cause`]: why a tunnel attempt failed, as facts (the proxy, the destination, the user, the
//! status, what was wrong with a certificate) rather than a sentence. Each front end renders
//! its own advice from it: the CLI names its flags (its sentences are the errors' `Display`),
//! the desktop app names the sections of its form. No text in a cause names a CLI flag.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Why a tunnel attempt failed (or the proxy ended a tunnel), with the facts a front end needs
/// to say so in its own words. Tagged by `kind` in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Cause {
    /// The proxy could not be dialled (wrong host or port, refused, no answer).
    Unreachable {
        /// The proxy's `host:port`.
        proxy: String,
        /// What the network said (`connection refused`, `timed out`).
        reason: String,
    },
    /// The proxy's certificate was refused.
    UntrustedCertificate {
        /// The proxy's `host:port`.
        proxy: String,
        /// What is wrong with it.
        problem: CertProblem,
        /// Whether an extra CA was configured for this connection.
        ca_given: bool,
    },
    /// The proxy refused the TLS handshake (most often: it wants a client certificate).
    HandshakeRefused {
        /// The proxy's `host:port`.
        proxy: String,
        /// The TLS alert received (`HandshakeFailure`).
        alert: String,
    },
    /// Another TLS failure (no flag applies).
    Tls {
        /// The proxy's `host:port`.
        proxy: String,
        /// What failed, as the TLS library said it.
        detail: String,
    },
    /// The proxy's answer was not usable HTTP (not a proxy, or it closed or timed out).
    BadAnswer {
        /// What was wrong.
        detail: String,
    },
    /// The proxy asks for a login.
    LoginRequired {
        /// The status it answered (301, 302, 307, 308, 401).
        status: u16,
    },
    /// The login the proxy asked for did not finish.
    LoginFailed {
        /// Why.
        problem: LoginProblem,
    },
    /// 403: the proxy's policy denies this user.
    Denied {
        /// The CONNECT target.
        destination: String,
        /// The signed-in user (the token's email), when known.
        user: Option<String>,
    },
    /// 404: no route matches the destination.
    NoRoute {
        /// The CONNECT target.
        destination: String,
    },
    /// 495: the route needs a client certificate the proxy did not get or trust.
    CertificateRequired {
        /// The CONNECT target.
        destination: String,
    },
    /// 502 or 503: the proxy could not reach the destination.
    Unavailable {
        /// The CONNECT target.
        destination: String,
        /// The proxy's words.
        detail: String,
    },
    /// Another status.
    Status {
        /// The status.
        status: u16,
        /// The proxy's words.
        detail: String,
    },
    /// The proxy ended live tunnels and, asked again, denies this user (403).
    Revoked {
        /// The CONNECT target.
        destination: String,
        /// The user the tunnel was opened as, when known.
        user: Option<String>,
    },
    /// The proxy ended live tunnels because the session expired (401, or the token's `exp`).
    SessionExpired,
    /// The proxy ended live tunnels and, asked again, has no route for the destination (404).
    RouteRemoved {
        /// The CONNECT target.
        destination: String,
    },
}

/// What is wrong with the proxy's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum CertProblem {
    /// No trusted (or given) CA signed it.
    UnknownIssuer,
    /// A trusted CA of the issuer's name did not sign it (a CA regenerated with a new key?).
    BadSignature,
    /// It is for other names.
    WrongName {
        /// The name asked for.
        expected: String,
        /// The names on the certificate.
        presented: Vec<String>,
    },
    /// It has expired (or the clock is wrong).
    Expired,
    /// It is not valid yet (or the clock is wrong).
    NotYetValid,
    /// The proxy presents a CA certificate as its own.
    CaAsServerCertificate,
    /// Anything else, as a sentence with no advice in it.
    Other {
        /// What is wrong.
        detail: String,
    },
}

/// Why a login did not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum LoginProblem {
    /// The proxy's login API could not be reached, or refused.
    Unreachable {
        /// The login base URL.
        base: String,
        /// What went wrong on the way.
        detail: String,
    },
    /// No browser could be opened.
    NoBrowser,
    /// Nobody finished the login in time.
    TimedOut {
        /// The time allowed, in seconds.
        #[ts(type = "number")]
        after_secs: u64,
    },
    /// The local callback listener could not start.
    Callback {
        /// What the OS said.
        detail: String,
    },
    /// The proxy refused the token it had just issued.
    FreshTokenRefused {
        /// Its status.
        status: u16,
    },
}
