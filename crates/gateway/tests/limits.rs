//! Hostile clients against an in-process gateway: slowloris heads end at `timeout_read`, idle
//! HTTP/1 and HTTP/2 connections end at `timeout_idle` (a live HTTP/2 tunnel does not), oversized
//! heads get `431`, malformed CONNECTs `400`, a token before its `nbf` `401`, and an unverified
//! email matches no `email`/`domain` criterion.

mod support;

use std::time::{Duration, Instant};

use http_body_util::Empty;
use porthole_testkit::echo::EchoServer;
use support::{Opts, Stack, h2_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn routes(echo: &EchoServer) -> String {
    format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{echo}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n\
         \x20 - from: tcp+https://domain.example.com:7001\n    to: tcp://{echo}\n    allowed_domains: [example.com]\n\
         \x20 - from: tcp+https://noidle.example.com:7002\n    to: tcp://{echo}\n    allow_any_authenticated_user: true\n    idle_timeout: 0\n",
        echo = echo.addr
    )
}

async fn stack(extra: &str) -> (EchoServer, Stack) {
    let echo = EchoServer::start().await;
    let stack = support::start(Opts { routes: &routes(&echo), extra, ..Default::default() }).await;
    (echo, stack)
}

/// Reads until the gateway closes the connection (EOF or reset) or `within` passes; returns
/// the bytes read and whether it closed.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}

/// Writes raw request bytes and returns the status of the answer (0 when the connection closed
/// without one), reading until the gateway closes (at most 5 s).
async fn raw_status(stack: &Stack, request: &[u8]) -> (u16, String) {
    let mut s = stack.tls(None).await.expect("TLS");
    let _ = s.write_all(request).await;
    let (got, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn alice_connect_echoes(stack: &Stack) {
    let t = stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}));
    let mut r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {t}"))], None).await;
    assert_eq!(r.status, 200, "a normal client is served: {}", r.head);
    r.stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    r.stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
}

#[tokio::test]
async fn slowloris_head_is_closed_after_timeout_read_while_others_are_served() {
    let (_echo, stack) = stack("timeout_read: 2s").await;
    let mut slow = stack.tls(None).await.expect("TLS");
    let started = Instant::now();
    slow.write_all(b"CONNECT echo.example.com:7000 HTTP/1.1\r\n").await.unwrap();
    let (mut rd, mut wr) = tokio::io::split(slow);
    // One header byte every 250 ms, never finishing the head (at most 40 bytes = 10 s).
    let dribble = tokio::spawn(async move {
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter().take(40) {
            if wr.write_all(&[*b]).await.is_err() || wr.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    alice_connect_echoes(&stack).await;
    let (_, closed) = read_until_closed(&mut rd, Duration::from_secs(8)).await;
    let took = started.elapsed();
    dribble.abort();
    assert!(closed, "a head still unfinished after timeout_read (2 s) must be closed; still open after {took:?}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "closed after about timeout_read: {took:?}"
    );
}

#[tokio::test]
async fn idle_http1_connection_is_closed_after_timeout_idle() {
    let (_echo, stack) = stack("timeout_idle: 1s").await;
    let mut s = stack.tls(None).await.expect("TLS");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut head = vec![0u8; 17];
    s.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n", "the request is served");
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(6)).await;
    let took = started.elapsed();
    assert!(closed, "a keep-alive connection with no request must close after timeout_idle (1 s); open after {took:?}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "closed after about timeout_idle: {took:?}"
    );
}

#[tokio::test]
async fn idle_http2_connection_is_closed_after_timeout_idle() {
    let (_echo, stack) = stack("timeout_idle: 1s").await;
    let (mut send, conn) = h2_client(&stack).await;
    let req = http::Request::get(format!("{}/healthz", stack.url())).body(Empty::new()).unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(6), conn).await;
    let took = started.elapsed();
    assert!(
        ended.is_ok(),
        "an HTTP/2 connection with no open stream must close after timeout_idle (1 s); open after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "closed after about timeout_idle: {took:?}"
    );
}

#[tokio::test]
async fn http2_tunnel_keeps_its_connection_past_timeout_idle() {
    let (_echo, stack) = stack("timeout_idle: 1s").await;
    let (mut send, conn) = h2_client(&stack).await;
    let t = stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}));
    let req = http::Request::connect("echo.example.com:7000")
        .header("authorization", format!("Pomerium {t}"))
        .body(Empty::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200, "HTTP/2 CONNECT accepted");
    let mut tunnel = hyper_util::rt::TokioIo::new(hyper::upgrade::on(resp).await.unwrap());
    // 3 s of traffic, a message every 300 ms: longer than timeout_idle, never idle that long.
    for i in 0..10u8 {
        tunnel.write_all(&[i]).await.unwrap();
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(2), tunnel.read_exact(&mut b)).await.expect("echo in time").unwrap();
        assert_eq!(b[0], i, "the tunnel is alive at message {i}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!conn.is_finished(), "a connection carrying a live tunnel is not idle");
    drop(tunnel);
    assert!(
        tokio::time::timeout(Duration::from_secs(8), conn).await.is_ok(),
        "once the tunnel ends the connection goes idle and closes"
    );
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let (_echo, stack) = stack("").await;
    let big = format!(
        "CONNECT echo.example.com:7000 HTTP/1.1\r\nHost: echo.example.com:7000\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, text) = raw_status(&stack, big.as_bytes()).await;
    assert_eq!(status, 431, "a 100 KB head is refused with 431: {:.200}", text);
    let mut many = String::from("CONNECT echo.example.com:7000 HTTP/1.1\r\nHost: echo.example.com:7000\r\n");
    for i in 0..1000 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let (status, text) = raw_status(&stack, many.as_bytes()).await;
    assert_eq!(status, 431, "1000 headers are refused with 431: {:.200}", text);
}

#[tokio::test]
async fn malformed_connect_gets_400_with_a_sentence() {
    let (_echo, stack) = stack("").await;
    let t = stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}));
    let auth = format!("Authorization: Pomerium {t}\r\n");
    let cases = [
        ("no Host", format!("CONNECT echo.example.com:7000 HTTP/1.1\r\n{auth}\r\n")),
        (
            "two Hosts",
            format!(
                "CONNECT echo.example.com:7000 HTTP/1.1\r\nHost: echo.example.com:7000\r\nHost: other.example.com:1\r\n{auth}\r\n"
            ),
        ),
        (
            "Content-Length body",
            format!(
                "CONNECT echo.example.com:7000 HTTP/1.1\r\nHost: echo.example.com:7000\r\nContent-Length: 5\r\n{auth}\r\nhello"
            ),
        ),
        (
            "chunked body",
            format!(
                "CONNECT echo.example.com:7000 HTTP/1.1\r\nHost: echo.example.com:7000\r\nTransfer-Encoding: chunked\r\n{auth}\r\n5\r\nhello\r\n0\r\n\r\n"
            ),
        ),
    ];
    for (what, req) in cases {
        let started = Instant::now();
        let (status, text) = raw_status(&stack, req.as_bytes()).await;
        assert_eq!(status, 400, "{what} → 400: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{what}: the connection is closed after the 400, its framing is not trusted"
        );
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        assert!(body.trim_end().ends_with('.') || body.contains(' '), "{what}: the body is a sentence: {body:?}");
    }
    alice_connect_echoes(&stack).await;
}

#[tokio::test]
async fn token_before_its_nbf_gets_401() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let (_echo, stack) = stack("").await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let key = EncodingKey::from_ec_pem(stack.signing_key_pem.as_bytes()).unwrap();
    let token = |nbf: u64| {
        let claims = serde_json::json!({"sub": "alice", "email": "alice@example.com", "iss": stack.url(), "exp": now + 3600, "nbf": nbf});
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap()
    };
    let r = stack
        .connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {}", token(now + 3600)))], None)
        .await;
    assert_eq!(r.status, 401, "a token not valid for another hour → 401: {}", r.head);
    assert!(r.body_text().contains("not valid yet"), "the body says why: {}", r.body_text());
    let r = stack
        .connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {}", token(now - 10)))], None)
        .await;
    assert_eq!(r.status, 200, "nbf in the past is valid: {}", r.head);
}

#[tokio::test]
async fn unverified_email_satisfies_no_email_or_domain_criterion() {
    let (_echo, stack) = stack("").await;
    for (verified, want) in
        [(serde_json::json!(false), 403), (serde_json::json!("false"), 403), (serde_json::json!(true), 200)]
    {
        let t =
            stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com", "email_verified": verified}));
        for route in ["echo.example.com:7000", "domain.example.com:7001"] {
            let r = stack.connect(route, &[("Authorization", &format!("Pomerium {t}"))], None).await;
            assert_eq!(r.status, want, "email_verified {verified} on {route}: {}", r.head);
        }
    }
}

#[tokio::test]
async fn timeout_write_bounds_a_tunnel_s_whole_life() {
    let (_echo, stack) = stack("timeout_write: 1s").await;
    let t = stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}));
    let mut r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {t}"))], None).await;
    assert_eq!(r.status, 200, "{}", r.head);
    let started = Instant::now();
    r.stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    r.stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping", "the tunnel works before its deadline");
    let (_, closed) = read_until_closed(&mut r.stream, Duration::from_secs(6)).await;
    let took = started.elapsed();
    assert!(closed, "a tunnel must end at timeout_write (1 s); open after {took:?}");
    assert!(took < Duration::from_secs(4), "ended at about timeout_write: {took:?}");
}

#[tokio::test]
async fn a_silent_tunnel_ends_at_timeout_idle_unless_its_route_says_otherwise() {
    let (_echo, stack) = stack("timeout_idle: 1s").await;
    let t = stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}));
    let auth = format!("Pomerium {t}");
    let mut quiet = stack.connect("echo.example.com:7000", &[("Authorization", &auth)], None).await;
    let mut kept = stack.connect("noidle.example.com:7002", &[("Authorization", &auth)], None).await;
    assert_eq!((quiet.status, kept.status), (200, 200), "{} {}", quiet.head, kept.head);
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut quiet.stream, Duration::from_secs(6)).await;
    let took = started.elapsed();
    assert!(closed, "a tunnel without bytes for timeout_idle (1 s) must close; open after {took:?}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "closed after about timeout_idle: {took:?}"
    );
    kept.stream.write_all(b"still").await.unwrap();
    let mut back = [0u8; 5];
    kept.stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"still", "a route with idle_timeout: 0 keeps its silent tunnel");
}

/// HTTP/2 takes a header list up to 64 KiB, as HTTP/1.1 (a session token with many groups
/// fits; hyper's default would refuse anything over 16 KiB), and refuses more with 431.
#[tokio::test]
async fn http2_header_list_over_64_kib_is_refused() {
    let (_echo, stack) = stack("").await;
    let (mut send, _conn) = h2_client(&stack).await;
    let req = http::Request::get(format!("{}/healthz", stack.url()))
        .header("x-big", "a".repeat(100 * 1024))
        .body(Empty::new())
        .unwrap();
    assert_eq!(send.send_request(req).await.unwrap().status(), 431, "a 100 KB HTTP/2 header list → 431");
    let (mut send, _conn) = h2_client(&stack).await;
    let ok = http::Request::get(format!("{}/healthz", stack.url()))
        .header("x-token", "a".repeat(32 * 1024))
        .body(Empty::new())
        .unwrap();
    assert_eq!(send.send_request(ok).await.unwrap().status(), 200, "a 32 KB header list is served");
}
