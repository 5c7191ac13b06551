//! Proxy chaining: `to: http://proxy` forwards the CONNECT to a real forward proxy (tinyproxy)
//! and relays after its 200; Pomerium's auth headers never reach it; its failures are clear.

mod support;

use porthole_testkit::echo::EchoServer;
use porthole_testkit::process::spawn_tinyproxy;
use support::{Opts, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn chains_through_tinyproxy() {
    let echo = EchoServer::start().await;
    let proxy = spawn_tinyproxy().await.expect("tinyproxy starts (make test installs it)");
    // tinyproxy resolves the target itself: use a name that resolves to loopback.
    let target = format!("localhost:{}", echo.addr.port());
    let routes = format!(
        "  - from: tcp+https://{target}\n    to: http://{proxy}\n    preserve_host_header: true\n    allow_any_authenticated_user: true\n",
        proxy = proxy.addr
    );
    let stack = Stack::start(Opts { routes: &routes, ..Default::default() }).await;
    let t2 = stack.token_for("bob@example.com");
    let mut r = stack.connect(&target, &[("Authorization", &format!("Pomerium {t2}"))], None).await;
    assert_eq!(r.status, 200, "chained CONNECT succeeds: {} {}", r.head, proxy.log_tail());
    let mut data = vec![0u8; 256 * 1024];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    r.stream.write_all(&data).await.unwrap();
    let mut back = vec![0u8; data.len()];
    r.stream.read_exact(&mut back).await.unwrap();
    assert!(back == data, "256 KiB echoed byte for byte through the forward proxy");
    assert!(proxy.log_tail().contains("CONNECT"), "the proxy really carried it: {}", proxy.log_tail());
}

/// A one-shot recording proxy: captures the request head it receives, answers `status`.
async fn recording_proxy(status: &'static str) -> (std::net::SocketAddr, tokio::task::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(format!("HTTP/1.1 {status}\r\n\r\n").as_bytes()).await.unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    });
    (addr, task)
}

#[tokio::test]
async fn auth_headers_are_stripped_and_refusals_map_to_502_and_503() {
    let (proxy, seen) = recording_proxy("403 Access violation").await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let routes = format!(
        "  - from: tcp+https://db.example.com:5432\n    to: http://{proxy}\n    preserve_host_header: true\n    allow_any_authenticated_user: true\n\
         \x20 - from: tcp+https://gone.example.com:5432\n    to: http://{dead}\n    preserve_host_header: true\n    allow_any_authenticated_user: true\n"
    );
    let stack = Stack::start(Opts { routes: &routes, ..Default::default() }).await;
    let t = stack.token_for("bob@example.com");
    let r = stack
        .connect("db.example.com:5432", &[("Authorization", &format!("Pomerium {t}")), ("X-Trace", "keep-me")], None)
        .await;
    assert_eq!(r.status, 502, "the upstream proxy's refusal → 502: {}", r.head);
    assert!(r.body_text().contains("403 Access violation"), "the body names the proxy's answer: {}", r.body_text());
    let head = seen.await.unwrap();
    assert!(head.starts_with("CONNECT db.example.com:5432 HTTP/1.1\r\n"), "the original target is forwarded: {head}");
    assert!(
        !head.contains(&t) && !head.to_ascii_lowercase().contains("authorization"),
        "the token never reaches the proxy: {head}"
    );
    assert!(head.contains("x-trace: keep-me"), "other headers pass: {head}");
    let r = stack.connect("gone.example.com:5432", &[("Authorization", &format!("Pomerium {t}"))], None).await;
    assert_eq!(r.status, 503, "an unreachable upstream proxy → 503: {}", r.head);
}
