//! Sealed values: small payloads encrypted and authenticated (AES-256-GCM) with a key derived
//! from the signing key, so login state can ride in a cookie and any replica can open it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Seals and opens values with one key.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// A sealer for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(key.into()) }
    }

    /// Encrypts `plain`; the result is URL- and cookie-safe text.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), plain).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts what [`Sealer::seal`] produced; `None` if it was tampered with, truncated, or
    /// sealed with another key.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let (nonce, body) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        self.cipher.decrypt(&Nonce::from(nonce), body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let s = Sealer::new(&[7u8; 32]);
        let sealed = s.seal(b"hello");
        assert_eq!(s.open(&sealed).as_deref(), Some(&b"hello"[..]));
        let mut bad = sealed.into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(s.open(std::str::from_utf8(&bad).unwrap()), None, "tampering must be detected");
        assert_eq!(Sealer::new(&[8u8; 32]).open(&s.seal(b"x")), None, "another key cannot open it");
    }
}
