//! Why the proxy's certificate was refused, as a sentence a person can act on: what is wrong
//! (expired on which date, which names it has, who did not sign it), and the flag that fixes it
//! when there is one — never "pass a CA" to someone who already passed that CA.

use std::fmt;

use rustls::CertificateError;
use rustls_pki_types::UnixTime;

use crate::cause::CertProblem;

/// A refused proxy certificate and what the sentence needs to know: the name asked for, and
/// how the configured CA was given. [`super::verify::ProxyVerifier`] returns it inside
/// `CertificateError::Other`; its text is the whole sentence.
#[derive(Debug, Clone)]
pub struct UntrustedCertificate {
    /// What webpki (or the trust-anchor check) said.
    pub problem: CertificateError,
    /// The name the client asked for (the proxy's host).
    pub server_name: Option<String>,
    /// How the configured CA was given (`--alternate-ca-path /etc/ca.pem`), if it was named.
    pub ca_label: Option<String>,
    /// Whether any CA was configured besides the platform's.
    pub ca_given: bool,
}

impl UntrustedCertificate {
    /// A problem with nothing known about the connection (a configuration built elsewhere).
    #[must_use]
    pub fn bare(problem: CertificateError) -> Self {
        Self { problem, server_name: None, ca_label: None, ca_given: false }
    }
}

impl std::error::Error for UntrustedCertificate {}

impl fmt::Display for UntrustedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence())
    }
}

const CERT: &str = "the proxy's certificate";
const SKIP: &str = "or skip the check with --disable-tls-verification";

/// The sentence for a refused certificate: the [`UntrustedCertificate`] inside it when there
/// is one, else the bare problem.
#[must_use]
pub fn certificate_sentence(problem: &CertificateError) -> String {
    if let CertificateError::Other(other) = problem
        && let Some(untrusted) = other.0.downcast_ref::<UntrustedCertificate>()
    {
        return untrusted.sentence();
    }
    UntrustedCertificate::bare(problem.clone()).sentence()
}

/// The facts of a refused certificate for [`crate::cause::Cause::UntrustedCertificate`]: what
/// is wrong, and whether an extra CA was given. `Other` carries a sentence with no advice.
#[must_use]
pub fn certificate_problem(problem: &CertificateError) -> (CertProblem, bool) {
    if let CertificateError::Other(other) = problem
        && let Some(untrusted) = other.0.downcast_ref::<UntrustedCertificate>()
    {
        return (untrusted.problem_facts(), untrusted.ca_given);
    }
    (UntrustedCertificate::bare(problem.clone()).problem_facts(), false)
}

impl UntrustedCertificate {
    fn problem_facts(&self) -> CertProblem {
        use CertificateError as E;
        match &self.problem {
            E::UnknownIssuer => CertProblem::UnknownIssuer,
            E::BadSignature => CertProblem::BadSignature,
            E::ExpiredContext { .. } | E::Expired => CertProblem::Expired,
            E::NotValidYetContext { .. } | E::NotValidYet => CertProblem::NotYetValid,
            E::NotValidForNameContext { expected, presented } => CertProblem::WrongName {
                expected: expected.to_str().into_owned(),
                presented: presented.iter().map(|n| plain_name(n).to_owned()).collect(),
            },
            E::NotValidForName => {
                CertProblem::WrongName { expected: self.server_name.clone().unwrap_or_default(), presented: Vec::new() }
            }
            E::Other(other) => match (other.0.downcast_ref::<webpki::Error>(), other.0.downcast_ref::<Self>()) {
                (Some(webpki::Error::CaUsedAsEndEntity), _) => CertProblem::CaAsServerCertificate,
                (_, Some(inner)) => inner.problem_facts(),
                _ => CertProblem::Other { detail: self.sentence() },
            },
            _ => CertProblem::Other { detail: self.sentence() },
        }
    }
}

impl UntrustedCertificate {
    fn sentence(&self) -> String {
        use CertificateError as E;
        let name = self.server_name.as_deref().unwrap_or("the proxy's name");
        match &self.problem {
            E::UnknownIssuer => self.unknown_issuer(),
            E::ExpiredContext { not_after, time } => format!(
                "{CERT} expired on {}: the proxy must renew it (or this computer's clock is wrong: it says {})",
                date(*not_after),
                date(*time)
            ),
            E::Expired => format!("{CERT} has expired: the proxy must renew it (or this computer's clock is wrong)"),
            E::NotValidYetContext { not_before, time } => format!(
                "{CERT} is not valid until {}, and this computer's clock says {}: check the clock, or the certificate's dates",
                date(*not_before),
                date(*time)
            ),
            E::NotValidYet => {
                format!("{CERT} is not valid yet: check this computer's clock, or the certificate's dates")
            }
            E::NotValidForNameContext { expected, presented } => {
                let expected = expected.to_str();
                if presented.is_empty() {
                    format!("{CERT} names no host (it has no subjectAltName), so it is not valid for {expected}")
                } else {
                    format!(
                        "{CERT} is for {}, not for {expected}: connect with one of those names (--pomerium-url), \
                         or have the certificate reissued for {expected}",
                        or_list(presented)
                    )
                }
            }
            E::NotValidForName => format!("{CERT} is not valid for {name}"),
            E::Revoked => format!("{CERT} has been revoked by the certificate authority that issued it"),
            E::BadSignature => self.bad_signature(),
            E::BadEncoding => format!("{CERT} is malformed (not valid DER)"),
            E::UnhandledCriticalExtension => {
                format!("{CERT} has a critical extension this client does not understand, so it cannot be trusted")
            }
            E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
                format!("{CERT} is not for TLS servers: its extended key usage does not include server authentication")
            }
            E::UnknownRevocationStatus => format!("the revocation status of {CERT} is unknown"),
            E::ExpiredRevocationList | E::ExpiredRevocationListContext { .. } => {
                format!("the certificate revocation list for {CERT} has expired")
            }
            E::InvalidOcspResponse => "the proxy's OCSP response for its certificate is invalid".into(),
            E::ApplicationVerificationFailure => format!("{CERT} was refused by this client's checks"),
            E::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
                Some(e) => self.webpki_sentence(e),
                None => match other.0.downcast_ref::<Self>() {
                    Some(inner) => inner.sentence(),
                    None => format!("{CERT} was refused: {other}"),
                },
            },
            #[allow(deprecated)]
            E::UnsupportedSignatureAlgorithm
            | E::UnsupportedSignatureAlgorithmContext { .. }
            | E::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                format!("{CERT} is signed with an algorithm this client does not support")
            }
            _ => format!("{CERT} is not valid for TLS"),
        }
    }

    fn unknown_issuer(&self) -> String {
        match (&self.ca_label, self.ca_given) {
            (Some(label), _) => format!(
                "{CERT} is not signed by the certificate authority in {label}, nor by one this computer trusts: \
                 give the CA that issued it, {SKIP}"
            ),
            (None, true) => format!(
                "{CERT} is not signed by the extra certificate authority given, nor by one this computer trusts: \
                 give the CA that issued it (--alternate-ca-path or --ca-cert), {SKIP}"
            ),
            (None, false) => format!(
                "{CERT} is not signed by a certificate authority this computer trusts: give the proxy's CA with \
                 --alternate-ca-path (or --ca-cert), {SKIP}"
            ),
        }
    }

    /// webpki found a trusted CA with the issuer's name, but its key did not sign the
    /// certificate: most often a CA regenerated under the same name.
    fn bad_signature(&self) -> String {
        const SAME_NAME: &str =
            "though it names a certificate authority of that name (one regenerated with a new key?)";
        match (&self.ca_label, self.ca_given) {
            (Some(label), _) => format!(
                "{CERT} is not signed by the certificate authority in {label}, {SAME_NAME}: give the CA that issued \
                 it, {SKIP}"
            ),
            (None, true) => format!(
                "{CERT} is not signed by the extra certificate authority given, {SAME_NAME}: give the CA that issued \
                 it (--alternate-ca-path or --ca-cert), {SKIP}"
            ),
            (None, false) => format!(
                "{CERT} has a bad signature: a trusted certificate authority of the name it gives did not sign it \
                 (a forged certificate?); give the proxy's CA with --alternate-ca-path (or --ca-cert), {SKIP}"
            ),
        }
    }

    fn webpki_sentence(&self, e: &webpki::Error) -> String {
        use webpki::Error as W;
        match e {
            W::CaUsedAsEndEntity => match (&self.ca_label, self.ca_given) {
                (Some(label), _) => format!(
                    "the proxy presents a certificate authority's certificate (CA:TRUE) as its own, and it is not the \
                     one in {label}: give that very certificate to trust it, or have the proxy use a certificate \
                     issued by the CA"
                ),
                _ => format!(
                    "the proxy presents a certificate authority's certificate (CA:TRUE) as its own: if you trust it, \
                     give that very certificate with --alternate-ca-path (or --ca-cert), {SKIP}"
                ),
            },
            W::EndEntityUsedAsCa => {
                "the proxy's certificate chain is invalid: a certificate that is not a certificate authority \
                 (CA:FALSE) signed another"
                    .into()
            }
            W::CertDistrusted => format!("{CERT} was issued by a certificate authority that is no longer trusted"),
            W::PathLenConstraintViolated => {
                "the proxy's certificate chain is longer than a certificate authority in it allows".into()
            }
            W::NameConstraintViolation => {
                format!("{CERT} names a host its certificate authority may not issue certificates for")
            }
            W::MaximumPathDepthExceeded
            | W::MaximumPathBuildCallsExceeded
            | W::MaximumSignatureChecksExceeded
            | W::MaximumNameConstraintComparisonsExceeded => {
                "the proxy's certificate chain is too long or too complex to check".into()
            }
            W::UnsupportedCertVersion => format!("{CERT} has an X.509 version this client does not support"),
            W::EmptyEkuExtension => format!("{CERT} has an empty extended key usage, so it is valid for nothing"),
            _ => format!("{CERT} is malformed or uses a feature this client does not support"),
        }
    }
}

/// `a`, `a or b`, `a, b or c`, each name as written (webpki gives `DnsName("a")`).
fn or_list(names: &[String]) -> String {
    let names: Vec<&str> = names.iter().map(|n| plain_name(n)).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// `DnsName("a.example")` → `a.example`, `IpAddress(127.0.0.1)` → `127.0.0.1`; other kinds
/// (URIs, directory names) as webpki wrote them.
fn plain_name(name: &str) -> &str {
    let inner = |prefix: &str| name.strip_prefix(prefix).and_then(|r| r.strip_suffix(')'));
    if let Some(dns) = inner("DnsName(") {
        dns.trim_matches('"')
    } else if let Some(ip) = inner("IpAddress(") {
        ip
    } else {
        name
    }
}

/// `2020-01-02 00:00:00 UTC`.
fn date(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    match x509_parser::time::ASN1Time::from_timestamp(secs) {
        Ok(t) => {
            let t = t.to_datetime();
            format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => format!("{secs} seconds after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::OtherError;
    use rustls_pki_types::ServerName;

    use super::*;

    fn at(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    fn with_ca(problem: CertificateError, label: Option<&str>) -> String {
        let untrusted = UntrustedCertificate {
            problem,
            server_name: Some("proxy.example.com".into()),
            ca_label: label.map(str::to_owned),
            ca_given: true,
        };
        certificate_sentence(&CertificateError::Other(OtherError(Arc::new(untrusted))))
    }

    fn bare(problem: CertificateError) -> String {
        certificate_sentence(&problem)
    }

    fn webpki(e: webpki::Error) -> CertificateError {
        CertificateError::Other(OtherError(Arc::new(e)))
    }

    /// A sentence: no Debug text (`Context {`, `Other(`), and it is about the proxy's certificate.
    fn assert_sentence(s: &str) {
        assert!(!s.contains('{') && !s.contains("Other(") && !s.contains("Context"), "a Debug string: {s}");
        assert!(s.starts_with("the ") && s.contains("the proxy"), "{s}");
    }

    #[test]
    fn unknown_issuer_names_the_ca_file_given_instead_of_asking_for_one() {
        let s = with_ca(CertificateError::UnknownIssuer, Some("--alternate-ca-path /etc/corp-ca.pem"));
        assert_sentence(&s);
        assert!(s.contains("not signed by the certificate authority in --alternate-ca-path /etc/corp-ca.pem"), "{s}");
        assert!(!s.contains("give the proxy's CA with --alternate-ca-path"), "must not ask for the CA again: {s}");
        let s = with_ca(CertificateError::UnknownIssuer, None);
        assert!(s.contains("not signed by the extra certificate authority given"), "{s}");
        let s = with_ca(CertificateError::BadSignature, Some("--ca-cert"));
        assert!(s.contains("not signed by the certificate authority in --ca-cert, though it names"), "{s}");
        let s = bare(CertificateError::UnknownIssuer);
        assert_sentence(&s);
        assert!(s.contains("--alternate-ca-path") && s.contains("--disable-tls-verification"), "{s}");
    }

    #[test]
    fn expired_and_not_yet_valid_give_the_dates() {
        let s = bare(CertificateError::ExpiredContext { time: at(1_764_720_000), not_after: at(1_577_923_200) });
        assert_sentence(&s);
        assert!(s.contains("expired on 2020-01-02 00:00:00 UTC"), "{s}");
        assert!(s.contains("clock is wrong: it says 2025-12-03 00:00:00 UTC"), "{s}");
        let s = bare(CertificateError::NotValidYetContext { time: at(1_577_923_200), not_before: at(1_764_720_000) });
        assert_sentence(&s);
        assert!(s.contains("is not valid until 2025-12-03 00:00:00 UTC"), "{s}");
        assert!(bare(CertificateError::Expired).contains("has expired"));
        assert!(bare(CertificateError::NotValidYet).contains("is not valid yet"));
    }

    #[test]
    fn a_wrong_name_lists_the_names_on_the_certificate_and_the_name_asked() {
        let expected = ServerName::try_from("proxy.example.com").unwrap().to_owned();
        let presented = ["DnsName(\"localhost\")", "IpAddress(127.0.0.1)", "DnsName(\"other.example\")"];
        let presented = presented.map(str::to_owned).to_vec();
        let s = bare(CertificateError::NotValidForNameContext { expected: expected.clone(), presented });
        assert_sentence(&s);
        assert!(s.contains("is for localhost, 127.0.0.1 or other.example, not for proxy.example.com"), "{s}");
        let s = bare(CertificateError::NotValidForNameContext { expected, presented: vec![] });
        assert!(s.contains("names no host") && s.contains("proxy.example.com"), "{s}");
        assert!(with_ca(CertificateError::NotValidForName, None).contains("not valid for proxy.example.com"));
    }

    #[test]
    fn a_ca_presented_as_the_server_certificate_says_so() {
        let s = with_ca(webpki(webpki::Error::CaUsedAsEndEntity), Some("--alternate-ca-path /tmp/ca.pem"));
        assert_sentence(&s);
        assert!(s.contains("certificate authority's certificate (CA:TRUE) as its own"), "{s}");
        assert!(s.contains("not the one in --alternate-ca-path /tmp/ca.pem"), "{s}");
        let s = bare(webpki(webpki::Error::CaUsedAsEndEntity));
        assert!(s.contains("give that very certificate with --alternate-ca-path"), "{s}");
    }

    #[test]
    fn every_other_problem_is_a_sentence() {
        for (problem, words) in [
            (CertificateError::BadSignature, "has a bad signature"),
            (CertificateError::BadSignature, "did not sign it"),
            (CertificateError::Revoked, "has been revoked"),
            (CertificateError::BadEncoding, "is malformed"),
            (CertificateError::UnhandledCriticalExtension, "critical extension"),
            (CertificateError::InvalidPurpose, "is not for TLS servers"),
            (CertificateError::UnknownRevocationStatus, "revocation status"),
            (CertificateError::ExpiredRevocationList, "revocation list"),
            (CertificateError::InvalidOcspResponse, "OCSP response"),
            (CertificateError::ApplicationVerificationFailure, "was refused"),
            (webpki(webpki::Error::EndEntityUsedAsCa), "(CA:FALSE) signed another"),
            (webpki(webpki::Error::CertDistrusted), "no longer trusted"),
            (webpki(webpki::Error::PathLenConstraintViolated), "longer than"),
            (webpki(webpki::Error::NameConstraintViolation), "may not issue"),
            (webpki(webpki::Error::MaximumPathDepthExceeded), "too long or too complex"),
            (webpki(webpki::Error::UnsupportedCertVersion), "X.509 version"),
            (webpki(webpki::Error::EmptyEkuExtension), "valid for nothing"),
            (webpki(webpki::Error::MalformedExtensions), "is malformed"),
        ] {
            let s = bare(problem);
            assert_sentence(&s);
            assert!(s.contains(words), "{words}: {s}");
        }
    }
}
