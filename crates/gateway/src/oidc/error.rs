//! Sentences for what went wrong at the identity provider, built from the whole cause chain.
//!
//! `openidconnect` and the gateway's HTTP client ([`super::http`]) put the useful part
//! (`connection refused`, a TLS verdict, a DNS failure) in [`std::error::Error::source`],
//! behind a general message. These functions walk the chain so the browser page and the log
//! say what an operator can act on. No token or secret ever reaches them: only transport
//! errors, HTTP statuses and the provider's own error codes.

use std::error::Error as StdError;

use openidconnect::core::CoreErrorResponseType;
use openidconnect::{ClaimsVerificationError, DiscoveryError, RequestTokenError, StandardErrorResponse};

use super::http::HttpError;

/// Why the gateway could not use the identity provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// No connection or no answer (refused, DNS, TLS, timeout).
    #[error("cannot reach the identity provider at {url}: {cause}")]
    Unreachable {
        /// The URL the gateway tried.
        url: String,
        /// The innermost cause, e.g. `connection refused`.
        cause: String,
    },
    /// The provider answered, but not with a usable discovery document or key set.
    #[error("the identity provider at {url} gave an unusable answer: {detail}")]
    BadAnswer {
        /// The provider URL.
        url: String,
        /// What was wrong (status, parse error, issuer mismatch).
        detail: String,
    },
    /// The provider refused to exchange the login code.
    #[error("the identity provider refused the login: {0}")]
    Refused(String),
    /// The ID token failed verification (signature, issuer, audience, nonce, expiry).
    #[error("the ID token from the identity provider is not valid: {0}")]
    IdToken(String),
    /// No `idp_provider` in the config.
    #[error("this gateway has no identity provider configured")]
    NotConfigured,
}

/// The innermost cause of `err`, in words: an I/O error becomes its kind (`connection
/// refused`, `timed out`), anything else its own message.
pub fn innermost_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    if let Some(io) = last.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind as K;
        if matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::TimedOut
                | K::HostUnreachable
                | K::NetworkUnreachable
                | K::AddrNotAvailable
                | K::UnexpectedEof
        ) {
            return io.kind().to_string();
        }
    }
    last.to_string()
}

/// Every message along the chain, outermost first, joined with `: `.
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}

/// A failed discovery (document or JWKS) at `url`.
pub fn discovery(url: &str, err: &DiscoveryError<HttpError>) -> IdpError {
    let bad = |detail: String| IdpError::BadAnswer { url: url.to_owned(), detail };
    match err {
        DiscoveryError::Request(e @ HttpError::TooLarge(_)) => bad(e.to_string()),
        DiscoveryError::Request(e) => IdpError::Unreachable { url: url.to_owned(), cause: transport_cause(e) },
        DiscoveryError::Response(_, _, detail) => bad(detail.clone()),
        DiscoveryError::Parse(e) => bad(format!("its discovery document or key set is not valid: {}", chain(e))),
        DiscoveryError::Validation(detail) => bad(detail.clone()),
        other => bad(chain(other)),
    }
}

/// A failed code exchange at `token_url`.
pub fn exchange(
    token_url: &str,
    err: &RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>,
) -> IdpError {
    match err {
        RequestTokenError::ServerResponse(r) => IdpError::Refused(r.to_string()),
        RequestTokenError::Request(e @ HttpError::TooLarge(_)) => {
            IdpError::BadAnswer { url: token_url.to_owned(), detail: e.to_string() }
        }
        RequestTokenError::Request(e) => IdpError::Unreachable { url: token_url.to_owned(), cause: transport_cause(e) },
        RequestTokenError::Parse(e, _) => IdpError::BadAnswer {
            url: token_url.to_owned(),
            detail: format!("its token response is not valid: {}", chain(e)),
        },
        other => IdpError::BadAnswer { url: token_url.to_owned(), detail: chain(other) },
    }
}

/// A failed ID token verification, with its cause (`signature verification failed: crypto
/// error: invalid signature`).
pub fn id_token(err: &ClaimsVerificationError) -> IdpError {
    let mut text = chain(err);
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_lowercase();
    }
    IdpError::IdToken(text)
}

/// What a transport error comes down to; a timeout says so even when the chain does not.
fn transport_cause(err: &HttpError) -> String {
    if let HttpError::TimedOut(_) = err {
        return "no answer in time (timed out)".to_owned();
    }
    innermost_cause(err)
}

#[cfg(test)]
mod tests {
    use super::{chain, innermost_cause};

    /// An error that hides its cause behind a vague message, as `Request failed` does.
    #[derive(Debug, thiserror::Error)]
    #[error("Request failed")]
    struct Vague(#[source] std::io::Error);

    #[test]
    fn the_innermost_cause_is_named() {
        let refused = Vague(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(innermost_cause(&refused), "connection refused", "an I/O kind in plain words");
        let dns = Vague(std::io::Error::other("failed to lookup address information: Name or service not known"));
        assert_eq!(innermost_cause(&dns), "failed to lookup address information: Name or service not known");
        assert_eq!(chain(&dns), "Request failed: failed to lookup address information: Name or service not known");
    }
}
