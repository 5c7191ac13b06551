//! CONNECT end to end: the exact request bytes, the status mapping of docs/protocol.md §2.7
//! against a scripted plaintext proxy, the token rule the engine applies to those answers, and
//! TLS (trust, client certificates from PEM and from a store) against a real
//! `porthole-gateway` process.

use std::sync::Arc;
use std::time::Duration;

use porthole_testkit::certs::{CertPair, TestPki};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::gateway::{GatewayOpts, GatewayProcess, TestGateway};
use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, MemoryStore, Token, TokenStore as _};
use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::connect::{ConnectError, Connector, TlsFailure, request_bytes};
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelConfig, TunnelHandle};
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

/// A plaintext "proxy" that answers its n-th connection with `answers[n]` (then holds it open
/// until the client drops it); the returned counter says how many it has accepted.
async fn scripted_each(answers: Vec<&'static [u8]>) -> (Target, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        for answer in answers {
            let (mut s, _) = listener.accept().await.unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 && s.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = s.write_all(answer).await;
                let _ = s.read(&mut byte).await;
            });
        }
    });
    (parse(&format!("http://127.0.0.1:{port}/db.example.com:5432"), None).unwrap(), accepted)
}

/// Opens one local connection through a tunnel engine whose token store holds `stored` (and
/// whose logins return `service_account`), and returns the `Disconnected` code and what the
/// store holds afterwards.
async fn through_the_engine(
    target: Target,
    stored: &Token,
    service_account: Option<Token>,
) -> (Option<ErrorCode>, Option<Token>) {
    let origin = target.proxy.origin();
    let store = Arc::new(MemoryStore::default());
    store.store(&origin, stored).unwrap();
    let auth = Arc::new(Authenticator::new(store.clone(), service_account));
    let login = LoginSettings { tls: None, browser: Browser::Print, timeout: Duration::from_secs(5) };
    let config = TunnelConfig { connector: Arc::new(Connector::new(target, None)), login };
    let handle = TunnelHandle::start("127.0.0.1:0", config, auth).await.unwrap();
    let mut events = handle.subscribe();
    let _local = tokio::net::TcpStream::connect(handle.local_addr()).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let TunnelEvent::Disconnected { code, .. } = events.recv().await.expect("events flow") {
                return code;
            }
        }
    })
    .await
    .expect("the tunnel reports its end within 10 s");
    (code, store.load(&origin).unwrap())
}

/// The token rule the engine applies (`tunnel.rs`, `open`): only a refusal right after a fresh
/// login forgets the stored token; every other failure keeps it (pomerium-cli deletes it on
/// 404, 495 and network errors, and so asks for a needless browser login).
#[tokio::test]
async fn only_a_refusal_right_after_a_login_forgets_the_stored_token() {
    let good = Token::new(JWT);
    for (answer, code) in [
        (&b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"[..], ErrorCode::Denied),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", ErrorCode::NoRoute),
        (b"HTTP/1.1 495 Unknown\r\nContent-Length: 0\r\n\r\n", ErrorCode::Certificate),
        (b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", ErrorCode::Unavailable),
        (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", ErrorCode::Status),
        (b"SSH-2.0-OpenSSH\r\n\r\n", ErrorCode::Proxy),
    ] {
        let (target, accepted) = scripted_each(vec![answer]).await;
        let (got, kept) = through_the_engine(target, &good, None).await;
        assert_eq!(got, Some(code), "{}", String::from_utf8_lossy(answer));
        assert_eq!(kept.as_ref(), Some(&good), "{code:?}: the stored token is kept");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "{code:?}: no login, no retry");
    }

    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let closed = parse(&format!("http://127.0.0.1:{port}/db:5432"), None).unwrap();
    let (got, kept) = through_the_engine(closed, &good, None).await;
    assert_eq!(
        (got, kept.as_ref()),
        (Some(ErrorCode::Proxy), Some(&good)),
        "a network error says nothing about the token"
    );

    // 401, a login (the service account), and 401 again for the fresh token: forgotten.
    let fresh = Token::new("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzYSJ9.c2ln");
    let refused = &b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"[..];
    let (target, accepted) = scripted_each(vec![refused, refused]).await;
    let (got, kept) = through_the_engine(target, &good, Some(fresh.clone())).await;
    assert_eq!((got, kept), (Some(ErrorCode::Auth), None), "a token refused right after the login is removed");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2, "one retry after the login");

    // 302 (login needed), the login, then a 404 for the fresh token: the fresh token stays.
    let (target, _) = scripted_each(vec![
        b"HTTP/1.1 302 Found\r\nLocation: https://auth/\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ])
    .await;
    let (got, kept) = through_the_engine(target, &good, Some(fresh.clone())).await;
    assert_eq!(
        (got, kept.as_ref()),
        (Some(ErrorCode::NoRoute), Some(&fresh)),
        "a 404 after a login keeps the new token"
    );
}

/// A real `porthole-gateway` process (testkit's [`TestGateway`]) in front of an echo server;
/// its routes are public, and `secure.example.com` needs a certificate from the returned
/// clients CA.
async fn gateway() -> (TestGateway, TestPki, EchoServer) {
    let (clients, echo) = (TestPki::named("Clients CA"), EchoServer::start().await);
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{e}\n    allow_public_unauthenticated_access: true\n\
         \x20 - from: tcp+https://secure.example.com:7000\n    to: tcp://{e}\n    allow_public_unauthenticated_access: true\n\
         \x20   tls_downstream_client_ca_file: {{dir}}/clients-ca.pem\n",
        e = echo.addr,
    );
    let gateway = TestGateway::start_with(GatewayOpts { routes: &routes, ..GatewayOpts::default() }, |config, dir| {
        std::fs::write(dir.join("clients-ca.pem"), clients.ca_pem())?;
        let process = GatewayProcess::start(config, dir)?;
        let addr = process.addr;
        Ok((process, addr))
    })
    .await
    .expect("the test gateway starts");
    (gateway, clients, echo)
}

fn connector(gateway: &TestGateway, route: &str, opts: &TlsOptions) -> Connector {
    let target = parse(&format!("https://127.0.0.1:{}/{route}", gateway.addr.port()), None).unwrap();
    Connector::new(target, Some(client_config(opts).expect("TLS config")))
}

fn trusting(gateway: &TestGateway, client: Option<ClientIdentity>) -> TlsOptions {
    TlsOptions { ca_pem: Some(gateway.pki.ca_pem().as_bytes().to_vec()), client, ..TlsOptions::default() }
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
    let (gw, _clients, _echo) = gateway().await;
    assert_echoes(&connector(&gw, "echo.example.com:7000", &trusting(&gw, None))).await;
    let insecure = TlsOptions { disable_verification: true, ..TlsOptions::default() };
    assert_echoes(&connector(&gw, "echo.example.com:7000", &insecure)).await;
    let e = connector(&gw, "nowhere.example.com:1", &trusting(&gw, None)).connect(None).await.unwrap_err();
    assert!(matches!(e, ConnectError::NoRoute { .. }), "the gateway's 404: {e:?}");
}

#[tokio::test]
async fn untrusted_server_certificate_is_a_tls_error_with_a_hint() {
    let (gw, _clients, _echo) = gateway().await;
    let wrong = TlsOptions { ca_pem: Some(TestPki::new().ca_pem().as_bytes().to_vec()), ..TlsOptions::default() };
    let e = connector(&gw, "echo.example.com:7000", &wrong).connect(None).await.unwrap_err();
    let ConnectError::Tls { source, .. } = &e else { panic!("expected a TLS error, got {e:?}") };
    assert!(matches!(source, TlsFailure::Handshake(_)), "{source:?}");
    let reason = e.to_string();
    assert!(reason.contains("--alternate-ca-path") && reason.contains("--disable-tls-verification"), "{reason}");
}

#[tokio::test]
async fn client_certificate_route_from_pem_and_from_a_store() {
    let (gw, clients, _echo) = gateway().await;
    let e = connector(&gw, "secure.example.com:7000", &trusting(&gw, None)).connect(None).await.unwrap_err();
    assert!(matches!(e, ConnectError::CertificateRequired { .. }), "no certificate → 495: {e:?}");
    let alice = clients.client_cert("alice");
    let pem = ClientIdentity::Pem {
        cert_pem: alice.cert_pem.clone().into(),
        key_pem: alice.key_pem.clone().into_bytes().into(),
    };
    assert_echoes(&connector(&gw, "secure.example.com:7000", &trusting(&gw, Some(pem)))).await;
    // A store whose first identity is from another CA: the server's CA hint must pick alice.
    let dir = tempfile::tempdir().unwrap();
    TestPki::named("Stranger CA").client_cert("mallory").write_to(dir.path(), "0-mallory").unwrap();
    std::fs::write(dir.path().join("1-alice.pem"), format!("{}{}", alice.cert_pem, alice.key_pem)).unwrap();
    let store = ClientIdentity::Store { dir: dir.path().to_owned(), issuer: None, subject: None };
    assert_echoes(&connector(&gw, "secure.example.com:7000", &trusting(&gw, Some(store)))).await;
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
