//! `App` end to end against the real `porthole-gateway` in-process: connect a profile, echo
//! through it, watch status and sessions, cut a session, disconnect, and a taken port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use porthole_client::model::{ConnectionStatus, LogLevel, ProfileDraft};
use porthole_client::tokens::MemoryStore;
use porthole_client::{App, AppOptions, ErrorCode, MemorySecrets};
use porthole_gateway::{Gateway, Running};
use porthole_testkit::certs::TestPki;
use porthole_testkit::echo::EchoServer;
use porthole_tunnel::auth::Browser;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

struct Stack {
    addr: SocketAddr,
    ca_file: String,
    _gateway: Running,
    _echo: EchoServer,
    dir: tempfile::TempDir,
}

async fn gateway() -> Stack {
    let (pki, echo) = (TestPki::new(), EchoServer::start().await);
    let dir = tempfile::tempdir().unwrap();
    let server = pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server").unwrap();
    let ca_file = pki.write_ca_to(dir.path()).unwrap().display().to_string();
    let yaml = format!(
        "address: 127.0.0.1:0\ncertificate_file: {}\ncertificate_key_file: {}\nroutes:\n\
         \x20 - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allow_public_unauthenticated_access: true\n",
        server.cert.display(),
        server.key.display(),
        echo.addr,
    );
    let loaded = porthole_gateway::config::parse_str(&yaml, dir.path()).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = Gateway::new(loaded.config).expect("gateway builds").serve(listener).expect("serve");
    Stack { addr: gateway.local_addr(), ca_file, _gateway: gateway, _echo: echo, dir }
}

fn app(stack: &Stack) -> App {
    App::open(AppOptions {
        config_dir: stack.dir.path().join("config"),
        cache_dir: stack.dir.path().join("cache"),
        tokens: Arc::new(MemoryStore::default()),
        secrets: Arc::new(MemorySecrets::default()),
        browser: Browser::Print,
        login_timeout: Duration::from_secs(5),
        cert_store_dir: stack.dir.path().join("certs"),
    })
    .expect("app opens")
}

/// Polls `check` for up to 2 s (the tunnel's event task runs concurrently), with testkit's
/// deadline poller.
async fn eventually<F: FnMut() -> bool>(what: &str, mut check: F) {
    let held = porthole_testkit::eventually::eventually(Duration::from_secs(2), || {
        let ok = check();
        async move { ok }
    })
    .await;
    assert!(held, "never happened: {what}");
}

#[tokio::test]
async fn connect_echo_sessions_close_and_disconnect() {
    let stack = gateway().await;
    let app = app(&stack);
    let draft = ProfileDraft {
        name: "Echo".into(),
        destination: format!("https://127.0.0.1:{}/echo.example.com:7000", stack.addr.port()),
        ca_file: Some(stack.ca_file.clone()),
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    let status = app.connect(&profile.id).await.expect("connects");
    let ConnectionStatus::Listening { addr } = status else { panic!("listening first: {status:?}") };
    let addr: SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "a random loopback port: {addr}");

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello", "bytes go through the gateway to the echo server and back");
    eventually("connected{1}", || matches!(app.status(&profile.id), ConnectionStatus::Connected { sessions: 1, .. }))
        .await;

    let sessions = app.sessions(&profile.id).await.unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].bytes_up >= 5 && sessions[0].bytes_down >= 5, "bytes counted: {sessions:?}");
    assert_eq!(sessions[0].peer, client.local_addr().unwrap().to_string());

    app.close_session(&profile.id, sessions[0].id).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await.expect("cut promptly");
    assert!(matches!(n, Ok(0) | Err(_)), "the session is cut: {n:?}");
    eventually("back to listening", || matches!(app.status(&profile.id), ConnectionStatus::Listening { .. })).await;
    assert_eq!(app.close_session(&profile.id, sessions[0].id).await.unwrap_err().code, ErrorCode::NotFound);
    let logs = app.logs(&profile.id);
    assert!(logs.iter().any(|l| l.message == format!("listening on {addr}")), "{logs:?}");
    assert!(logs.iter().any(|l| l.message.contains("disconnected (sent 5 B, received 5 B)")), "{logs:?}");

    app.disconnect(&profile.id).await.unwrap();
    assert_eq!(app.status(&profile.id), ConnectionStatus::Idle);
    assert!(TcpStream::connect(addr).await.is_err(), "the port is closed after disconnect");
    assert!(app.sessions(&profile.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_taken_port_is_port_in_use() {
    let stack = gateway().await;
    let app = app(&stack);
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let draft = ProfileDraft {
        name: "Busy".into(),
        destination: format!("https://127.0.0.1:{}/echo.example.com:7000", stack.addr.port()),
        listen_addr: Some(format!(":{port}")),
        ca_file: Some(stack.ca_file.clone()),
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    assert!(app.list_connections()[0].port_in_use, "the list warns before connecting");
    let e = app.connect(&profile.id).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::PortInUse, "{e:?}");
    assert!(matches!(app.status(&profile.id), ConnectionStatus::Error { code: ErrorCode::PortInUse, .. }));
    assert_eq!(app.logs(&profile.id).last().map(|l| l.level), Some(LogLevel::Error));
    drop(taken);
    assert!(!app.list_connections()[0].port_in_use);
}
