//! The TLS side of the listener: server certificates chosen by SNI, and client certificates
//! requested, checked or required as `downstream_mtls` and the routes ask.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

/// What went wrong building the TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is not usable.
    #[error("{what}: {reason}")]
    Pem {
        /// Which file or field.
        what: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The process-wide crypto provider: ring, AES-128-GCM first (see `porthole_io::tls::provider`).
pub fn provider() -> Arc<CryptoProvider> {
    porthole_io::tls::provider()
}

/// A certificate chain PEM, its key PEM, and a label naming where they came from.
pub type PemPair = (Vec<u8>, Vec<u8>, String);

/// One server certificate chain with its key, and the names it is for.
#[derive(Debug)]
struct NamedKey {
    names: Vec<String>,
    key: Arc<CertifiedKey>,
}

/// Chooses a server certificate by SNI (exact or `*.` wildcard), else the first one.
#[derive(Debug)]
pub struct SniResolver {
    keys: Vec<NamedKey>,
}

impl SniResolver {
    /// Loads each `(chain PEM, key PEM, label)`; `label` names the source in errors.
    ///
    /// # Errors
    /// [`TlsError::Pem`] naming the label when a chain or key cannot be parsed or used.
    pub fn new(pairs: &[PemPair]) -> Result<Self, TlsError> {
        let provider = provider();
        let mut keys = Vec::new();
        for (chain_pem, key_pem, label) in pairs {
            let pem_err = |reason: String| TlsError::Pem { what: label.clone(), reason };
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| pem_err(format!("certificate: {e}")))?;
            if chain.is_empty() {
                return Err(pem_err("no certificate in PEM".into()));
            }
            let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| pem_err(format!("key: {e}")))?;
            let signing = provider.key_provider.load_private_key(key).map_err(|e| pem_err(format!("key: {e}")))?;
            let names = cert_names(&chain[0]);
            keys.push(NamedKey { names, key: Arc::new(CertifiedKey::new(chain, signing)) });
        }
        if keys.is_empty() {
            return Err(TlsError::Pem { what: "certificates".into(), reason: "none configured".into() });
        }
        Ok(Self { keys })
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(sni) = hello.server_name() {
            let sni = sni.to_ascii_lowercase();
            for k in &self.keys {
                if k.names.iter().any(|n| name_matches(n, &sni)) {
                    return Some(k.key.clone());
                }
            }
        }
        self.keys.first().map(|k| k.key.clone())
    }
}

fn name_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => pattern == host,
    }
}

/// DNS names (lower case) in a certificate's subjectAltName.
pub(crate) fn cert_names(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    names
}

/// Parses PEM CA certificates into a root store.
///
/// # Errors
/// [`TlsError::Pem`] when no certificate can be read.
pub fn root_store(pem: &[u8], label: &str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| TlsError::Pem { what: label.into(), reason: e.to_string() })?;
        store.add(cert).map_err(|e| TlsError::Pem { what: label.into(), reason: e.to_string() })?;
    }
    if store.is_empty() {
        return Err(TlsError::Pem { what: label.into(), reason: "no CA certificate in PEM".into() });
    }
    Ok(store)
}

/// Checks a presented client certificate chain against one CA, after the handshake.
#[derive(Debug, Clone)]
pub struct ClientCa {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCa {
    /// A checker for the CA certificates in `pem`.
    ///
    /// # Errors
    /// [`TlsError`] when the PEM holds no usable CA.
    pub fn new(pem: &[u8], label: &str) -> Result<Self, TlsError> {
        let roots = Arc::new(root_store(pem, label)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| TlsError::Pem { what: label.into(), reason: e.to_string() })?;
        Ok(Self { verifier })
    }

    /// `true` if `chain` (leaf first) is a valid client certificate issued under this CA.
    pub fn accepts(&self, chain: &[CertificateDer<'static>]) -> bool {
        let Some((leaf, rest)) = chain.split_first() else {
            return false;
        };
        self.verifier.verify_client_cert(leaf, rest, UnixTime::now()).is_ok()
    }
}

/// Requests a client certificate naming the configured CAs, but lets the handshake finish
/// whatever is presented (Pomerium's `ACCEPT_UNTRUSTED`): the request is then answered 495 by
/// the route check, which a person can read, instead of a bare TLS alert.
#[derive(Debug)]
pub struct RequestClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl RequestClientCert {
    /// Requests certificates from the CAs in `pem`.
    ///
    /// # Errors
    /// [`TlsError`] when the PEM holds no usable CA.
    pub fn new(pem: &[u8]) -> Result<Self, TlsError> {
        Ok(Self { inner: ClientCa::new(pem, "client CA")?.verifier })
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// How the listener treats client certificates.
pub enum ClientAuth {
    /// Never ask.
    None,
    /// Ask, naming these CAs (PEM, concatenated), accept anything; routes check later.
    Request(Vec<u8>),
    /// Require a certificate valid under these CAs, or fail the handshake.
    Require(Vec<u8>),
}

/// Builds the listener's rustls configuration (ALPN `h2`, `http/1.1`).
///
/// # Errors
/// [`TlsError`] for unusable CA PEM or a rustls refusal.
pub fn server_config(resolver: SniResolver, client_auth: ClientAuth) -> Result<rustls::ServerConfig, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Request(pem) => builder.with_client_cert_verifier(Arc::new(RequestClientCert::new(&pem)?)),
        ClientAuth::Require(pem) => {
            let roots = Arc::new(root_store(&pem, "downstream_mtls CA")?);
            let v = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::Pem { what: "downstream_mtls CA".into(), reason: e.to_string() })?;
            builder.with_client_cert_verifier(v)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
    // Records are rustls' own after the handshake too (porthole-io's `tls`, over
    // tokio-rustls): alerts, key updates, close_notify and truncation are handled there.
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn wildcards_match_one_label() {
        assert!(name_matches("*.example.com", "redis.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("localhost", "localhost"));
    }
}
