//! Client certificates: `downstream_mtls` in `policy_with_default_deny` (495 without a valid
//! certificate) and `reject_connection` (the handshake fails), and a route's own client CA.

mod support;

use porthole_testkit::certs::TestPki;
use porthole_testkit::echo::EchoServer;
use support::{Opts, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn route(echo: &EchoServer) -> String {
    format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    )
}

/// A stack whose `downstream_mtls` trusts `client_pki` (the CA file is read at config load).
async fn stack_with_client_ca(enforcement: &str, client_pki: &TestPki, echo: &EchoServer) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = client_pki.write_ca_to(dir.path()).unwrap();
    let extra = format!("downstream_mtls:\n  ca_file: {}\n  enforcement: {enforcement}\n", ca_path.display());
    Stack::start(Opts { routes: &route(echo), extra: &extra, ..Default::default() }).await
}

#[tokio::test]
async fn policy_with_default_deny_answers_495() {
    let echo = EchoServer::start().await;
    let clients = TestPki::new();
    let stranger = TestPki::new();
    let stack = stack_with_client_ca("policy_with_default_deny", &clients, &echo).await;
    let t = stack.token_for("alice@example.com");
    let auth = [("Authorization", format!("Pomerium {t}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let r = stack.connect("echo.example.com:7000", &auth, None).await;
    assert_eq!(r.status, 495, "no client certificate → 495: {}", r.head);
    let r = stack.connect("echo.example.com:7000", &[], None).await;
    assert_eq!(r.status, 495, "the certificate is checked before the login redirect: {}", r.head);
    let untrusted = stranger.client_cert("mallory");
    let r = stack.connect("echo.example.com:7000", &auth, Some(&untrusted)).await;
    assert_eq!(r.status, 495, "a certificate from another CA → 495: {}", r.head);
    let good = clients.client_cert("alice");
    let mut r = stack.connect("echo.example.com:7000", &auth, Some(&good)).await;
    assert_eq!(r.status, 200, "a trusted certificate and a token → 200: {}", r.head);
    r.stream.write_all(b"mtls").await.unwrap();
    let mut buf = [0u8; 4];
    r.stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"mtls");
}

#[tokio::test]
async fn reject_connection_fails_the_handshake() {
    let echo = EchoServer::start().await;
    let clients = TestPki::new();
    let stranger = TestPki::new();
    let stack = stack_with_client_ca("reject_connection", &clients, &echo).await;
    // TLS 1.3: the client learns of the rejection on its first read.
    async fn handshake_then_read(stack: &Stack, cert: Option<&porthole_testkit::certs::CertPair>) -> bool {
        let Ok(mut s) = stack.tls(cert).await else { return false };
        if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 12];
        matches!(s.read(&mut buf).await, Ok(n) if n > 0)
    }
    assert!(!handshake_then_read(&stack, None).await, "no certificate: the connection is refused");
    assert!(!handshake_then_read(&stack, Some(&stranger.client_cert("mallory"))).await, "untrusted: refused");
    let good = clients.client_cert("alice");
    assert!(handshake_then_read(&stack, Some(&good)).await, "a trusted certificate gets through");
    let t = stack.token_for("alice@example.com");
    let r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {t}"))], Some(&good)).await;
    assert_eq!(r.status, 200, "{}", r.head);
}

#[tokio::test]
async fn route_client_ca_applies_to_that_route_only() {
    let echo = EchoServer::start().await;
    let clients = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = clients.write_ca_to(dir.path()).unwrap();
    let routes = format!(
        "  - from: tcp+https://secure.example.com:7000\n    to: tcp://{e}\n    allow_any_authenticated_user: true\n    tls_downstream_client_ca_file: {ca}\n\
         \x20 - from: tcp+https://open.example.com:7000\n    to: tcp://{e}\n    allow_any_authenticated_user: true\n",
        e = echo.addr,
        ca = ca.display()
    );
    let stack = Stack::start(Opts { routes: &routes, ..Default::default() }).await;
    let t = stack.token_for("bob@example.com");
    let auth = format!("Pomerium {t}");
    let r = stack.connect("secure.example.com:7000", &[("Authorization", &auth)], None).await;
    assert_eq!(r.status, 495, "route CA, no certificate → 495: {}", r.head);
    let r = stack.connect("open.example.com:7000", &[("Authorization", &auth)], None).await;
    assert_eq!(r.status, 200, "other routes need no certificate: {}", r.head);
    let r =
        stack.connect("secure.example.com:7000", &[("Authorization", &auth)], Some(&clients.client_cert("bob"))).await;
    assert_eq!(r.status, 200, "with the route's CA certificate → 200: {}", r.head);
}
