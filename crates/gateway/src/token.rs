//! Session tokens: the JWTs the gateway signs after a login and verifies on every CONNECT.
//!
//! Tokens are ES256 (ECDSA P-256) JWTs signed with `signing_key`, so every replica that shares
//! the key verifies every other replica's tokens, and the gateway keeps no session table. The
//! algorithm is pinned on verify: a token signed with anything else, by anyone else, past its
//! `exp` or before its `nbf` is refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde_json::{Map, Value};

use crate::policy::Identity;

/// Claims an identity provider's ID token carries that describe the token itself rather than
/// the user; they are not copied into our session token.
const NOT_COPIED: &[&str] = &[
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "azp",
    "sid",
    "acr",
    "amr",
];

/// Clock skew forgiven on `nbf`: a token minted by a replica whose clock runs a little ahead is
/// still accepted.
pub const NBF_LEEWAY_SECS: u64 = 30;

/// Why a presented token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The token is past its `exp`.
    #[error("the session token has expired; log in again")]
    Expired,
    /// The token's `nbf` is in the future (beyond [`NBF_LEEWAY_SECS`]).
    #[error("the session token is not valid yet; check the clocks, or log in again")]
    NotYetValid,
    /// Bad signature, wrong algorithm, wrong issuer, or not a JWT at all.
    #[error("the session token is not valid for this gateway")]
    Invalid,
}

/// Why the signing key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("signing_key is not a PEM EC P-256 private key (SEC1 or PKCS#8)")]
pub struct KeyError;

/// The gateway's token signer and verifier.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The public key as a JWK (with `kid`, `alg`, `use`).
    jwk: Value,
    kid: String,
    issuer: String,
    lifetime: Duration,
    /// Secret bytes other keys (the login cookie key) are derived from.
    seed: Vec<u8>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl TokenKeys {
    /// Loads `signing_key` (PEM text), or generates a key when `None`. Returns the keys and
    /// whether the key was generated (the caller warns: tokens die with the process).
    ///
    /// # Errors
    /// [`KeyError`] when the PEM is not an EC P-256 private key.
    pub fn new(pem: Option<&str>, issuer: String, lifetime: Duration) -> Result<(Self, bool), KeyError> {
        let (secret, generated) = match pem {
            Some(pem) => {
                let pem = pem.trim();
                let key = p256::SecretKey::from_sec1_pem(pem)
                    .or_else(|_| p256::SecretKey::from_pkcs8_pem(pem))
                    .map_err(|_| KeyError)?;
                (key, false)
            }
            None => (p256::SecretKey::random(&mut rand::rngs::OsRng), true),
        };
        let der = secret.to_pkcs8_der().map_err(|_| KeyError)?;
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let public = secret.public_key();
        let jwk: Value = serde_json::from_str(&public.to_jwk_string()).map_err(|_| KeyError)?;
        let x = jwk["x"].as_str().ok_or(KeyError)?;
        let y = jwk["y"].as_str().ok_or(KeyError)?;
        let decoding = DecodingKey::from_ec_components(x, y).map_err(|_| KeyError)?;
        let kid = key_id(x, y);
        let mut jwk = jwk;
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), kid.clone().into());
            obj.insert("alg".into(), "ES256".into());
            obj.insert("use".into(), "sig".into());
        }
        let seed = secret.to_bytes().to_vec();
        Ok((Self { encoding, decoding, jwk, kid, issuer, lifetime, seed }, generated))
    }

    /// The JSON Web Key Set served at `/.well-known/pomerium/jwks.json`.
    pub fn jwks(&self) -> Value {
        serde_json::json!({ "keys": [self.jwk.clone()] })
    }

    /// Secret bytes to derive other keys from (never logged).
    pub(crate) fn seed(&self) -> &[u8] {
        &self.seed
    }

    /// Signs a session token for the user described by `id_claims` (the verified claims of the
    /// identity provider's ID token).
    ///
    /// # Errors
    /// Only if signing itself fails, which it does not for a valid key.
    pub fn issue(&self, id_claims: &Map<String, Value>) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let mut claims: Map<String, Value> = id_claims
            .iter()
            .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + self.lifetime.as_secs()).into());
        claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
    }

    /// Verifies a presented token and returns who it names.
    ///
    /// # Errors
    /// [`TokenError::Expired`] past `exp`; [`TokenError::Invalid`] for anything else wrong.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_aud = false;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let claims = data.claims;
        match claims.get("nbf") {
            None => {}
            Some(nbf) => {
                let nbf = nbf.as_f64().ok_or(TokenError::Invalid)?;
                if nbf > (unix_now() + NBF_LEEWAY_SECS) as f64 {
                    return Err(TokenError::NotYetValid);
                }
            }
        }
        let user = claims.get("sub").and_then(Value::as_str).ok_or(TokenError::Invalid)?.to_owned();
        let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
        Ok(Identity { user, email, claims })
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A short, stable key id: the first 16 hex digits of SHA-256 over the public coordinates.
fn key_id(x: &str, y: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{x}.{y}"));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Derives a 32-byte key for `purpose` from the signing key (HKDF-SHA-256).
pub(crate) fn derive_key(seed: &[u8], purpose: &str) -> [u8; 32] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"porthole-gateway"), seed);
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA-256 output length.
    if hk.expand(purpose.as_bytes(), &mut out).is_err() {
        out = [0u8; 32];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(None, "https://auth.test".into(), Duration::from_secs(60)).unwrap().0
    }

    #[test]
    fn issued_token_verifies_and_carries_claims() {
        let k = keys();
        let mut c = Map::new();
        c.insert("sub".into(), "alice".into());
        c.insert("email".into(), "alice@example.com".into());
        c.insert("groups".into(), serde_json::json!(["admins"]));
        c.insert("nonce".into(), "n".into());
        let t = k.issue(&c).unwrap();
        let who = k.verify(&t).unwrap();
        assert_eq!(who.user, "alice");
        assert_eq!(who.email.as_deref(), Some("alice@example.com"));
        assert_eq!(who.claims["groups"], serde_json::json!(["admins"]));
        assert!(!who.claims.contains_key("nonce"), "IdP token plumbing is not copied");
    }

    #[test]
    fn token_from_another_key_is_invalid() {
        let (a, b) = (keys(), keys());
        let mut c = Map::new();
        c.insert("sub".into(), "alice".into());
        let t = a.issue(&c).unwrap();
        assert_eq!(b.verify(&t), Err(TokenError::Invalid), "another gateway's token must be refused");
    }

    #[test]
    fn hs256_token_is_refused_even_with_right_claims() {
        let k = keys();
        let claims = serde_json::json!({"sub":"alice","iss":"https://auth.test","exp": unix_now() + 60});
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(b"secret"))
            .unwrap();
        assert_eq!(k.verify(&t), Err(TokenError::Invalid), "the algorithm is pinned to ES256");
    }

    #[test]
    fn expired_token_is_expired() {
        let (k, _) = TokenKeys::new(None, "https://auth.test".into(), Duration::from_secs(0)).unwrap();
        let claims = serde_json::json!({"sub":"alice","iss":"https://auth.test","exp": unix_now() - 5});
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(k.kid.clone());
        let t = jsonwebtoken::encode(&h, &claims, &k.encoding).unwrap();
        assert_eq!(k.verify(&t), Err(TokenError::Expired));
    }

    #[test]
    fn future_nbf_is_not_yet_valid() {
        let k = keys();
        let sign = |nbf: serde_json::Value| {
            let claims =
                serde_json::json!({"sub":"alice","iss":"https://auth.test","exp": unix_now() + 3600, "nbf": nbf});
            let mut h = Header::new(Algorithm::ES256);
            h.kid = Some(k.kid.clone());
            jsonwebtoken::encode(&h, &claims, &k.encoding).unwrap()
        };
        assert_eq!(k.verify(&sign((unix_now() + 600).into())), Err(TokenError::NotYetValid), "nbf 10 min ahead");
        assert!(k.verify(&sign((unix_now() + 5).into())).is_ok(), "5 s of clock skew is forgiven");
        assert!(k.verify(&sign((unix_now() - 60).into())).is_ok(), "nbf in the past is fine");
        assert_eq!(k.verify(&sign("soon".into())), Err(TokenError::Invalid), "a non-numeric nbf is malformed");
    }

    #[test]
    fn debug_redacts() {
        assert!(format!("{:?}", keys()).contains("<redacted>"));
    }
}
