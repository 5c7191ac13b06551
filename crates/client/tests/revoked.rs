//! A saved connection whose live session the proxy revokes reads as `failing` (cause: revoked) with
//! the sentence, not green `listening`: `App` against the real `porthole-gateway` process, whose
//! config is edited (as an editor saves it) to remove alice from the route's policy. The
//! gateway's reload cuts her tunnel; the engine's one probe CONNECT learns why (403).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use porthole_client::model::{ConnectionStatus, Fix, LogLevel, ProfileDraft};
use porthole_client::tokens::{MemoryStore, Token, TokenStore as _};
use porthole_client::{App, AppOptions, ErrorCode};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_tunnel::cause::Cause;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The route to `echo`, open to `email` only.
fn route(echo: &EchoServer, email: &str) -> String {
    format!(
        "  - from: tcp+https://db.example.com:5432\n    to: tcp://{}\n    policy:\n      - allow:\n\
         \x20         or:\n            - email:\n                is: {email}\n",
        echo.addr
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_proxy_revokes_turns_the_status_to_revoked() {
    let echo = EchoServer::start().await;
    let alice_only = route(&echo, "alice@example.com");
    let stack = TestGateway::start(GatewayOpts { routes: &alice_only, ..GatewayOpts::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Alice is logged in already: her token, signed with the gateway's key, is in the store.
    let origin = stack.url();
    let tokens = Arc::new(MemoryStore::default());
    tokens.store(&origin, &Token::new(stack.mint_user("alice"))).unwrap();
    let app = App::open(AppOptions { tokens, ..AppOptions::isolated(dir.path()) }).expect("app opens");
    let draft = ProfileDraft {
        name: "DB".into(),
        destination: format!("{origin}/db.example.com:5432"),
        ca_file: Some(stack.ca_path.display().to_string()),
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    let ConnectionStatus::Listening { addr } = app.connect(&profile.id).await.expect("connects") else {
        panic!("listening first")
    };
    let local: SocketAddr = addr.parse().unwrap();
    let mut client = TcpStream::connect(local).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello", "the session works before the proxy changes its mind");

    // The operator removes alice (an editor's save: a new file renamed over the old one).
    let edited = stack.yaml.replace(&alice_only, &route(&echo, "bob@example.com"));
    let tmp = stack.config.with_extension("yaml.tmp");
    std::fs::write(&tmp, edited).unwrap();
    std::fs::rename(&tmp, &stack.config).unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await.expect("cut promptly");
    assert!(matches!(n, Ok(0) | Err(_)), "the proxy ended the session: {n:?}\n{}", stack.log());
    drop(client);

    let cause = Cause::Revoked { destination: "db.example.com:5432".into(), user: Some("alice@example.com".into()) };
    let want = ConnectionStatus::Failing {
        addr,
        label: "access revoked for alice@example.com".into(),
        message: "Access to db.example.com:5432 was revoked for alice@example.com. Logging in again as the same user \
                  will not help; ask for access, or log in as someone else."
            .into(),
        code: ErrorCode::Revoked,
        cause,
        action: Some(Fix::LogInAsSomeoneElse),
    };
    let shown = porthole_testkit::eventually::eventually(Duration::from_secs(15), || {
        let ok = app.status(&profile.id) == want;
        async move { ok }
    });
    assert!(shown.await, "status after the cut: {:?}\nlog: {:?}", app.status(&profile.id), app.logs(&profile.id));
    let logs = app.logs(&profile.id);
    assert!(
        logs.iter().any(|l| l.level == LogLevel::Error && l.message.contains("was revoked for alice@example.com.")),
        "the log says why: {logs:?}"
    );
}
