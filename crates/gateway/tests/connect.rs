//! CONNECT over a raw TLS socket: every status a real Pomerium answers, byte-exact relay with
//! half-close, the three token header forms, and the access log's promises.

mod support;

use porthole_testkit::echo::EchoServer;
use support::{Opts, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn routes(echo: &EchoServer, closed_port: u16) -> String {
    format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{echo}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n            - claim/groups: admins\n\
         \x20 - from: tcp+https://down.example.com:7001\n    to: tcp://127.0.0.1:{closed_port}\n    allow_any_authenticated_user: true\n\
         \x20 - from: tcp+https://anyport.example.com\n    to: tcp://{echo}\n    allowed_domains: [example.com]\n\
         \x20 - from: tcp+https://bastion.example.com:8443/inner.example.com:22\n    to: tcp://{echo}\n    allow_any_authenticated_user: true\n\
         \x20 - from: tcp+https://public.example.com:7002\n    to: tcp://{echo}\n    allow_public_unauthenticated_access: true\n",
        echo = echo.addr
    )
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn echo_round_trip(reply: &mut support::Reply, msg: &[u8]) -> Vec<u8> {
    assert!(reply.early.is_empty(), "no bytes may follow a CONNECT 200 head before the tunnel starts");
    reply.stream.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    reply.stream.read_exact(&mut got).await.unwrap();
    got
}

#[tokio::test]
async fn every_status_over_raw_tls() {
    let echo = EchoServer::start().await;
    let stack = Stack::start(Opts { routes: &routes(&echo, closed_port()), ..Default::default() }).await;
    let alice = stack.token_for("alice@example.com");
    let bob = stack.token_for("bob@example.com");
    let carol = stack.token_for("carol@other.org");
    let auth = |t: &str| format!("Pomerium {t}");

    let r = stack.connect("nothere.example.com:1", &[], None).await;
    assert_eq!(r.status, 404, "no route → 404: {}", r.head);
    assert!(
        r.body_text().contains("no route for nothere.example.com:1"),
        "404 body names the target: {}",
        r.body_text()
    );

    let r = stack.connect("echo.example.com:7000", &[], None).await;
    assert_eq!(r.status, 302, "no token → 302 as Pomerium: {}", r.head);
    let location = r.header("location").expect("302 carries a Location");
    assert!(location.starts_with(&stack.base_url()), "Location points at this gateway's sign-in: {location}");

    let r = stack.connect("echo.example.com:7000", &[("Authorization", "Pomerium not-a-jwt")], None).await;
    assert_eq!(r.status, 401, "a token that is present but invalid → 401: {}", r.head);

    let r = stack.connect("echo.example.com:7000", &[("Authorization", &auth(&bob))], None).await;
    assert_eq!(r.status, 403, "bob is neither alice nor in admins → 403: {}", r.head);
    assert_eq!(r.body_text().trim(), "access denied to echo.example.com:7000 for bob@example.com");

    let r = stack.connect("down.example.com:7001", &[("Authorization", &auth(&bob))], None).await;
    assert_eq!(r.status, 503, "upstream port closed → 503: {}", r.head);

    let mut r = stack.connect("echo.example.com:7000", &[("Authorization", &auth(&alice))], None).await;
    assert_eq!(r.status, 200, "alice allowed: {}", r.head);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "exact status line: {:?}", r.head);
    let lower = r.head.to_ascii_lowercase();
    assert!(
        !lower.contains("content-length") && !lower.contains("transfer-encoding"),
        "no body framing on CONNECT 200: {:?}",
        r.head
    );
    assert_eq!(echo_round_trip(&mut r, b"PING\r\n").await, b"PING\r\n");

    let r = stack.connect("anyport.example.com:12345", &[("Authorization", &auth(&carol))], None).await;
    assert_eq!(r.status, 403, "carol@other.org is outside allowed_domains: {}", r.head);
    let mut r = stack.connect("anyport.example.com:12345", &[("Authorization", &auth(&bob))], None).await;
    assert_eq!(r.status, 200, "a from without a port matches any port: {}", r.head);
    assert_eq!(echo_round_trip(&mut r, b"x").await, b"x");

    let mut r = stack.connect("inner.example.com:22", &[("Authorization", &auth(&bob))], None).await;
    assert_eq!(r.status, 200, "bastion form matches the path target: {}", r.head);
    assert_eq!(echo_round_trip(&mut r, b"ssh").await, b"ssh");
    let r = stack.connect("bastion.example.com:8443", &[("Authorization", &auth(&bob))], None).await;
    assert_eq!(r.status, 404, "the bastion host itself is not a route: {}", r.head);

    let mut r = stack.connect("public.example.com:7002", &[], None).await;
    assert_eq!(r.status, 200, "public route needs no token: {}", r.head);
    assert_eq!(echo_round_trip(&mut r, b"hi").await, b"hi");
}

#[tokio::test]
async fn expired_and_foreign_tokens_get_401() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let echo = EchoServer::start().await;
    let stack = Stack::start(Opts { routes: &routes(&echo, closed_port()), ..Default::default() }).await;
    let key = EncodingKey::from_ec_pem(stack.signing_key_pem.as_bytes()).unwrap();
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &serde_json::json!({"sub":"alice","email":"alice@example.com","iss": stack.base_url(),"exp": 1_000_000, "iat": 999_000}),
        &key,
    )
    .unwrap();
    let r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {expired}"))], None).await;
    assert_eq!(r.status, 401, "expired token → 401: {}", r.head);
    assert!(r.body_text().contains("expired"), "the body says why: {}", r.body_text());

    let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &serde_json::json!({"sub":"alice","email":"alice@example.com","iss": stack.base_url(),"exp": 4_000_000_000u64}),
        &EncodingKey::from_ec_pem(other.as_bytes()).unwrap(),
    )
    .unwrap();
    let r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {foreign}"))], None).await;
    assert_eq!(r.status, 401, "a token signed by another key → 401: {}", r.head);
}

#[tokio::test]
async fn all_three_token_header_forms() {
    let echo = EchoServer::start().await;
    let stack = Stack::start(Opts { routes: &routes(&echo, closed_port()), ..Default::default() }).await;
    let t = stack.token_for("alice@example.com");
    for (name, value) in [
        ("Authorization", format!("Pomerium {t}")),
        ("Authorization", format!("Bearer Pomerium-{t}")),
        ("X-Pomerium-Authorization", t.clone()),
    ] {
        let mut r = stack.connect("echo.example.com:7000", &[(name, &value)], None).await;
        assert_eq!(r.status, 200, "{name}: {} form must be accepted: {}", &value[..10], r.head);
        assert_eq!(echo_round_trip(&mut r, b"ok").await, b"ok");
    }
}

/// 64 MiB each way through TLS, the client half-closes after sending, and the rest of the
/// echo still arrives byte for byte.
#[tokio::test]
async fn relay_64_mib_both_ways_with_half_close() {
    const SIZE: usize = 64 * 1024 * 1024;
    let echo = EchoServer::start().await;
    let stack = Stack::start(Opts { routes: &routes(&echo, closed_port()), ..Default::default() }).await;
    let t = stack.token_for("alice@example.com");
    let r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {t}"))], None).await;
    assert_eq!(r.status, 200, "{}", r.head);
    let (mut rd, mut wr) = tokio::io::split(r.stream);
    let writer = tokio::spawn(async move {
        let mut block = vec![0u8; 64 * 1024];
        let mut state: u32 = 0x1234_5678;
        let mut sent = 0usize;
        while sent < SIZE {
            for b in block.iter_mut() {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (state >> 24) as u8;
            }
            wr.write_all(&block).await.unwrap();
            sent += block.len();
        }
        wr.shutdown().await.unwrap();
        wr
    });
    let mut state: u32 = 0x1234_5678;
    let mut received = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            assert_eq!(b, (state >> 24) as u8, "byte {received} differs");
            received += 1;
        }
    }
    let _wr = writer.await.unwrap();
    assert_eq!(received, SIZE, "every byte came back after the client's half-close, then EOF");
}
