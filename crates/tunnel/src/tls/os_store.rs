//! The certificate store `--client-cert-from-store` reads on this platform, behind one function,
//! [`resolver`]: the identity directory on Linux and other Unixes ([`super::store`], as before),
//! the Keychain on macOS (`macos`, Security.framework), the `MY` certificate stores of the
//! current user and then the local machine on Windows (`windows`, CNG), as pomerium-cli does
//! (docs/protocol.md §4.1). On every platform the same [`StoreResolver`] picks, per handshake,
//! the first identity whose issuer the server accepts and which passes the issuer and subject
//! filters ([`super::filter`]).

#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

use std::path::Path;
use std::sync::Arc;

use rustls::client::ResolvesClientCert;

use super::TlsError;
use super::filter::NameFilter;
use super::store::StoreResolver;

/// The client-certificate resolver for "certificate from the store": on Linux the identities in
/// `dir`; on macOS and Windows the OS store's identities that have a private key (`dir` is not
/// read there).
///
/// # Errors
/// [`TlsError::Store`] when the store cannot be read or holds no usable identity; the message
/// names the store.
pub fn resolver(
    dir: &Path,
    issuer: Option<NameFilter>,
    subject: Option<NameFilter>,
) -> Result<Arc<dyn ResolvesClientCert>, TlsError> {
    #[cfg(any(target_os = "macos", windows))]
    {
        let _ = dir;
        #[cfg(target_os = "macos")]
        let (store, found) = ("the macOS Keychain", macos::identities());
        #[cfg(windows)]
        let (store, found) = ("the Windows MY certificate stores", windows::identities());
        let store_err = |reason: String| TlsError::Store { dir: store.into(), reason };
        let identities = found.map_err(store_err)?;
        if identities.is_empty() {
            return Err(store_err("no certificate with a private key found".into()));
        }
        Ok(Arc::new(StoreResolver::from_identities(identities, issuer, subject)))
    }
    #[cfg(not(any(target_os = "macos", windows)))]
    {
        Ok(Arc::new(StoreResolver::load(dir, issuer, subject)?))
    }
}

/// What a key held by the OS signs with, read from its certificate's public key (the key itself
/// may not be exportable).
#[cfg(any(target_os = "macos", test))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// RSA: PSS first (TLS 1.3 requires it), then PKCS#1 v1.5 (TLS 1.2).
    Rsa,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

#[cfg(any(target_os = "macos", test))]
impl KeyKind {
    /// The kind of the leaf certificate's public key.
    ///
    /// Errors are sentences: the certificate does not parse, or its key is of another kind.
    fn of_certificate(leaf_der: &[u8]) -> Result<Self, String> {
        use x509_parser::prelude::{FromDer as _, X509Certificate};
        let (_, cert) = X509Certificate::from_der(leaf_der).map_err(|e| format!("certificate: {e}"))?;
        let spki = &cert.tbs_certificate.subject_pki;
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
        match (algorithm.as_str(), curve.as_deref()) {
            ("1.2.840.113549.1.1.1", _) => Ok(Self::Rsa),
            ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => Ok(Self::EcdsaP256),
            ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => Ok(Self::EcdsaP384),
            (alg, curve) => Err(format!("unsupported client key type {alg} (curve {curve:?})")),
        }
    }

    /// The TLS signature schemes this key can make, in order of preference.
    fn schemes(self) -> &'static [rustls::SignatureScheme] {
        use rustls::SignatureScheme as S;
        match self {
            Self::Rsa => &[
                S::RSA_PSS_SHA256,
                S::RSA_PSS_SHA384,
                S::RSA_PSS_SHA512,
                S::RSA_PKCS1_SHA256,
                S::RSA_PKCS1_SHA384,
                S::RSA_PKCS1_SHA512,
            ],
            Self::EcdsaP256 => &[S::ECDSA_NISTP256_SHA256],
            Self::EcdsaP384 => &[S::ECDSA_NISTP384_SHA384],
        }
    }

    /// rustls's name for the key's algorithm.
    fn algorithm(self) -> rustls::SignatureAlgorithm {
        match self {
            Self::Rsa => rustls::SignatureAlgorithm::RSA,
            Self::EcdsaP256 | Self::EcdsaP384 => rustls::SignatureAlgorithm::ECDSA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(alg: &'static rcgen::SignatureAlgorithm) -> Vec<u8> {
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let params = rcgen::CertificateParams::new(vec!["client.example".into()]).unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn key_kind_comes_from_the_certificate() {
        assert_eq!(KeyKind::of_certificate(&leaf(&rcgen::PKCS_ECDSA_P256_SHA256)), Ok(KeyKind::EcdsaP256));
        assert_eq!(KeyKind::of_certificate(&leaf(&rcgen::PKCS_ECDSA_P384_SHA384)), Ok(KeyKind::EcdsaP384));
        let ed = KeyKind::of_certificate(&leaf(&rcgen::PKCS_ED25519)).unwrap_err();
        assert!(ed.starts_with("unsupported client key type 1.3.101.112"), "{ed}");
        assert!(KeyKind::of_certificate(b"not a certificate").unwrap_err().starts_with("certificate: "));
    }

    #[test]
    fn schemes_match_the_key() {
        use rustls::SignatureScheme as S;
        assert_eq!(KeyKind::EcdsaP256.schemes(), [S::ECDSA_NISTP256_SHA256]);
        assert_eq!(KeyKind::Rsa.schemes()[0], S::RSA_PSS_SHA256, "PSS first: TLS 1.3 has no PKCS#1 v1.5");
        assert!(KeyKind::Rsa.schemes().contains(&S::RSA_PKCS1_SHA256), "TLS 1.2 servers may want PKCS#1");
        assert_eq!(KeyKind::EcdsaP384.algorithm(), rustls::SignatureAlgorithm::ECDSA);
        assert_eq!(KeyKind::Rsa.algorithm(), rustls::SignatureAlgorithm::RSA);
    }
}
