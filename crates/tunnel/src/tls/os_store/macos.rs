//! macOS: client identities from the Keychain through Security.framework (`security-framework`).
//! The private key stays in the Keychain (it need not be exportable): each handshake signature
//! is made by `SecKeyCreateSignature`, which may show the Keychain's own access prompt.
//! Only the leaf is sent (pomerium-cli rebuilds the chain from the Keychain; servers that need
//! an intermediate must have it configured).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls_pki_types::CertificateDer;
use security_framework::item::{ItemClass, ItemSearchOptions, Limit, Reference, SearchResult};
use security_framework::key::{Algorithm, SecKey};

use super::KeyKind;
use crate::tls::store::Identity;

/// Every Keychain identity (certificate + private key) whose key Porthole can sign with.
///
/// Errors are sentences: the Keychain search failed.
pub(super) fn identities() -> Result<Vec<Identity>, String> {
    let found = ItemSearchOptions::new()
        .class(ItemClass::identity())
        .load_refs(true)
        .limit(Limit::All)
        .search()
        .map_err(|e| format!("the search for identities failed: {e}"))?;
    let mut identities = Vec::new();
    for result in found {
        let SearchResult::Ref(Reference::Identity(identity)) = result else { continue };
        let (Ok(cert), Ok(key)) = (identity.certificate(), identity.private_key()) else { continue };
        let leaf = cert.to_der();
        let kind = match KeyKind::of_certificate(&leaf) {
            Ok(kind) => kind,
            Err(reason) => {
                tracing::debug!(subject = %cert.subject_summary(), %reason, "skipping Keychain identity");
                continue;
            }
        };
        let source = PathBuf::from(format!("keychain:{}", cert.subject_summary()));
        let certified = CertifiedKey::new(vec![CertificateDer::from(leaf)], Arc::new(KeychainKey { key, kind }));
        match Identity::new(source, certified) {
            Ok(identity) => identities.push(identity),
            Err(reason) => tracing::debug!(%reason, "skipping Keychain identity"),
        }
    }
    Ok(identities)
}

/// A private key held by the Keychain.
#[derive(Debug)]
struct KeychainKey {
    key: SecKey,
    kind: KeyKind,
}

impl SigningKey for KeychainKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self.kind.schemes().iter().find(|s| offered.contains(s))?;
        Some(Box::new(KeychainSigner { key: self.key.clone(), scheme: *scheme }))
    }

    fn algorithm(&self) -> rustls::SignatureAlgorithm {
        self.kind.algorithm()
    }
}

/// One handshake's signature by a Keychain key.
#[derive(Debug)]
struct KeychainSigner {
    key: SecKey,
    scheme: SignatureScheme,
}

impl Signer for KeychainSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        // The "Message" algorithms hash the input themselves; ECDSA's X9.62 output is the DER
        // signature TLS carries, and PSS uses a salt as long as the hash, as TLS requires.
        let algorithm = match self.scheme {
            SignatureScheme::ECDSA_NISTP256_SHA256 => Algorithm::ECDSASignatureMessageX962SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384 => Algorithm::ECDSASignatureMessageX962SHA384,
            SignatureScheme::RSA_PSS_SHA256 => Algorithm::RSASignatureMessagePSSSHA256,
            SignatureScheme::RSA_PSS_SHA384 => Algorithm::RSASignatureMessagePSSSHA384,
            SignatureScheme::RSA_PSS_SHA512 => Algorithm::RSASignatureMessagePSSSHA512,
            SignatureScheme::RSA_PKCS1_SHA256 => Algorithm::RSASignatureMessagePKCS1v15SHA256,
            SignatureScheme::RSA_PKCS1_SHA384 => Algorithm::RSASignatureMessagePKCS1v15SHA384,
            SignatureScheme::RSA_PKCS1_SHA512 => Algorithm::RSASignatureMessagePKCS1v15SHA512,
            other => return Err(rustls::Error::General(format!("the Keychain key cannot sign with {other:?}"))),
        };
        self.key
            .create_signature(algorithm, message)
            .map_err(|e| rustls::Error::General(format!("the Keychain did not sign with the client key: {e}")))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}
