//! The Linux "certificate store": a directory of PEM identities (`*.pem` holding a chain and
//! its key, or `name.crt` + `name.key` pairs), and the resolver that picks one for a server's
//! CertificateRequest the way pomerium-cli's `--client-cert-from-store` does. The macOS and
//! Windows stores ([`super::os_store`]) hand their identities to the same resolver.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::TlsError;
use super::filter::{NameFilter, issuer_acceptable};

/// One usable identity: the certified key plus the DER of its leaf's issuer and subject.
#[derive(Debug)]
pub(super) struct Identity {
    /// Where it came from: its file, or the OS store and the certificate's subject.
    file: PathBuf,
    key: Arc<CertifiedKey>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
}

impl Identity {
    /// An identity from a certified key; `source` names where it came from (logs and tests).
    ///
    /// Errors are sentences: the leaf certificate is missing or does not parse.
    pub(super) fn new(source: PathBuf, key: CertifiedKey) -> Result<Self, String> {
        let (issuer, subject) = {
            let leaf = key.cert.first().ok_or("no certificate")?;
            let (_, x509) = X509Certificate::from_der(leaf.as_ref()).map_err(|e| e.to_string())?;
            (x509.issuer().as_raw().to_vec(), x509.subject().as_raw().to_vec())
        };
        Ok(Self { file: source, key: Arc::new(key), issuer, subject })
    }
}

/// Chooses a client identity from a directory for each CertificateRequest.
#[derive(Debug)]
pub struct StoreResolver {
    identities: Vec<Identity>,
    issuer: Option<NameFilter>,
    subject: Option<NameFilter>,
}

impl StoreResolver {
    /// Loads every identity in `dir` (sorted by file name; unreadable files are skipped).
    ///
    /// # Errors
    /// [`TlsError::Store`] when the directory cannot be read or holds no identity.
    pub fn load(dir: &Path, issuer: Option<NameFilter>, subject: Option<NameFilter>) -> Result<Self, TlsError> {
        let store_err = |reason: String| TlsError::Store { dir: dir.to_owned(), reason };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| store_err(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        let mut identities = Vec::new();
        for file in files {
            let (cert_file, key_file) = match file.extension().and_then(|e| e.to_str()) {
                Some("pem") => (file.clone(), file.clone()),
                Some("crt") => (file.clone(), file.with_extension("key")),
                _ => continue,
            };
            match load_identity(&cert_file, &key_file) {
                Ok(identity) => identities.push(identity),
                Err(reason) => tracing::debug!(file = %file.display(), %reason, "skipping client identity"),
            }
        }
        if identities.is_empty() {
            return Err(store_err(
                "no client identity found (expected *.pem with certificate and key, or name.crt + name.key)".into(),
            ));
        }
        Ok(Self::from_identities(identities, issuer, subject))
    }

    /// A resolver over identities an OS store already loaded.
    pub(super) fn from_identities(
        identities: Vec<Identity>,
        issuer: Option<NameFilter>,
        subject: Option<NameFilter>,
    ) -> Self {
        Self { identities, issuer, subject }
    }

    /// The file of the identity chosen for these acceptable-CA hints, if any (for tests and logs).
    #[must_use]
    pub fn choose(&self, root_hint_subjects: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<&Path> {
        self.pick(root_hint_subjects, sigschemes).map(|i| i.file.as_path())
    }

    fn pick(&self, hints: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<&Identity> {
        self.identities.iter().find(|i| {
            issuer_acceptable(&i.issuer, hints)
                && self.issuer.as_ref().is_none_or(|f| f.matches_der(&i.issuer))
                && self.subject.as_ref().is_none_or(|f| f.matches_der(&i.subject))
                && (sigschemes.is_empty() || i.key.key.choose_scheme(sigschemes).is_some())
        })
    }
}

impl ResolvesClientCert for StoreResolver {
    fn resolve(&self, root_hint_subjects: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let chosen = self.pick(root_hint_subjects, sigschemes);
        tracing::debug!(file = ?chosen.map(|i| &i.file), "client certificate requested");
        chosen.map(|i| Arc::clone(&i.key))
    }

    fn has_certs(&self) -> bool {
        !self.identities.is_empty()
    }
}

fn load_identity(cert_file: &Path, key_file: &Path) -> Result<Identity, String> {
    let cert_pem = std::fs::read(cert_file).map_err(|e| e.to_string())?;
    let key_pem =
        if cert_file == key_file { cert_pem.clone() } else { std::fs::read(key_file).map_err(|e| e.to_string())? };
    let key = certified_key(&cert_pem, &key_pem)?;
    Identity::new(cert_file.to_owned(), key)
}

/// Parses a PEM chain and key into a [`CertifiedKey`] signed with ring.
///
/// Errors are sentences starting with what failed ("client certificate: …" / "client key: …").
pub(super) fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("client certificate: {e}"))?;
    if chain.is_empty() {
        return Err("client certificate: no PEM certificate found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("client key: {e}"))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| format!("client key: {e}"))?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(e) => Err(format!("client key: does not match the certificate: {e}")),
    }
}
