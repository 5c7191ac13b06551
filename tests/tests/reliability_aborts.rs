//! Aborts look like aborts, end to end (issue 9 §3), and a stuck tunnel is freed (§2), through
//! a real `porthole tcp` and a real `porthole-gateway`:
//!
//! - an upstream that sends 10 000 bytes and then resets reaches the local application as those
//!   bytes and then `ECONNRESET` (not EOF), and `porthole` names the reset;
//! - an upstream that never reads, a local client that writes until everything is full and then
//!   resets: the gateway ends the tunnel within seconds (its access log), not at shutdown.

use std::time::Duration;

use porthole_e2e::stack::{Porthole, Stack};
use porthole_testkit::eventually::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn route(upstream: std::net::SocketAddr) -> String {
    format!(
        "  - from: tcp+https://svc.corp.example.com:7000\n    to: tcp://{upstream}\n    allow_any_authenticated_user: true\n"
    )
}

fn tunnel(stack: &Stack) -> Porthole {
    let token = stack.mint(&serde_json::json!({"sub": "robot", "email": "robot@example.com"}));
    stack.tcp("svc.corp.example.com:7000", "robot@example.com", &["--service-account", &token]).unwrap()
}

/// Closes `tcp` with RST instead of FIN.
fn reset(tcp: TcpStream) {
    socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO)).unwrap();
    drop(tcp);
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_reset_reaches_the_local_socket_as_a_reset_after_the_data() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stack = Stack::start(&route(upstream.local_addr().unwrap())).await.unwrap();
    let tunnel = tunnel(&stack);
    let server = tokio::spawn(async move {
        let (mut tcp, _) = upstream.accept().await.unwrap();
        // Mid-stream: the tunnel is up once the client's first byte arrives.
        let mut hello = [0u8; 5];
        tcp.read_exact(&mut hello).await.unwrap();
        tcp.write_all(&pattern(10_000)).await.unwrap();
        reset(tcp);
    });
    let mut local = TcpStream::connect(tunnel.addr).await.unwrap();
    local.write_all(b"hello").await.unwrap();
    let mut got = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(20), local.read_to_end(&mut got)).await.expect("the tunnel ends");
    server.await.unwrap();
    let Err(err) = read else {
        panic!(
            "the local socket must be reset, not closed cleanly ({} bytes)\nporthole:\n{}\ngateway:\n{}",
            got.len(),
            tunnel.log(),
            stack.gateway.log()
        );
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(got == pattern(10_000), "the 10 000 bytes sent before the reset arrive first (got {})", got.len());
    let sentence = "the upstream reset the connection after 10000 bytes";
    assert!(
        eventually(Duration::from_secs(10), || async { tunnel.log().contains(sentence) }).await,
        "porthole names the reset:\n{}",
        tunnel.log()
    );
    let log = stack.gateway.log();
    assert!(
        eventually(Duration::from_secs(10), || async { stack.gateway.log().contains("aborted by the upstream") }).await,
        "the access log says who aborted:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_resets_while_the_upstream_does_not_read_frees_the_tunnel() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stack = Stack::start(&route(upstream.local_addr().unwrap())).await.unwrap();
    let tunnel = tunnel(&stack);
    // Accepts and never reads.
    let (held_tx, held_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = upstream.accept().await.unwrap();
        let _ = held_tx.send(tcp);
    });
    let mut local = TcpStream::connect(tunnel.addr).await.unwrap();
    // Write until no byte moves for a second: every buffer on the way is full (bounded: 1 GiB).
    let chunk = vec![7u8; 64 * 1024];
    let mut written = 0usize;
    while let Ok(n) = tokio::time::timeout(Duration::from_secs(1), local.write(&chunk)).await {
        written += n.unwrap();
        assert!(written < 1 << 30, "the upstream never reads, so the writes must block");
    }
    let mut held =
        tokio::time::timeout(Duration::from_secs(10), held_rx).await.expect("the upstream was dialled").unwrap();
    assert!(
        !stack.gateway.log().contains("tunnel closed"),
        "the tunnel is open while blocked:\n{}",
        stack.gateway.log()
    );
    reset(local);
    let freed = eventually(Duration::from_secs(10), || async { stack.gateway.log().contains("tunnel closed") }).await;
    let log = stack.gateway.log();
    assert!(
        freed,
        "the gateway ends the stuck tunnel within seconds of the client's reset:\n{log}\nporthole:\n{}",
        tunnel.log()
    );
    let line = log.lines().find(|l| l.contains("tunnel closed")).unwrap_or_default();
    assert!(line.contains("aborted by the client"), "the access log says who aborted: {line}");
    // And the upstream is reset in turn: what reached it, then ECONNRESET.
    let mut sink = vec![0u8; 1 << 20];
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match held.read(&mut sink).await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the upstream connection ends");
    let err = end.expect_err("the upstream is reset, not closed cleanly");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}
