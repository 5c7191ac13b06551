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
