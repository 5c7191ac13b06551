//! The client TLS configuration (docs/protocol.md §4.1): platform roots plus an extra CA, optional
//! "trust anything", ALPN `http/1.1`, and a client identity from PEM files or from a store.
//!
//! - [`filter`]: `attr=value` certificate filters and DN matching (platform-neutral).
//! - [`store`]: the Linux identity directory and its CertificateRequest resolver.
//! - [`os_store`]: the store `--client-cert-from-store` reads on this platform (the directory on
//!   Linux, the Keychain on macOS, the `MY` stores on Windows).
//! - [`verify`]: the proxy-certificate verifier (a configured CA presented as the server's own
//!   certificate is trusted, as pomerium-cli does) and the `--disable-tls-verification` one.
//! - [`explain`]: a refused certificate as a sentence.
//!
//! The stream itself (handshake and records) and the crypto provider are porthole-io's
//! [`porthole_io::tls`], shared with the gateway.

pub mod explain;
pub mod filter;
pub mod os_store;
pub mod store;
pub mod verify;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

pub use filter::{FilterError, NameAttr, NameFilter};

/// ALPN offered to the proxy, exactly pomerium-cli's.
pub const ALPN: &[u8] = b"http/1.1";

/// What the TLS configuration is built from (the CLI's TLS flags, decoded).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--disable-tls-verification`: accept any server certificate.
    pub disable_verification: bool,
    /// `--alternate-ca-path` / `--ca-cert`, as PEM: added to the platform roots.
    pub ca_pem: Option<Vec<u8>>,
    /// How `ca_pem` was given, for error sentences (`--alternate-ca-path /etc/ca.pem`).
    pub ca_label: Option<String>,
    /// The client certificate to present, if any.
    pub client: Option<ClientIdentity>,
}

/// A PEM private key; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPem(pub Vec<u8>);

impl fmt::Debug for KeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<Vec<u8>> for KeyPem {
    fn from(pem: Vec<u8>) -> Self {
        Self(pem)
    }
}

/// Where the client certificate comes from.
#[derive(Debug, Clone)]
pub enum ClientIdentity {
    /// `--client-cert` + `--client-key`: always presented when the server asks.
    Pem {
        /// The certificate chain, leaf first, PEM.
        cert_pem: Vec<u8>,
        /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
        key_pem: KeyPem,
    },
    /// `--client-cert-from-store`: on Linux a directory of PEM identities, on macOS the
    /// Keychain, on Windows the `MY` stores ([`os_store`]); one is chosen per handshake by the
    /// server's acceptable CAs and the filters.
    Store {
        /// The directory (`*.pem` with chain and key, or `name.crt` + `name.key`); Linux only.
        dir: PathBuf,
        /// `--client-cert-issuer`: a test on the leaf's issuer DN.
        issuer: Option<NameFilter>,
        /// `--client-cert-subject`: a test on the leaf's subject DN.
        subject: Option<NameFilter>,
    },
}

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The extra CA held no usable certificate (pomerium-cli's wording).
    #[error("failed to append any PEM-encoded certificates")]
    CaPem,
    /// The client certificate or key could not be loaded; the reason starts with
    /// "client certificate:" or "client key:".
    #[error("{0}")]
    ClientIdentity(String),
    /// The identity store could not be read or is empty.
    #[error("client certificate store {dir}: {reason}")]
    Store {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration (should not happen with ring's defaults).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Builds the client configuration every tunnel and login request to the proxy uses.
///
/// # Errors
/// [`TlsError::CaPem`] when `ca_pem` holds no certificate, [`TlsError::ClientIdentity`] /
/// [`TlsError::Store`] when the client identity cannot be loaded.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = porthole_io::tls::provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
    let builder = if opts.disable_verification {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(verify::AcceptAnyServerCert::new(provider)))
    } else {
        let anchors = match opts.ca_pem.as_deref() {
            Some(pem) => CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).collect(),
            None => Vec::new(),
        };
        let roots = roots(opts.ca_pem.is_some().then_some(anchors.as_slice()))?;
        let verifier = verify::ProxyVerifier::new(roots, anchors, opts.ca_label.clone(), provider)?;
        builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
    };
    let mut config = match &opts.client {
        None => builder.with_no_client_auth(),
        Some(ClientIdentity::Pem { cert_pem, key_pem }) => {
            let key = store::certified_key(cert_pem, &key_pem.0).map_err(TlsError::ClientIdentity)?;
            builder.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)))
        }
        Some(ClientIdentity::Store { dir, issuer, subject }) => {
            builder.with_client_cert_resolver(os_store::resolver(dir, issuer.clone(), subject.clone())?)
        }
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The platform's roots (or Mozilla's when the platform has none), plus the `extra` CAs (when
/// given, at least one must be usable).
fn roots(extra: Option<&[CertificateDer<'static>]>) -> Result<RootCertStore, TlsError> {
    let mut roots = platform_roots().clone();
    if let Some(certs) = extra {
        let added = certs.iter().filter(|c| roots.add((*c).clone()).is_ok()).count();
        if added == 0 {
            return Err(TlsError::CaPem);
        }
    }
    Ok(roots)
}

/// Loaded once per process: reading the system bundle costs milliseconds.
fn platform_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "platform trust store");
        }
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            tracing::debug!("no platform roots, using the Mozilla roots");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}
