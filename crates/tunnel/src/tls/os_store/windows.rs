//! Windows: client identities from the `MY` ("Personal") certificate store of the current user,
//! then of the local machine (pomerium-cli's order), through CNG (`rustls-cng`). The private
//! key stays in its key storage provider (a smart card or TPM works): CNG signs each handshake,
//! silently (no PIN prompt from a background tunnel; such keys are skipped).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_cng::signer::CngSigningKey;
use rustls_cng::store::{CertStore, CertStoreType};
use rustls_pki_types::CertificateDer;

use crate::tls::store::Identity;

/// Every certificate in the two `MY` stores whose private key CNG can use, with its chain.
///
/// Errors are sentences: neither store could be opened.
pub(super) fn identities() -> Result<Vec<Identity>, String> {
    let mut identities = Vec::new();
    let mut opened = 0;
    for (kind, name) in [(CertStoreType::CurrentUser, "current user"), (CertStoreType::LocalMachine, "local machine")] {
        let certs = match CertStore::open(kind, "My").and_then(|store| store.find_all()) {
            Ok(certs) => certs,
            Err(e) => {
                tracing::debug!(store = name, error = %e, "cannot read the MY certificate store");
                continue;
            }
        };
        opened += 1;
        for cert in certs {
            let Ok(key) = cert.acquire_key(true) else { continue };
            let signer = match CngSigningKey::new(key) {
                Ok(signer) => signer,
                Err(e) => {
                    tracing::debug!(store = name, error = %e, "skipping a certificate whose key CNG cannot use");
                    continue;
                }
            };
            let chain = cert.as_chain_der().unwrap_or_else(|_| vec![cert.as_der().to_vec()]);
            let chain = chain.into_iter().map(CertificateDer::from).collect();
            let source = PathBuf::from(format!("certstore:{name}"));
            match Identity::new(source, CertifiedKey::new(chain, Arc::new(signer))) {
                Ok(identity) => identities.push(identity),
                Err(reason) => tracing::debug!(store = name, %reason, "skipping a certificate"),
            }
        }
    }
    if opened == 0 {
        return Err("neither the current user's nor the local machine's MY store could be read".into());
    }
    Ok(identities)
}
