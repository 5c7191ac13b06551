//! The engine's log lines can be followed per connection: every line of one local connection
//! carries the same `tunnel{…}:conn{peer=… user=…}` spans (the user from the stored token's
//! claims, never the token), and the next connection another `peer`. The proxy is a plaintext
//! one that refuses with `404`, which keeps the token and needs no login.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, MemoryStore, Token, TokenStore as _};
use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::connect::Connector;
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelConfig, TunnelHandle};
use porthole_tunnel::target::parse;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

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

/// A plaintext proxy that answers every CONNECT with `404` and closes.
async fn refusing_proxy() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 && s.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        }
    });
    port
}

/// The spans of a line: from the tunnel's to the event's target.
fn spans(line: &str) -> &str {
    let start = line.find("tunnel{").unwrap_or_else(|| panic!("a line inside a tunnel: {line}"));
    let end = line.find(" porthole_tunnel").unwrap_or_else(|| panic!("an engine line: {line}"));
    &line[start..end]
}

/// A current-thread runtime, so the tunnel's tasks log to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn lines_of_one_connection_share_its_spans() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("porthole_tunnel=debug")
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let port = refusing_proxy().await;
    let target = parse(&format!("http://127.0.0.1:{port}/db.example.com:5432"), None).expect("a destination");
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let jwt = format!("{}.{}.c2ln", b64(r#"{"alg":"ES256"}"#), b64(r#"{"sub":"u1","email":"alice@example.com"}"#));
    let store = MemoryStore::default();
    store.store(&target.proxy.origin(), &Token::new(jwt.clone())).expect("stored");
    let login = LoginSettings { tls: None, browser: Browser::Print, timeout: Duration::from_secs(1) };
    let config = TunnelConfig { connector: Arc::new(Connector::new(target, None)), login };
    let auth = Arc::new(Authenticator::new(Arc::new(store), None));
    let handle = TunnelHandle::start("127.0.0.1:0", config, auth).await.expect("listens");
    let listen = handle.local_addr();
    let mut events = handle.subscribe();
    for _ in 0..2 {
        let mut local = TcpStream::connect(handle.local_addr()).await.expect("connect");
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), local.read_to_end(&mut rest))
            .await
            .expect("closed after the 404");
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Ok(TunnelEvent::Disconnected { code, .. }) = events.recv().await {
                    return code;
                }
            }
        });
        assert_eq!(ended.await.expect("the connection ends"), Some(ErrorCode::NoRoute));
    }
    drop(handle);

    let log = captured.text();
    let lines =
        |peer: u64| -> Vec<&str> { log.lines().filter(|l| l.contains(&format!(":conn{{peer={peer} "))).collect() };
    let (first, second) = (lines(1), lines(2));
    // The user is known once the token is loaded: from the CONNECT line on.
    let from = first.iter().position(|l| l.contains(" CONNECT ")).unwrap_or_else(|| panic!("a CONNECT line:\n{log}"));
    let known = &first[from..];
    assert!(known.len() >= 3, "CONNECT, refused, failed: each a line of connection 1:\n{log}");
    assert!(
        known.iter().any(|l| l.contains("CONNECT refused")) && known.iter().any(|l| l.contains("connection failed")),
        "{log}"
    );
    let span = spans(known[0]);
    assert!(known.iter().all(|l| spans(l) == span), "every line of connection 1 carries the same spans:\n{log}");
    assert!(
        span.starts_with(&format!("tunnel{{listen={listen} destination=db.example.com:5432 proxy=127.0.0.1:{port}}}:conn{{peer=1 peer_addr=127.0.0.1:")),
        "the tunnel span names the listener, destination and proxy: {span}"
    );
    assert!(span.ends_with(" user=alice@example.com}:"), "the connection span names the token's user: {span}");
    assert!(
        first[..from].iter().all(|l| spans(l).starts_with(&span[..span.len() - " user=alice@example.com}:".len()])),
        "lines before the token is loaded carry the same spans, without the user yet:\n{log}"
    );
    assert!(!log.contains(&jwt), "the token never reaches a log line:\n{log}");
    assert!(!second.is_empty() && second.iter().all(|l| spans(l) != span), "connection 2 has its own span:\n{log}");
}
