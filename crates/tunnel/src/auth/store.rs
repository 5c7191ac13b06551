//! Where session tokens are kept: the [`TokenStore`] trait, keyed by proxy origin
//! (`https://host:port`), and an in-memory store for tests. The OS keychain and file stores
//! live in `porthole-client`.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;

/// A session token (a JWT). `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Wraps a raw token (whitespace trimmed).
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into().trim().to_owned())
    }

    /// The raw token, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `exp` claim (Unix seconds), read without verifying the signature; `None` when the
    /// token has none or is not a JWT (the server decides then).
    pub fn expires_at(&self) -> Option<u64> {
        self.claims()?.get("exp")?.as_f64().map(|f| f as u64)
    }

    /// Who the token is for, for log lines: its `email` claim, else its `sub`, read without
    /// verifying the signature (the proxy decides); `None` when it has neither or is not a JWT.
    pub fn user(&self) -> Option<String> {
        let claims = self.claims()?;
        let user = claims.get("email").or_else(|| claims.get("sub"))?.as_str()?;
        Some(user.chars().filter(|c| !c.is_control()).take(256).collect())
    }

    /// The payload of a JWT, unverified.
    fn claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let payload = self.0.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `true` when `exp` is in the past (with `skew_secs` of margin): such a token is not sent.
    pub fn is_expired(&self, now_unix: u64, skew_secs: u64) -> bool {
        self.expires_at().is_some_and(|exp| exp <= now_unix + skew_secs)
    }
}

/// Why a store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service (keychain, file system) failed.
    #[error("token store: {0}")]
    Backend(String),
}

/// Keeps tokens by proxy origin. Calls may block (keychains do): the engine calls them off
/// the async threads.
pub trait TokenStore: Send + Sync + 'static {
    /// The token for `origin`, if one is stored.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails (not when there is simply no token).
    fn load(&self, origin: &str) -> Result<Option<Token>, StoreError>;
    /// Stores (replaces) the token for `origin`.
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn store(&self, origin: &str, token: &Token) -> Result<(), StoreError>;
    /// Deletes the token for `origin` (no error if there was none).
    ///
    /// # Errors
    /// [`StoreError`] when the backend fails.
    fn delete(&self, origin: &str) -> Result<(), StoreError>;
}

/// An in-memory store (tests, and `--service-account` runs that must not persist).
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<HashMap<String, Token>>,
}

impl TokenStore for MemoryStore {
    fn load(&self, origin: &str) -> Result<Option<Token>, StoreError> {
        Ok(self.tokens.lock().map_err(|e| StoreError::Backend(e.to_string()))?.get(origin).cloned())
    }
    fn store(&self, origin: &str, token: &Token) -> Result<(), StoreError> {
        self.tokens.lock().map_err(|e| StoreError::Backend(e.to_string()))?.insert(origin.into(), token.clone());
        Ok(())
    }
    fn delete(&self, origin: &str) -> Result<(), StoreError> {
        self.tokens.lock().map_err(|e| StoreError::Backend(e.to_string()))?.remove(origin);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> Token {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        Token::new(format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(payload)))
    }

    #[test]
    fn expiry_is_read_from_the_payload() {
        assert!(jwt(r#"{"exp":100}"#).is_expired(200, 0));
        assert!(!jwt(r#"{"exp":300}"#).is_expired(200, 0));
        assert!(jwt(r#"{"exp":210}"#).is_expired(200, 30), "within the skew margin counts as expired");
        assert!(!jwt(r#"{"sub":"x"}"#).is_expired(200, 0), "no exp: let the server decide");
        assert!(!Token::new("opaque").is_expired(200, 0));
    }

    #[test]
    fn the_user_is_the_email_else_the_subject() {
        assert_eq!(jwt(r#"{"sub":"u1","email":"alice@example.com"}"#).user().as_deref(), Some("alice@example.com"));
        assert_eq!(jwt(r#"{"sub":"u1"}"#).user().as_deref(), Some("u1"));
        assert_eq!(jwt(r#"{"sub":"a\nb"}"#).user().as_deref(), Some("ab"), "no line break reaches a log line");
        assert_eq!(jwt(r#"{"exp":1}"#).user(), None);
        assert_eq!(Token::new("opaque").user(), None);
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", Token::new("secret")), "Token(<redacted>)");
    }
}
