//! The proxy's certificate: [`ProxyVerifier`] (webpki, plus a configured CA presented as the
//! server's own certificate, as pomerium-cli trusts it) and, for `--disable-tls-verification`,
//! [`AcceptAnyServerCert`], which trusts any certificate but still checks the handshake
//! signatures, so the peer must hold the key of what it presented.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::explain::UntrustedCertificate;

/// Accepts every server certificate; verifies signatures with the provider's algorithms.
#[derive(Debug)]
pub struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl AcceptAnyServerCert {
    /// A verifier using `provider`'s signature algorithms.
    #[must_use]
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The proxy's certificate checked against the platform roots plus the configured CAs, as
/// webpki does, with one addition pomerium-cli (Go) has: a certificate that is byte for byte
/// one of the configured CAs is trusted as it is — `openssl req -x509` makes such self-signed
/// certificates with `CA:TRUE`, which webpki refuses as a server certificate. Its validity
/// period, extended key usage and names are still checked. Every refusal carries an
/// [`UntrustedCertificate`], whose text is a sentence.
#[derive(Debug)]
pub struct ProxyVerifier {
    inner: Arc<WebPkiServerVerifier>,
    anchors: Vec<CertificateDer<'static>>,
    ca_label: Option<String>,
}

impl ProxyVerifier {
    /// A verifier trusting `roots`; `anchors` are the configured CAs (also in `roots`) and
    /// `ca_label` says how they were given (`--alternate-ca-path /etc/ca.pem`), for sentences.
    ///
    /// # Errors
    /// When rustls refuses the roots (an empty store).
    pub fn new(
        roots: RootCertStore,
        anchors: Vec<CertificateDer<'static>>,
        ca_label: Option<String>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, rustls::Error> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(Self { inner, anchors, ca_label })
    }

    fn untrusted(&self, problem: CertificateError, name: &ServerName<'_>) -> rustls::Error {
        let untrusted = UntrustedCertificate {
            problem,
            server_name: Some(name.to_str().into_owned()),
            ca_label: self.ca_label.clone(),
            ca_given: !self.anchors.is_empty(),
        };
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(untrusted))))
    }
}

impl ServerCertVerifier for ProxyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let problem = match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(problem)) => problem,
            other => return other,
        };
        let problem = if self.anchors.iter().any(|a| a.as_ref() == end_entity.as_ref()) {
            match check_anchor_as_server(end_entity, server_name, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(p) => p,
            }
        } else {
            problem
        };
        Err(self.untrusted(problem, server_name))
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

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// What still applies to a server certificate that is itself a trust anchor: the validity
/// period (read with x509-parser), the extended key usage when it has one, and the name
/// (rustls' own check). Its signature needs no check — the anchor's key is trusted directly,
/// and the handshake signature proves the server holds it.
fn check_anchor_as_server(
    cert: &CertificateDer<'_>,
    name: &ServerName<'_>,
    now: UnixTime,
) -> Result<(), CertificateError> {
    let (_, x509) = X509Certificate::from_der(cert.as_ref()).map_err(|_| CertificateError::BadEncoding)?;
    let at = |t: i64| UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(t).unwrap_or(0)));
    let (not_before, not_after) = (x509.validity().not_before.timestamp(), x509.validity().not_after.timestamp());
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if secs < not_before {
        return Err(CertificateError::NotValidYetContext { time: now, not_before: at(not_before) });
    }
    if secs > not_after {
        return Err(CertificateError::ExpiredContext { time: now, not_after: at(not_after) });
    }
    match x509.extended_key_usage() {
        Ok(Some(eku)) if !(eku.value.any || eku.value.server_auth) => return Err(CertificateError::InvalidPurpose),
        Ok(_) => {}
        Err(_) => return Err(CertificateError::BadEncoding),
    }
    let parsed = ParsedCertificate::try_from(cert).map_err(as_certificate_error)?;
    verify_server_name(&parsed, name).map_err(as_certificate_error)
}

fn as_certificate_error(e: rustls::Error) -> CertificateError {
    match e {
        rustls::Error::InvalidCertificate(p) => p,
        _ => CertificateError::BadEncoding,
    }
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject as _;

    use super::*;

    /// A self-signed `CA:TRUE` certificate for `names`, as `openssl req -x509` makes it.
    fn openssl_self_signed(dir: &std::path::Path, stem: &str, names: &str) -> CertificateDer<'static> {
        let (cert, key) = (format!("{stem}.crt"), format!("{stem}.key"));
        let san = format!("subjectAltName={names}");
        porthole_testkit::openssl::run(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "30",
                "-subj",
                "/CN=localhost",
                "-addext",
                &san,
            ],
        )
        .unwrap();
        CertificateDer::from_pem_file(dir.join(cert)).unwrap()
    }

    fn verifier(anchors: &[&CertificateDer<'static>]) -> ProxyVerifier {
        let mut roots = RootCertStore::empty();
        for a in anchors {
            roots.add((*a).clone()).unwrap();
        }
        let anchors = anchors.iter().map(|a| (*a).clone()).collect();
        let label = Some("--alternate-ca-path /tmp/ca.pem".to_owned());
        ProxyVerifier::new(roots, anchors, label, porthole_io::tls::provider()).unwrap()
    }

    fn refusal(v: &ProxyVerifier, cert: &CertificateDer<'_>, name: &str, now: UnixTime) -> String {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        match v.verify_server_cert(cert, &[], &name, &[], now) {
            Err(rustls::Error::InvalidCertificate(problem)) => super::super::explain::certificate_sentence(&problem),
            other => panic!("expected a refused certificate, got {other:?}"),
        }
    }

    #[test]
    fn a_configured_ca_served_as_the_certificate_is_trusted_with_its_name_and_dates_checked() {
        let dir = tempfile::tempdir().unwrap();
        let own = openssl_self_signed(dir.path(), "own", "DNS:localhost,IP:127.0.0.1");
        let v = verifier(&[&own]);
        let now = UnixTime::now();
        for name in ["localhost", "127.0.0.1"] {
            let name = ServerName::try_from(name).unwrap();
            assert!(v.verify_server_cert(&own, &[], &name, &[], now).is_ok(), "{name:?}: the anchor itself");
        }
        let s = refusal(&v, &own, "proxy.example.com", now);
        assert!(s.contains("is for localhost or 127.0.0.1, not for proxy.example.com"), "{s}");
        let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + 90 * 86_400));
        let s = refusal(&v, &own, "localhost", later);
        assert!(s.starts_with("the proxy's certificate expired on "), "{s}");
        let earlier = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() - 86_400));
        assert!(refusal(&v, &own, "localhost", earlier).contains("is not valid until"));
    }

    #[test]
    fn another_ca_served_as_the_certificate_is_refused_naming_the_file_given() {
        let dir = tempfile::tempdir().unwrap();
        let given = openssl_self_signed(dir.path(), "given", "DNS:localhost");
        let served = openssl_self_signed(dir.path(), "served", "DNS:localhost");
        let s = refusal(&verifier(&[&given]), &served, "localhost", UnixTime::now());
        assert!(s.contains("(CA:TRUE) as its own, and it is not the one in --alternate-ca-path /tmp/ca.pem"), "{s}");
    }
}
