//! The zero-setup certificate: when the config names no server certificate, the gateway
//! serves a self-signed one that it keeps beside the config file, so clients can pin it
//! (`porthole tcp --alternate-ca-path <cert>`) and go on trusting it across restarts.
//!
//! Pomerium does the same with a catch-all certificate (DNS name `*`, ECDSA P-256, valid from
//! 2022-12-01 to 2050-12-01, extended key usage serverAuth) issued by a CA derived from its
//! `shared_secret`. This gateway has no shared secret to derive from, and a client pins a
//! certificate by trusting it directly, so the certificate here is self-signed, not a CA
//! (webpki refuses a CA certificate as a server's), with the same key type, validity window
//! and usage, and the names clients dial (`localhost`, loopback addresses, the routes' hosts).
//!
//! It is generated again only when a file is missing, cannot be read or parsed, the key does
//! not belong to the certificate, or the certificate is outside its validity; each case is
//! logged with its reason. The key never reaches a log line or an error message.

use std::io::Read as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::tls::{self, PemPair, TlsError};

/// File name of the saved certificate, beside the config file.
pub const CERT_FILE: &str = "porthole-gateway-self-signed.crt";
/// File name of the saved private key (mode 0600), beside the config file.
pub const KEY_FILE: &str = "porthole-gateway-self-signed.key";
/// Largest certificate or key file read back (a PEM of one P-256 key is under 1 KiB).
const MAX_FILE: u64 = 64 * 1024;
/// Most names put in the certificate (a config with thousands of routes keeps a sane size).
const MAX_NAMES: usize = 256;

/// Where the self-signed certificate lives and which names it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    /// The certificate (PEM): the file clients pass to `--alternate-ca-path`.
    pub cert_path: PathBuf,
    /// Its private key (PEM, PKCS#8, mode 0600).
    pub key_path: PathBuf,
    /// DNS names and IP addresses put in a newly generated certificate.
    pub names: Vec<String>,
    /// `false` under `--validate`: a missing or unusable file is generated in memory only.
    pub save: bool,
}

impl SelfSigned {
    /// The files beside the config (in `base_dir`), for `localhost`, `127.0.0.1`, `::1` and
    /// `hosts` (deduplicated, capped at 256).
    pub fn beside_config(base_dir: &Path, hosts: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).to_vec();
        for host in hosts {
            let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
            if !host.is_empty() && !names.contains(&host) && names.len() < MAX_NAMES {
                names.push(host);
            }
        }
        let dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_owned());
        Self { cert_path: dir.join(CERT_FILE), key_path: dir.join(KEY_FILE), names, save: true }
    }

    /// The saved certificate and key, or new ones (saved unless `save` is off). Logs which,
    /// and why a new one was made.
    ///
    /// # Errors
    /// [`TlsError::Pem`] when a new certificate cannot be generated or saved (e.g. the config's
    /// folder is not writable), with what to do about it.
    pub fn load_or_generate(&self) -> Result<PemPair, TlsError> {
        let cert = self.cert_path.display();
        let reason = match self.load() {
            Ok((cert_pem, key_pem)) => {
                self.warn_missing_names(&cert_pem);
                tracing::warn!(
                    "no server certificate configured: serving the self-signed certificate saved in {cert}; \
                     clients trust it with `--alternate-ca-path {cert}`"
                );
                return Ok((cert_pem, key_pem, format!("self-signed certificate {cert}")));
            }
            Err(reason) => reason,
        };
        let (cert_pem, key_pem) = generate(&self.names)?;
        if !self.save {
            tracing::warn!(
                "no server certificate configured: at start, a self-signed certificate will be saved in {cert}"
            );
            return Ok((cert_pem, key_pem, "self-signed certificate (not saved)".to_owned()));
        }
        self.write(&cert_pem, &key_pem)?;
        let names = self.names.join(", ");
        match reason {
            Unusable::Missing => tracing::warn!(
                "no server certificate configured: generated a self-signed certificate for {names}, saved in {cert} \
                 (key in {}, mode 0600); clients trust it with `--alternate-ca-path {cert}`",
                self.key_path.display()
            ),
            Unusable::Bad(why) => tracing::warn!(
                "the saved self-signed certificate {cert} was not usable ({why}); generated a new one for {names} \
                 and saved it there: clients that pinned the old one must pin {cert} again"
            ),
        }
        Ok((cert_pem, key_pem, format!("self-signed certificate {cert}")))
    }

    /// The saved pair when it is complete, parses, matches and is valid now.
    fn load(&self) -> Result<(Vec<u8>, Vec<u8>), Unusable> {
        let cert_pem = read_capped(&self.cert_path)?;
        let key_pem = read_capped(&self.key_path)?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem)
                .collect::<Result<_, _>>()
                .map_err(|e| Unusable::Bad(format!("the certificate is not PEM: {e}")))?;
        let Some(leaf) = chain.first().cloned() else {
            return Err(Unusable::Bad("the certificate file holds no certificate".into()));
        };
        // The key's parse error names the PEM problem, never the key's bytes.
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| Unusable::Bad(format!("the key file is not a PEM private key: {e}")))?;
        let signing = tls::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| Unusable::Bad(format!("the key cannot be used: {e}")))?;
        CertifiedKey::new(chain, signing)
            .keys_match()
            .map_err(|_| Unusable::Bad("the key does not belong to the certificate".into()))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| Unusable::Bad(format!("the certificate cannot be parsed: {e}")))?;
        let validity = parsed.validity();
        if !validity.is_valid() {
            return Err(Unusable::Bad(format!(
                "it is valid only from {} to {}",
                validity.not_before, validity.not_after
            )));
        }
        Ok((cert_pem, key_pem))
    }

    /// Warns about wanted DNS names the saved certificate lacks (routes added since).
    fn warn_missing_names(&self, cert_pem: &[u8]) {
        let Some(Ok(leaf)) = CertificateDer::pem_slice_iter(cert_pem).next() else { return };
        let have = tls::cert_names(&leaf);
        let missing: Vec<&str> = self
            .names
            .iter()
            .filter(|n| n.parse::<IpAddr>().is_err() && !have.contains(n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                "the saved self-signed certificate {} does not name {}; delete it and {} to generate one that does \
                 (clients then pin the new one)",
                self.cert_path.display(),
                missing.join(", "),
                self.key_path.display()
            );
        }
    }

    /// Saves both files, each written whole to a temporary name and renamed into place.
    fn write(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), TlsError> {
        let fail = |path: &Path, e: std::io::Error| TlsError::Pem {
            what: format!("self-signed certificate: {}", path.display()),
            reason: format!(
                "cannot save it ({e}); make the config's folder writable by the gateway, \
                 or configure certificate_file and certificate_key_file"
            ),
        };
        write_atomic(&self.key_path, key_pem, true).map_err(|e| fail(&self.key_path, e))?;
        write_atomic(&self.cert_path, cert_pem, false).map_err(|e| fail(&self.cert_path, e))
    }
}

/// Why the saved pair is not used.
#[derive(Debug)]
enum Unusable {
    /// A file does not exist: first start.
    Missing,
    /// A file exists but cannot serve; the reason (never the key's content).
    Bad(String),
}

/// Reads at most [`MAX_FILE`] bytes of `path`.
fn read_capped(path: &Path) -> Result<Vec<u8>, Unusable> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing),
        Err(e) => return Err(Unusable::Bad(format!("cannot read {}: {e}", path.display()))),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Unusable::Bad(format!("cannot read {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(Unusable::Bad(format!("{} is larger than {MAX_FILE} bytes", path.display())));
    }
    Ok(bytes)
}

/// A new self-signed ECDSA P-256 certificate for `names` and its PKCS#8 key, both PEM.
///
/// # Errors
/// [`TlsError::Pem`] if rcgen refuses (it does not with these parameters).
pub fn generate(names: &[String]) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let fail = |e: rcgen::Error| TlsError::Pem { what: "self-signed certificate".into(), reason: e.to_string() };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::default();
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => rcgen::SanType::IpAddress(ip),
            Err(_) => match rcgen::string::Ia5String::try_from(name.as_str()) {
                Ok(dns) => rcgen::SanType::DnsName(dns),
                Err(_) => continue,
            },
        };
        params.subject_alt_names.push(san);
    }
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Porthole");
    params.distinguished_name.push(rcgen::DnType::CommonName, "porthole-gateway self-signed certificate");
    params.not_before = rcgen::date_time_ymd(2022, 12, 1);
    params.not_after = rcgen::date_time_ymd(2050, 12, 1);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem().into_bytes(), key.serialize_pem().into_bytes()))
}

/// Writes `bytes` to `path` through `<path>.tmp` and a rename; `private` makes it mode 0600
/// from its creation on.
fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests;
