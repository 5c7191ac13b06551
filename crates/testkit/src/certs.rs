//! Throwaway X.509 PKIs for tests: a CA, server certificates and client certificates.
//!
//! Each [`TestPki`] is an independent CA, so a second one stands in for an "untrusted" CA
//! (a client certificate signed by it must be rejected by a gateway that trusts the first).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key, both PEM-encoded.
#[derive(Clone)]
pub struct CertPair {
    /// The certificate (one PEM block, the leaf only).
    pub cert_pem: String,
    /// The PKCS#8 private key (one PEM block).
    pub key_pem: String,
}

impl std::fmt::Debug for CertPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertPair").field("cert_pem", &self.cert_pem).field("key_pem", &"<redacted>").finish()
    }
}

/// Where [`CertPair::write_to`] put a certificate and its key.
#[derive(Debug, Clone)]
pub struct CertPaths {
    /// Path of the PEM certificate.
    pub cert: PathBuf,
    /// Path of the PEM private key.
    pub key: PathBuf,
}

impl CertPair {
    /// Writes `<stem>.crt` and `<stem>.key` into `dir` and returns their paths.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_to(&self, dir: &Path, stem: &str) -> anyhow::Result<CertPaths> {
        let paths = CertPaths { cert: dir.join(format!("{stem}.crt")), key: dir.join(format!("{stem}.key")) };
        write(&paths.cert, &self.cert_pem)?;
        write(&paths.key, &self.key_pem)?;
        Ok(paths)
    }
}

/// An in-memory certificate authority that signs server and client certificates.
pub struct TestPki {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

impl TestPki {
    /// Creates a new CA named "Porthole Test CA" with a fresh ECDSA P-256 key.
    ///
    /// # Panics
    /// If rcgen fails to generate a key or sign, which does not happen with its defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::named("Porthole Test CA")
    }

    /// Creates a new CA with the given common name (handy to tell two CAs apart in errors).
    ///
    /// # Panics
    /// As [`TestPki::new`].
    #[must_use]
    pub fn named(common_name: &str) -> Self {
        let key = KeyPair::generate().expect("generate CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name = dn(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).expect("self-sign CA");
        Self { ca_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// The CA certificate, PEM-encoded: what a peer must trust.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes the CA certificate as `ca.crt` into `dir` and returns its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_ca_to(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("ca.crt");
        write(&path, &self.ca_pem)?;
        Ok(path)
    }

    /// Signs a server certificate (server-auth EKU) for `names`; each is a DNS name or an IP.
    ///
    /// The first name is also the subject's common name.
    ///
    /// # Panics
    /// If a name is neither a valid DNS name nor an IP address.
    #[must_use]
    pub fn server_cert(&self, names: &[&str]) -> CertPair {
        let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(sans).expect("valid server names");
        params.distinguished_name = dn(names.first().copied().unwrap_or("server"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        self.sign(&params)
    }

    /// Signs a client certificate (client-auth EKU) whose subject CN is `common_name`.
    ///
    /// # Panics
    /// If rcgen fails to sign.
    #[must_use]
    pub fn client_cert(&self, common_name: &str) -> CertPair {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name = dn(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(&params)
    }

    fn sign(&self, params: &CertificateParams) -> CertPair {
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        CertPair { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Porthole tests");
    dn
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("while writing {}", path.display()))
}
