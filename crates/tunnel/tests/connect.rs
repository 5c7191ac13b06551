//! CONNECT end to end: the exact request bytes, the status mapping of docs/protocol.md §2.7 against a
//! scripted plaintext proxy, and TLS (trust, client certificates from PEM and from a store)
//! against the real `porthole-gateway` running in-process.

use std::net::SocketAddr;
use std::sync::Arc;

use porthole_gateway::{Gateway, Running};
use porthole_testkit::certs::{CertPair, TestPki};
use porthole_testkit::echo::EchoServer;
use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::connect::{ConnectError, Connector, TlsFailure, request_bytes};
use porthole_tunnel::target::{Target, parse};
use porthole_tunnel::tls::store::StoreResolver;
use porthole_tunnel::tls::{ClientIdentity, NameFilter, TlsOptions, client_config};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use x509_parser::prelude::{FromDer as _, X509Certificate};

const JWT: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";

/// A one-shot plaintext "proxy": captures the request head, answers `response`, then holds the
/// connection open until the client drops it.
async fn scripted(response: &'static [u8]) -> (Target, oneshot::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = Vec::new();
        let mut byte = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") && s.read(&mut byte).await.unwrap() == 1 {
            req.push(byte[0]);
        }
        let _ = tx.send(req);
        s.write_all(response).await.unwrap();
        let _ = s.read(&mut byte).await;
    });
    (parse(&format!("http://127.0.0.1:{port}/db.example.com:5432"), None).unwrap(), rx)
}

async fn answer(response: &'static [u8]) -> ConnectError {
    let (target, _rx) = scripted(response).await;
    Connector::new(target, None).connect(Some(JWT)).await.expect_err("a non-200 answer is an error")
}

#[test]
fn request_bytes_match_go_exactly() {
    assert_eq!(
        request_bytes("redis.example.com:6379", Some(JWT)),
        format!(
            "CONNECT redis.example.com:6379 HTTP/1.1\r\nHost: redis.example.com:6379\r\n\
             User-Agent: Go-http-client/1.1\r\nAuthorization: Pomerium {JWT}\r\n\r\n"
        )
        .into_bytes()
    );
    assert_eq!(
        request_bytes("[::1]:22", None),
        b"CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\nUser-Agent: Go-http-client/1.1\r\n\r\n".to_vec(),
        "no Authorization line without a token"
    );
}

#[tokio::test]
async fn connector_writes_exactly_the_request_bytes() {
    for token in [Some(JWT), None] {
        let (target, rx) = scripted(b"HTTP/1.1 200 OK\r\n\r\n").await;
        let connected = Connector::new(target, None).connect(token).await.expect("200 is a tunnel");
        assert!(connected.early.is_empty(), "nothing after the head");
        assert_eq!(rx.await.unwrap(), request_bytes("db.example.com:5432", token), "on the wire, byte for byte");
    }
}

#[tokio::test]
async fn early_bytes_after_the_200_head_are_returned() {
    let (target, _rx) = scripted(b"HTTP/1.1 200 Connection established\r\nX-A: b\r\n\r\nSSH-2.0-banner\r\n").await;
    let connected = Connector::new(target, None).connect(None).await.expect("tunnel");
    assert_eq!(connected.early, b"SSH-2.0-banner\r\n", "bytes past the head must reach the local side first");
}

#[tokio::test]
async fn statuses_map_to_actionable_errors() {
    let e = answer(b"HTTP/1.1 302 Found\r\nLocation: https://auth/\r\nContent-Length: 0\r\n\r\n").await;
    assert!(matches!(e, ConnectError::LoginRequired { status: 302 }), "{e:?}");
    assert!(!e.keeps_token(), "a login is needed: the token is stale");
    let e = answer(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n").await;
    assert!(matches!(e, ConnectError::LoginRequired { status: 401 }), "{e:?}");
    assert_eq!(e.code(), ErrorCode::Auth);
    let e = answer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 26\r\n\r\n\nnot in group admins\nmore\n").await;
    assert!(
        matches!(&e, ConnectError::Denied { destination, message } if destination == "db.example.com:5432" && message == "not in group admins"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "access denied to db.example.com:5432 by the proxy's policy: not in group admins (403)");
    assert_eq!(e.code(), ErrorCode::Denied);
    assert!(e.keeps_token(), "403 keeps the token (pomerium-cli too)");
    let e = answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
    assert!(matches!(&e, ConnectError::NoRoute { destination } if destination == "db.example.com:5432"), "{e:?}");
    assert_eq!(e.code(), ErrorCode::NoRoute);
    assert!(e.keeps_token(), "404 keeps the token (pomerium-cli deletes it)");
    let e = answer(b"HTTP/1.1 495 Unknown\r\nContent-Length: 0\r\n\r\n").await;
    assert!(
        matches!(&e, ConnectError::CertificateRequired { destination } if destination == "db.example.com:5432"),
        "{e:?}"
    );
    assert!(e.to_string().contains("--client-cert"), "the message names the fix: {e}");
    let e = answer(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 15\r\n\r\nupstream down\r\n").await;
    assert_eq!(e.to_string(), "db.example.com:5432 is unavailable: the proxy could not reach it (upstream down)");
    assert_eq!(e.code(), ErrorCode::Unavailable);
    let e = answer(b"HTTP/1.1 500 Internal Server Error\r\n\r\n").await;
    assert!(
        matches!(&e, ConnectError::Status { status: 500, message } if message == "500 Internal Server Error"),
        "{e:?}"
    );
    let e = answer(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    assert!(matches!(e, ConnectError::Protocol { .. }), "not HTTP: {e:?}");
}

#[tokio::test]
async fn closed_port_is_a_dial_error() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let target = parse(&format!("http://127.0.0.1:{port}/db:5432"), None).unwrap();
    let e = Connector::new(target, None).connect(None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("cannot reach 127.0.0.1:{port}: connection refused"),
        "the sentence is unchanged"
    );
    let ConnectError::Dial { source, .. } = &e else { panic!("a dial error: {e:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused, "the typed cause is kept");
    assert_eq!(e.code(), ErrorCode::Proxy);
    assert!(e.keeps_token(), "a network error says nothing about the token");
}

/// The real gateway, TLS with a `TestPki` certificate; routes are public.
struct Stack {
    pki: TestPki,
    clients: TestPki,
    addr: SocketAddr,
    _gateway: Running,
    _echo: EchoServer,
    _dir: tempfile::TempDir,
}

async fn gateway() -> Stack {
    let (pki, clients, echo) = (TestPki::new(), TestPki::named("Clients CA"), EchoServer::start().await);
    let dir = tempfile::tempdir().unwrap();
    let server = pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server").unwrap();
    let client_ca = clients.write_ca_to(dir.path()).unwrap();
    let yaml = format!(
        "address: 127.0.0.1:0\ncertificate_file: {}\ncertificate_key_file: {}\nroutes:\n\
         \x20 - from: tcp+https://echo.example.com:7000\n    to: tcp://{e}\n    allow_public_unauthenticated_access: true\n\
         \x20 - from: tcp+https://secure.example.com:7000\n    to: tcp://{e}\n    allow_public_unauthenticated_access: true\n\
         \x20   tls_downstream_client_ca_file: {}\n",
        server.cert.display(),
        server.key.display(),
        client_ca.display(),
        e = echo.addr,
    );
    let loaded = porthole_gateway::config::parse_str(&yaml, dir.path()).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = Gateway::new(loaded.config).expect("gateway builds").serve(listener).expect("serve");
    Stack { pki, clients, addr: gateway.local_addr(), _gateway: gateway, _echo: echo, _dir: dir }
}

impl Stack {
    fn connector(&self, route: &str, opts: &TlsOptions) -> Connector {
        let target = parse(&format!("https://127.0.0.1:{}/{route}", self.addr.port()), None).unwrap();
        Connector::new(target, Some(client_config(opts).expect("TLS config")))
    }

    fn trusting(&self, client: Option<ClientIdentity>) -> TlsOptions {
        TlsOptions { ca_pem: Some(self.pki.ca_pem().as_bytes().to_vec()), client, ..TlsOptions::default() }
    }
}

async fn assert_echoes(connector: &Connector) {
    let mut c = connector.connect(None).await.unwrap_or_else(|e| panic!("tunnel must open: {e}"));
    c.stream.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    c.stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping", "bytes go through the tunnel to the echo server and back");
}

#[tokio::test]
async fn tls_to_the_real_gateway_opens_a_tunnel() {
    let stack = gateway().await;
    assert_echoes(&stack.connector("echo.example.com:7000", &stack.trusting(None))).await;
    let insecure = TlsOptions { disable_verification: true, ..TlsOptions::default() };
    assert_echoes(&stack.connector("echo.example.com:7000", &insecure)).await;
    let e = stack.connector("nowhere.example.com:1", &stack.trusting(None)).connect(None).await.unwrap_err();
    assert!(matches!(e, ConnectError::NoRoute { .. }), "the gateway's 404: {e:?}");
}

#[tokio::test]
async fn untrusted_server_certificate_is_a_tls_error_with_a_hint() {
    let stack = gateway().await;
    let wrong = TlsOptions { ca_pem: Some(TestPki::new().ca_pem().as_bytes().to_vec()), ..TlsOptions::default() };
    let e = stack.connector("echo.example.com:7000", &wrong).connect(None).await.unwrap_err();
    let ConnectError::Tls { source, .. } = &e else { panic!("expected a TLS error, got {e:?}") };
    assert!(matches!(source, TlsFailure::Handshake(_)), "{source:?}");
    let reason = e.to_string();
    assert!(reason.contains("--alternate-ca-path") && reason.contains("--disable-tls-verification"), "{reason}");
}

#[tokio::test]
async fn client_certificate_route_from_pem_and_from_a_store() {
    let stack = gateway().await;
    let e = stack.connector("secure.example.com:7000", &stack.trusting(None)).connect(None).await.unwrap_err();
    assert!(matches!(e, ConnectError::CertificateRequired { .. }), "no certificate → 495: {e:?}");
    let alice = stack.clients.client_cert("alice");
    let pem = ClientIdentity::Pem {
        cert_pem: alice.cert_pem.clone().into(),
        key_pem: alice.key_pem.clone().into_bytes().into(),
    };
    assert_echoes(&stack.connector("secure.example.com:7000", &stack.trusting(Some(pem)))).await;
    // A store whose first identity is from another CA: the server's CA hint must pick alice.
    let dir = tempfile::tempdir().unwrap();
    TestPki::named("Stranger CA").client_cert("mallory").write_to(dir.path(), "0-mallory").unwrap();
    std::fs::write(dir.path().join("1-alice.pem"), format!("{}{}", alice.cert_pem, alice.key_pem)).unwrap();
    let store = ClientIdentity::Store { dir: dir.path().to_owned(), issuer: None, subject: None };
    assert_echoes(&stack.connector("secure.example.com:7000", &stack.trusting(Some(store)))).await;
}

fn subject_der(pem: &str) -> Vec<u8> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    X509Certificate::from_der(der.as_ref()).unwrap().1.subject().as_raw().to_vec()
}

fn write_pem(dir: &std::path::Path, name: &str, pair: &CertPair) {
    std::fs::write(dir.join(name), format!("{}{}", pair.cert_pem, pair.key_pem)).unwrap();
}

#[test]
fn store_picks_by_ca_hint_then_filters() {
    let (a, b) = (TestPki::named("Alpha CA"), TestPki::named("Beta CA"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0-broken.pem"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("README.txt"), "ignored").unwrap();
    write_pem(dir.path(), "1-alice.pem", &a.client_cert("alice"));
    a.client_cert("bob").write_to(dir.path(), "2-bob").unwrap();
    write_pem(dir.path(), "3-carol.pem", &b.client_cert("carol"));
    let (hint_a, hint_b) = (subject_der(a.ca_pem()), subject_der(b.ca_pem()));
    let f = |s: &str| Some(NameFilter::parse(s).unwrap());
    let pick = |issuer, subject, hints: &[&[u8]]| {
        let store = StoreResolver::load(dir.path(), issuer, subject).expect("three identities load");
        store.choose(hints, &[]).map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
    };
    assert_eq!(pick(None, None, &[&hint_a]).as_deref(), Some("1-alice.pem"), "first identity under Alpha");
    assert_eq!(pick(None, None, &[&hint_b]).as_deref(), Some("3-carol.pem"), "the only identity under Beta");
    assert_eq!(pick(None, None, &[]).as_deref(), Some("1-alice.pem"), "no hints: any CA, first file");
    assert_eq!(pick(None, f("CN=bob"), &[&hint_a, &hint_b]).as_deref(), Some("2-bob.crt"), "crt+key pair");
    assert_eq!(pick(f("cn=Beta CA"), None, &[]).as_deref(), Some("3-carol.pem"), "issuer filter");
    assert_eq!(pick(None, f("CN=carol"), &[&hint_a]), None, "carol is not under an acceptable CA");
    assert_eq!(pick(None, f("O=nobody"), &[]), None, "no identity passes the filter");
    let empty = tempfile::tempdir().unwrap();
    assert!(StoreResolver::load(empty.path(), None, None).is_err(), "an empty store is an error a person can fix");
}

#[test]
fn bad_ca_pem_and_bad_client_key_are_named() {
    let opts = TlsOptions { ca_pem: Some(b"junk".to_vec()), ..TlsOptions::default() };
    let e = client_config(&opts).unwrap_err();
    assert_eq!(e.to_string(), "failed to append any PEM-encoded certificates");
    let pair = TestPki::new().client_cert("x");
    let bad_key = ClientIdentity::Pem { cert_pem: pair.cert_pem.into(), key_pem: b"junk".to_vec().into() };
    let e = client_config(&TlsOptions { client: Some(bad_key.clone()), ..TlsOptions::default() }).unwrap_err();
    assert!(e.to_string().starts_with("client key:"), "{e}");
    assert!(!format!("{bad_key:?}").contains("junk"), "the key never appears in Debug output");
    let config: Arc<rustls::ClientConfig> = client_config(&TlsOptions::default()).unwrap();
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()], "ALPN is exactly pomerium-cli's");
}
