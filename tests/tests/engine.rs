//! The engine API the desktop app uses, against a real gateway process: a handle that owns its
//! tasks, typed events, live peers with byte counts, closing one peer or all, drop = stop; and
//! the token rules pomerium-cli gets wrong (a 404 keeps a good token; an
//! expired token is never sent; a login that nobody finishes ends with a sentence).

use std::sync::Arc;
use std::time::Duration;

use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_tunnel::auth::{Authenticator, Browser, LoginSettings, MemoryStore, Token, TokenStore};
use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::connect::Connector;
use porthole_tunnel::events::TunnelEvent;
use porthole_tunnel::handle::{TunnelConfig, TunnelHandle};
use porthole_tunnel::tls::{TlsOptions, client_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

fn config(stack: &TestGateway, destination: &str, browser: Browser, timeout: Duration) -> TunnelConfig {
    let target = porthole_tunnel::target::parse(destination, Some(&stack.url())).unwrap();
    let tls =
        client_config(&TlsOptions { ca_pem: Some(stack.pki.ca_pem().as_bytes().to_vec()), ..TlsOptions::default() })
            .unwrap();
    TunnelConfig {
        connector: Arc::new(Connector::new(target, Some(tls.clone()))),
        login: LoginSettings { tls: Some(tls), browser, timeout },
    }
}

fn origin(stack: &TestGateway) -> String {
    format!("https://127.0.0.1:{}", stack.addr.port())
}

async fn next_matching(
    rx: &mut broadcast::Receiver<TunnelEvent>,
    mut pred: impl FnMut(&TunnelEvent) -> bool,
) -> TunnelEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = rx.recv().await.expect("event channel open");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the expected event arrives")
}

async fn echo_once(stream: &mut TcpStream, msg: &[u8]) {
    stream.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
}

async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(tokio::time::timeout(Duration::from_secs(10), stream.read(&mut b)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_owns_peers_and_stops_on_drop() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts { routes: &format!("  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n", echo.addr), idp: true, ..GatewayOpts::default() }).await.unwrap();
    let store = Arc::new(MemoryStore::default());
    store
        .store(
            &origin(&stack),
            &Token::new(stack.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}))),
        )
        .unwrap();
    let auth = Arc::new(Authenticator::new(store, None));
    let (tx, mut rx) = broadcast::channel(256);
    let handle = TunnelHandle::start_with_events(
        "127.0.0.1:0",
        config(&stack, "echo.corp.example.com:7000", Browser::Print, Duration::from_secs(5)),
        auth,
        tx,
    )
    .await
    .unwrap();
    let addr = handle.local_addr();
    assert_eq!(rx.recv().await.unwrap(), TunnelEvent::Listening { addr });

    let mut a = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut a, &[7u8; 1000]).await;
    next_matching(&mut rx, |e| matches!(e, TunnelEvent::Connected { .. })).await;
    let peers = handle.peers();
    assert_eq!(peers.len(), 1, "one live session");
    assert!(peers[0].bytes_up >= 1000 && peers[0].bytes_down >= 1000, "live byte counts: {peers:?}");
    assert_eq!(peers[0].addr, a.local_addr().unwrap(), "the peer is the local client");

    assert!(handle.close_peer(peers[0].id), "closing a live session");
    assert!(is_closed(&mut a).await, "the closed session's socket is cut");
    let e = next_matching(&mut rx, |e| matches!(e, TunnelEvent::Disconnected { .. })).await;
    let TunnelEvent::Disconnected { bytes_up, bytes_down, error, .. } = e else { unreachable!() };
    assert_eq!((bytes_up, bytes_down, error), (1000, 1000, None), "final counts in the event");

    let mut b = TcpStream::connect(addr).await.unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut b, b"b").await;
    echo_once(&mut c, b"c").await;
    assert_eq!(handle.peers().len(), 2);
    handle.close_all();
    assert!(is_closed(&mut b).await && is_closed(&mut c).await, "close_all cuts every session");
    let mut d = TcpStream::connect(addr).await.unwrap();
    echo_once(&mut d, b"listener still up").await;

    drop(handle);
    assert!(is_closed(&mut d).await, "dropping the handle cuts live sessions");
    assert!(
        eventually(Duration::from_secs(5), || async move { TcpStream::connect(addr).await.is_err() }).await,
        "dropping the handle closes the port"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_keeps_the_token_and_expired_tokens_are_not_sent() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts { routes: &format!("  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n", echo.addr), idp: true, ..GatewayOpts::default() }).await.unwrap();
    let store = Arc::new(MemoryStore::default());
    let good = Token::new(stack.mint(&serde_json::json!({"sub": "alice"})));
    store.store(&origin(&stack), &good).unwrap();
    let auth = Arc::new(Authenticator::new(store.clone(), None));
    let handle = TunnelHandle::start(
        "127.0.0.1:0",
        config(&stack, "nowhere.corp.example.com:1", Browser::Print, Duration::from_secs(5)),
        auth.clone(),
    )
    .await
    .unwrap();
    let mut rx = handle.subscribe();
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    assert!(is_closed(&mut s).await);
    let e = next_matching(&mut rx, |e| matches!(e, TunnelEvent::Disconnected { .. })).await;
    assert!(matches!(e, TunnelEvent::Disconnected { code: Some(ErrorCode::NoRoute), .. }), "{e:?}");
    assert_eq!(
        store.load(&origin(&stack)).unwrap(),
        Some(good.clone()),
        "a 404 keeps the token (pomerium-cli deletes it)"
    );
    drop(handle);

    // An expired token is not sent: the gateway sees no token (302), not a stale one (401).
    let expired = stack.mint_expired(&serde_json::json!({"sub": "alice"}));
    store.store(&origin(&stack), &Token::new(expired)).unwrap();
    let handle = TunnelHandle::start(
        "127.0.0.1:0",
        config(&stack, "echo.corp.example.com:7000", Browser::Print, Duration::from_secs(1)),
        auth,
    )
    .await
    .unwrap();
    let mut rx = handle.subscribe();
    let mut s = TcpStream::connect(handle.local_addr()).await.unwrap();
    let e = next_matching(&mut rx, |e| matches!(e, TunnelEvent::AuthRequired { .. })).await;
    assert!(matches!(&e, TunnelEvent::AuthRequired { url, .. } if url.starts_with(&stack.url())), "{e:?}");
    let e = next_matching(&mut rx, |e| matches!(e, TunnelEvent::LoginFailed { .. })).await;
    let TunnelEvent::LoginFailed { message, .. } = e else { unreachable!() };
    assert!(message.contains("login not completed within 1 s"), "a login nobody finishes says what to do: {message}");
    assert!(is_closed(&mut s).await);
    let log = stack.log();
    assert!(log.contains("status=302") && !log.contains("status=401"), "the expired token was not sent:\n{log}");
}

/// Two connections (desktop rows) to one proxy share one login: the one that waits says so on
/// its own channel, with the login's page, so its row can show "login required" and "Open
/// login" (before, it said "connecting…" with no URL until the other row's login ended).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_waiting_on_another_connections_login_carries_its_page() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts { routes: &format!("  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n", echo.addr), idp: true, ..GatewayOpts::default() }).await.unwrap();
    let auth = Arc::new(Authenticator::new(Arc::new(MemoryStore::default()), None));
    let start = |auth: Arc<Authenticator>| {
        let config = config(&stack, "echo.corp.example.com:7000", Browser::Print, Duration::from_secs(3));
        async move { TunnelHandle::start("127.0.0.1:0", config, auth).await.unwrap() }
    };
    let (first, second) = (start(auth.clone()).await, start(auth).await);
    let (mut first_rx, mut second_rx) = (first.subscribe(), second.subscribe());
    let mut second_status = porthole_client::status::StatusTracker::new(second.local_addr().to_string());

    let _a = TcpStream::connect(first.local_addr()).await.unwrap();
    let e = next_matching(&mut first_rx, |e| matches!(e, TunnelEvent::AuthRequired { .. })).await;
    let TunnelEvent::AuthRequired { url, .. } = e else { unreachable!() };
    let _b = TcpStream::connect(second.local_addr()).await.unwrap();
    let mut seen = Vec::new();
    let waiting = next_matching(&mut second_rx, |e| {
        seen.push(e.clone());
        matches!(e, TunnelEvent::LoginPending { .. })
    })
    .await;
    assert_eq!(waiting, TunnelEvent::LoginPending { origin: origin(&stack), url: Some(url.clone()) });
    for e in &seen {
        second_status.apply(e);
    }
    assert_eq!(
        second_status.status(),
        porthole_client::model::ConnectionStatus::LoginRequired { addr: second.local_addr().to_string(), url },
        "the waiting row shows the login it waits on"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, TunnelEvent::AuthRequired { .. })),
        "one login, announced once (by the connection that started it): {seen:?}"
    );
    let ended = next_matching(&mut second_rx, |e| {
        second_status.apply(e);
        matches!(e, TunnelEvent::LoginPending { url: None, .. })
    })
    .await;
    assert_eq!(ended, TunnelEvent::LoginPending { origin: origin(&stack), url: None }, "the wait ends with the login");
    assert!(
        !matches!(second_status.status(), porthole_client::model::ConnectionStatus::LoginRequired { .. }),
        "no stale login page once the login ended: {:?}",
        second_status.status()
    );
}
