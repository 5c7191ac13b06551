//! `App` end to end against a real `porthole-gateway` process: connect a profile, echo
//! through it, watch status and sessions, cut a session, disconnect, and a taken port.

use std::net::SocketAddr;
use std::time::Duration;

use porthole_client::model::{ConnectionStatus, LogLevel, ProfileDraft};
use porthole_client::{App, AppOptions, ErrorCode};
use porthole_testkit::assert_eventually;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A `porthole-gateway` process (testkit's [`TestGateway`]) with one public route to an echo
/// server.
async fn gateway() -> (TestGateway, EchoServer) {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allow_public_unauthenticated_access: true\n",
        echo.addr
    );
    let gateway = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() })
        .await
        .expect("the test gateway starts");
    (gateway, echo)
}

/// A saved connection's destination: the echo route through `gateway`.
fn destination(gateway: &TestGateway) -> String {
    format!("https://127.0.0.1:{}/echo.example.com:7000", gateway.addr.port())
}

fn app(stack: &TestGateway) -> App {
    App::open(AppOptions::isolated(stack.dir.path())).expect("app opens")
}

#[tokio::test]
async fn connect_echo_sessions_close_and_disconnect() {
    let (stack, _echo) = gateway().await;
    let app = app(&stack);
    let draft = ProfileDraft {
        name: "Echo".into(),
        destination: destination(&stack),
        ca_file: Some(stack.ca_path.display().to_string()),
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
    assert_eventually!(
        matches!(app.status(&profile.id), ConnectionStatus::Connected { sessions: 1, .. }),
        "connected, 1 session"
    );

    let sessions = app.sessions(&profile.id).await.unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert!(sessions[0].bytes_up >= 5 && sessions[0].bytes_down >= 5, "bytes counted: {sessions:?}");
    assert_eq!(sessions[0].peer, client.local_addr().unwrap().to_string());

    app.close_session(&profile.id, sessions[0].id).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await.expect("cut promptly");
    assert!(matches!(n, Ok(0) | Err(_)), "the session is cut: {n:?}");
    assert_eventually!(matches!(app.status(&profile.id), ConnectionStatus::Listening { .. }), "back to listening");
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
    let (stack, _echo) = gateway().await;
    let app = app(&stack);
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let draft = ProfileDraft {
        name: "Busy".into(),
        destination: destination(&stack),
        listen_addr: Some(format!(":{port}")),
        ca_file: Some(stack.ca_path.display().to_string()),
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
