//! One probe CONNECT after the proxy ended a live tunnel, and its answer read as the reason:
//! access revoked (403), session expired (401 or a login redirect), route removed (404). A
//! `200` explains nothing and is closed at once.
//!
//! # The cost of a probe that is let through
//!
//! A `200` means the gateway checked the request, dialled the upstream and opened a tunnel:
//! the upstream sees one connection that closes without a byte (PostgreSQL logs "incomplete
//! startup packet", for example). The engine keeps this rare: it probes only when the proxy
//! ended the tunnel while the local client was still connected, at most once per tunnel end,
//! one probe for the ends of one tunnel that come together, and never when the token has
//! expired (that answer is known without asking). The engine waits half a second after the cut
//! before it dials, so a proxy that is restarting has stopped accepting by then. The probe is closed cleanly (TLS
//! close_notify, then FIN), so the gateway closes the upstream cleanly too.

use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

use super::{ConnectError, Connected, Connector, ProtocolFailure};
use crate::auth::Token;
use crate::code::ErrorCode;

/// How long the probe keeps redialling a proxy that cannot be reached (a gateway restarting
/// with a new config): a refused dial, or a TLS handshake the proxy reset (a listener closing
/// with connections in its backlog), sent no CONNECT, so trying again is not a second one.
pub const REDIAL_WINDOW: Duration = Duration::from_secs(10);
/// The first pause between dials; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between dials.
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// The most a whole probe may take: redials, handshake, answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// Time given to close a probe that was let through.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The sentence for an expired session (what a `401` probe or an expired token means).
pub const SESSION_EXPIRED: &str = "your session expired: log in again";

/// Why the proxy ended a tunnel, as a probe learned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    /// The sentence: `access to db.corp:5432 was revoked for alice@example.com (403)`.
    pub message: String,
    /// `revoked`, `session_expired`, `no_route` (or `auth` when no token was sent).
    pub code: ErrorCode,
}

impl Why {
    /// The session expired; the next connection logs in again.
    #[must_use]
    pub fn session_expired() -> Self {
        Self { message: SESSION_EXPIRED.to_owned(), code: ErrorCode::SessionExpired }
    }
}

/// Reads the answer to a probe for `destination` sent with `token`: `None` when it explains
/// nothing (let through, the proxy unreachable, another status).
#[must_use]
pub fn explain(answer: &Result<(), ConnectError>, destination: &str, token: Option<&Token>) -> Option<Why> {
    let Err(e) = answer else { return None };
    match e {
        ConnectError::LoginRequired { .. } if token.is_some() => Some(Why::session_expired()),
        ConnectError::LoginRequired { status } => Some(Why {
            message: format!("the proxy now asks for a login for {destination} ({status}): connect again to log in"),
            code: ErrorCode::Auth,
        }),
        ConnectError::Denied { .. } => {
            let message = match token.and_then(Token::user) {
                Some(user) => format!("access to {destination} was revoked for {user} (403)"),
                None => format!("access to {destination} was revoked (403)"),
            };
            Some(Why { message, code: ErrorCode::Revoked })
        }
        ConnectError::NoRoute { .. } => Some(Why {
            message: format!("the proxy no longer has a route for {destination} (404)"),
            code: ErrorCode::NoRoute,
        }),
        _ => None,
    }
}

/// `true` when the failure came before the CONNECT request was sent and is worth another try:
/// the dial failed, or the proxy cut the TLS handshake (not a certificate or protocol error).
fn nothing_sent(e: &ConnectError) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        ConnectError::Dial { .. } => true,
        ConnectError::Tls { source: super::TlsFailure::Handshake(io), .. } => {
            matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof)
                && io.get_ref().is_none_or(|inner| inner.downcast_ref::<rustls::Error>().is_none())
        }
        _ => false,
    }
}

impl Connector {
    /// Sends one CONNECT with `token` to learn whether the proxy still lets it through, and
    /// closes the tunnel at once when it does. A proxy that cannot be dialled, or that cuts the
    /// TLS handshake, is tried again for up to [`REDIAL_WINDOW`] (no CONNECT was sent); the
    /// whole probe takes at most
    /// [`PROBE_TIMEOUT`]. Never logs in.
    ///
    /// # Errors
    /// The [`ConnectError`] of the answer (the point of the probe), or of the last dial.
    ///
    /// # Cancel safety
    /// Dropping the future closes the probe's connection.
    pub async fn probe(&self, token: Option<&str>) -> Result<(), ConnectError> {
        let redial_until = Instant::now() + REDIAL_WINDOW;
        let mut pause = FIRST_PAUSE;
        let attempts = async {
            loop {
                match self.connect(token).await {
                    Ok(Connected { mut stream, .. }) => {
                        let _ = tokio::time::timeout(CLOSE_GRACE, stream.shutdown()).await;
                        return Ok(());
                    }
                    Err(e) if nothing_sent(&e) && Instant::now() + pause < redial_until => {
                        tracing::debug!(error = %e, "the probe could not reach the proxy; trying again");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_PAUSE);
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        tokio::time::timeout(PROBE_TIMEOUT, attempts).await.unwrap_or(Err(ConnectError::Protocol {
            source: ProtocolFailure::NoAnswer { what: "the probe", within: PROBE_TIMEOUT },
        }))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn token_for(email: &str) -> Token {
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        Token::new(format!("{}.{}.sig", b64("{}"), b64(&format!("{{\"email\":\"{email}\"}}"))))
    }

    /// Each answer the engine explains, and those it does not, word for word.
    #[test]
    fn answers_become_sentences() {
        let alice = token_for("alice@example.com");
        let denied = Err(ConnectError::Denied { destination: "db.corp:5432".into(), message: "access denied".into() });
        assert_eq!(
            explain(&denied, "db.corp:5432", Some(&alice)),
            Some(Why {
                message: "access to db.corp:5432 was revoked for alice@example.com (403)".into(),
                code: ErrorCode::Revoked
            })
        );
        let expired = Err(ConnectError::LoginRequired { status: 401 });
        assert_eq!(explain(&expired, "db.corp:5432", Some(&alice)), Some(Why::session_expired()));
        assert_eq!(Why::session_expired().message, "your session expired: log in again");
        let gone = Err(ConnectError::NoRoute { destination: "db.corp:5432".into() });
        assert_eq!(explain(&gone, "db.corp:5432", Some(&alice)).map(|w| w.code), Some(ErrorCode::NoRoute));
        assert_eq!(explain(&Ok(()), "db.corp:5432", Some(&alice)), None, "let through: nothing to say");
        let closed = porthole_io::connect::ExchangeError::Answer(porthole_io::head::HeadError::Closed);
        let down = Err(ConnectError::Protocol { source: ProtocolFailure::Exchange(closed) });
        assert_eq!(explain(&down, "db.corp:5432", Some(&alice)), None, "no answer: nothing to say");
    }
}
