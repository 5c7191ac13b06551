//! The gateway's log lines can be followed per connection: every line of one CONNECT carries the
//! same `conn{peer=…}:connect{authority=… route=… user=…}` span prefix, another connection's
//! lines carry another peer, and no line carries a token.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use support::{Opts, Stack};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Log output kept in memory, shared with the subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The span part of a line: from the first span to the event's target.
fn spans(line: &str) -> &str {
    let start = line.find("conn{").unwrap_or_else(|| panic!("a line inside a connection: {line}"));
    let end = line.find(" porthole_gateway").unwrap_or_else(|| panic!("a gateway line: {line}"));
    &line[start..end]
}

/// A current-thread runtime, so the gateway's tasks log to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn lines_of_one_connect_share_its_span() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("porthole_gateway=debug")
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n",
        echo.addr
    );
    let stack = Stack::start(Opts { routes: &routes, ..Default::default() }).await;
    let alice = stack.token_for("alice@example.com");
    let bob = stack.token_for("bob@example.com");

    let mut tunnel =
        stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {alice}"))], None).await;
    assert_eq!(tunnel.status, 200, "alice may use the route: {}", tunnel.head);
    tunnel.stream.write_all(b"ping").await.expect("bytes up");
    let mut got = [0u8; 4];
    tunnel.stream.read_exact(&mut got).await.expect("bytes back");
    let refused = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {bob}"))], None).await;
    assert_eq!(refused.status, 403, "bob may not: {}", refused.head);
    drop(tunnel);

    let closed = eventually(Duration::from_secs(10), || async { captured.text().contains("tunnel closed") }).await;
    let log = captured.text();
    assert!(closed, "the tunnel's access line is logged:\n{log}");
    let line =
        |what: &str| log.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("a {what:?} line in:\n{log}"));
    let (open, close, denied) = (line("tunnel open"), line("tunnel closed"), line("tunnel refused"));

    assert_eq!(spans(open), spans(close), "one connection's lines carry the same spans:\n{open}\n{close}");
    let span = spans(close);
    assert!(span.starts_with("conn{peer=127.0.0.1:"), "the connection span names the peer: {span}");
    assert!(
        span.contains(":connect{authority=echo.example.com:7000 route=echo.example.com:7000 user=alice@example.com}"),
        "the CONNECT span names the route and the user: {span}"
    );
    assert!(spans(denied).contains("user=bob@example.com"), "the refused CONNECT has its own span: {denied}");
    let peer = |s: &str| s.split('}').next().unwrap_or_default().to_owned();
    assert_ne!(peer(spans(denied)), peer(span), "another connection, another peer:\n{denied}\n{close}");
    assert!(!log.contains(&alice) && !log.contains(&bob), "no token in any line:\n{log}");
}
