//! Reuse and regeneration of the saved self-signed certificate, file by file.

use std::path::Path;

use super::{SelfSigned, generate};

fn in_dir(dir: &Path) -> SelfSigned {
    SelfSigned::beside_config(dir, ["Redis.Example.com".to_owned(), "[::1]".to_owned(), "10.0.0.7".to_owned()])
}

fn names_of(cert_pem: &[u8]) -> Vec<String> {
    use rustls::pki_types::pem::PemObject as _;
    let cert = rustls::pki_types::CertificateDer::pem_slice_iter(cert_pem).next().unwrap().unwrap();
    crate::tls::cert_names(&cert)
}

#[test]
fn names_are_loopback_then_the_hosts_lowercased_once() {
    let s = in_dir(Path::new("/srv/gw"));
    assert_eq!(s.names, ["localhost", "127.0.0.1", "::1", "redis.example.com", "10.0.0.7"]);
    assert_eq!(s.cert_path, Path::new("/srv/gw/porthole-gateway-self-signed.crt"));
    let (cert, _) = generate(&s.names).unwrap();
    assert_eq!(names_of(&cert), ["localhost", "redis.example.com"], "IP addresses go in as IP names");
}

#[test]
fn a_saved_pair_is_reused_and_a_bad_one_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let s = in_dir(dir.path());
    let (first, key, _) = s.load_or_generate().unwrap();
    assert_eq!(std::fs::read(&s.cert_path).unwrap(), first);
    assert_eq!(std::fs::read(&s.key_path).unwrap(), key);
    let (again, _, _) = s.load_or_generate().unwrap();
    assert_eq!(again, first, "a usable pair is kept");

    // A key that is not the certificate's: replaced.
    let (_, other_key) = generate(&s.names).unwrap();
    std::fs::write(&s.key_path, other_key).unwrap();
    let (renewed, _, _) = s.load_or_generate().unwrap();
    assert_ne!(renewed, first, "a mismatched key means a new pair");

    // An expired certificate (with its own key): replaced.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = params.self_signed(&key).unwrap().pem();
    std::fs::write(&s.cert_path, &expired).unwrap();
    std::fs::write(&s.key_path, key.serialize_pem()).unwrap();
    let (fresh, _, _) = s.load_or_generate().unwrap();
    assert_ne!(fresh, expired.as_bytes(), "an expired certificate is replaced");
    assert_eq!(std::fs::read(&s.cert_path).unwrap(), fresh);
}

#[test]
fn validate_mode_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = in_dir(dir.path());
    s.save = false;
    let (cert, _, _) = s.load_or_generate().unwrap();
    assert!(!cert.is_empty());
    assert!(!s.cert_path.exists() && !s.key_path.exists(), "nothing saved under --validate");
}

#[test]
fn an_unwritable_folder_is_a_sentence() {
    let s = in_dir(Path::new("/nonexistent/porthole"));
    let e = s.load_or_generate().unwrap_err().to_string();
    assert!(e.contains("cannot save it") && e.contains("certificate_file"), "{e}");
}
