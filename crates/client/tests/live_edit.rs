//! Saving a running connection applies the change (issue 13): `App` against the real
//! `porthole-gateway`. With no session through, a new CA restarts the listener on the same
//! port and the next client gets through; with a live session, the session is kept and the
//! connection says "reconnect to apply" until `reconnect`, which keeps the port too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use porthole_client::apply::Applied;
use porthole_client::model::{ConnectionStatus, ProfileDraft};
use porthole_client::tokens::{MemoryStore, Token, TokenStore as _};
use porthole_client::{App, AppOptions};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Sends `hello` through `addr` and reads the echo, within 10 s; `false` when the tunnel fails.
async fn echoes(addr: SocketAddr) -> bool {
    let round = async {
        let mut c = TcpStream::connect(addr).await.ok()?;
        c.write_all(b"hello").await.ok()?;
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).await.ok()?;
        Some(buf == *b"hello")
    };
    tokio::time::timeout(Duration::from_secs(10), round).await.ok().flatten().unwrap_or(false)
}

fn listening_addr(status: &ConnectionStatus) -> SocketAddr {
    match status {
        ConnectionStatus::Listening { addr }
        | ConnectionStatus::Failing { addr, .. }
        | ConnectionStatus::Connected { addr, .. } => addr.parse().unwrap(),
        other => panic!("not listening: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_a_running_connection_applies_the_change() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://db.example.com:5432\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = Arc::new(MemoryStore::default());
    tokens.store(&stack.url(), &Token::new(stack.mint_user("alice"))).unwrap();
    let app = App::open(AppOptions { tokens, ..AppOptions::isolated(dir.path()) }).unwrap();
    // No CA: the gateway's test certificate is not trusted, so every attempt fails.
    let mut draft = ProfileDraft {
        name: "DB".into(),
        destination: format!("{}/db.example.com:5432", stack.url()),
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    let addr = listening_addr(&app.connect(&profile.id).await.unwrap());
    assert!(!echoes(addr).await, "an untrusted proxy certificate fails the tunnel");
    let failing = eventually(Duration::from_secs(10), || {
        let s = app.status(&profile.id);
        async move { matches!(s, ConnectionStatus::Failing { .. }) }
    });
    assert!(failing.await, "failing: {:?}", app.status(&profile.id));

    // Edit → CA → Save: no session got through, so the listener restarts on the same port.
    draft.id = Some(profile.id.clone());
    draft.ca_file = Some(stack.ca_path.display().to_string());
    let (_, applied) = app.save_and_apply(&draft).await.unwrap();
    assert_eq!(applied, Applied::Restarted);
    assert_eq!(listening_addr(&app.status(&profile.id)), addr, "the same local port");
    assert!(echoes(addr).await, "the next client gets through without a manual reconnect");

    // A live session: a change is saved but not applied under it.
    let mut live = TcpStream::connect(addr).await.unwrap();
    live.write_all(b"ping!").await.unwrap();
    let mut buf = [0u8; 5];
    live.read_exact(&mut buf).await.unwrap();
    let connected = eventually(Duration::from_secs(10), || {
        let s = app.status(&profile.id);
        async move { matches!(s, ConnectionStatus::Connected { .. }) }
    });
    assert!(connected.await, "connected: {:?}", app.status(&profile.id));
    draft.name = "DB renamed".into();
    assert_eq!(app.save_and_apply(&draft).await.unwrap().1, Applied::Nothing, "a new name changes no tunnel");
    draft.disable_tls_verification = true;
    assert_eq!(app.save_and_apply(&draft).await.unwrap().1, Applied::ReconnectToApply);
    let view = app.list_connections().into_iter().find(|v| v.profile.id == profile.id).unwrap();
    assert!(view.reconnect_to_apply, "the row says reconnect to apply");
    live.write_all(b"still").await.unwrap();
    live.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still", "the live session is kept");

    // Reconnect: the session ends, the port stays, the flag clears.
    app.reconnect(&profile.id).await.unwrap();
    assert!(matches!(live.read(&mut buf).await, Ok(0) | Err(_)), "reconnect ends the old session");
    assert_eq!(listening_addr(&app.status(&profile.id)), addr);
    let view = app.list_connections().into_iter().find(|v| v.profile.id == profile.id).unwrap();
    assert!(!view.reconnect_to_apply);
    assert!(echoes(addr).await);
}
