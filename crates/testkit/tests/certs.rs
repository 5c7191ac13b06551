//! `TestPki` certificates parse and chain to their CA, and only to their CA.

use std::sync::Arc;

use porthole_testkit::TestPki;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(pki: &TestPki) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem().as_bytes()).expect("CA PEM parses"))
        .expect("CA is a valid trust anchor");
    Arc::new(roots)
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("certificate PEM parses")
}

#[test]
fn server_cert_chains_to_its_ca_for_every_name() {
    let pki = TestPki::new();
    let pair = pki.server_cert(&["localhost", "redis.localhost", "127.0.0.1"]);
    PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key PEM parses");
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(&pki), provider()).build().expect("verifier");
    for name in ["localhost", "redis.localhost", "127.0.0.1"] {
        let server_name = ServerName::try_from(name).expect("server name");
        verifier
            .verify_server_cert(&der(&pair.cert_pem), &[], &server_name, &[], UnixTime::now())
            .unwrap_or_else(|e| panic!("the certificate must be valid for {name}: {e}"));
    }
    let other = ServerName::try_from("example.com").expect("server name");
    assert!(
        verifier.verify_server_cert(&der(&pair.cert_pem), &[], &other, &[], UnixTime::now()).is_err(),
        "a name that is not in the SANs must be rejected"
    );
}

#[test]
fn a_second_pki_is_not_trusted_by_the_first() {
    let trusted = TestPki::new();
    let untrusted = TestPki::named("Untrusted CA");
    let pair = untrusted.server_cert(&["localhost"]);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(&trusted), provider()).build().expect("verifier");
    let name = ServerName::try_from("localhost").expect("server name");
    assert!(
        verifier.verify_server_cert(&der(&pair.cert_pem), &[], &name, &[], UnixTime::now()).is_err(),
        "a certificate from another CA must not chain to this one"
    );
}

#[test]
fn client_cert_is_accepted_by_a_client_verifier_of_its_ca_only() {
    let pki = TestPki::new();
    let untrusted = TestPki::new();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(roots(&pki), provider()).build().expect("client verifier");
    let good = pki.client_cert("alice");
    verifier
        .verify_client_cert(&der(&good.cert_pem), &[], UnixTime::now())
        .expect("a client certificate of the trusted CA must verify");
    let bad = untrusted.client_cert("mallory");
    assert!(
        verifier.verify_client_cert(&der(&bad.cert_pem), &[], UnixTime::now()).is_err(),
        "a client certificate of another CA must be rejected"
    );
    let server = pki.server_cert(&["localhost"]);
    assert!(
        verifier.verify_client_cert(&der(&server.cert_pem), &[], UnixTime::now()).is_err(),
        "a server-auth-only certificate must not pass as a client certificate"
    );
}

#[test]
fn write_to_puts_pem_files_in_a_directory() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = pki.server_cert(&["localhost"]).write_to(dir.path(), "server").expect("write");
    let ca = pki.write_ca_to(dir.path()).expect("write CA");
    for path in [&paths.cert, &paths.key, &ca] {
        let text = std::fs::read_to_string(path).expect("read back");
        assert!(text.starts_with("-----BEGIN "), "{} must be PEM", path.display());
    }
}
