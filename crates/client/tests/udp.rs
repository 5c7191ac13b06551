//! A saved connection with `protocol: udp` runs a UDP tunnel through the same
//! `TunnelOptions` as TCP: `App` against the real `porthole-gateway` process and a UDP echo
//! upstream; its live session carries datagram counters.

use std::sync::Arc;
use std::time::Duration;

use porthole_client::model::{ConnectionStatus, DatagramCounters, ProfileDraft, Protocol};
use porthole_client::tokens::{MemoryStore, Token, TokenStore as _};
use porthole_client::{App, AppOptions};
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_profile_relays_datagrams_and_counts_them_per_session() {
    let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..n], from).await;
        }
    });
    let routes = format!(
        "  - from: udp+https://echo.example.com:7\n    to: udp://{echo_addr}\n    allow_any_authenticated_user: true\n"
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens = Arc::new(MemoryStore::default());
    tokens.store(&stack.url(), &Token::new(stack.mint_user("alice"))).unwrap();
    let app = App::open(AppOptions { tokens, ..AppOptions::isolated(dir.path()) }).expect("app opens");
    let draft = ProfileDraft {
        name: "Echo".into(),
        destination: format!("udp+{}/echo.example.com:7", stack.url()),
        ca_file: Some(stack.ca_path.display().to_string()),
        protocol: Protocol::Udp,
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    let ConnectionStatus::Listening { addr } = app.connect(&profile.id).await.expect("connects") else {
        panic!("listening first")
    };
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(b"ping", &addr).await.unwrap();
    let mut buf = [0u8; 16];
    let (n, _) = tokio::time::timeout(Duration::from_secs(20), socket.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no echo within 20 s: {:?}\n{}", app.logs(&profile.id), stack.log()))
        .unwrap();
    assert_eq!(&buf[..n], b"ping");
    let sessions = app.sessions(&profile.id).await.unwrap();
    assert_eq!(sessions.len(), 1, "one session for one source address: {sessions:?}");
    assert_eq!(sessions[0].peer, socket.local_addr().unwrap().to_string());
    assert_eq!(sessions[0].datagrams, Some(DatagramCounters { up: 1, down: 1, dropped: 0 }));
    assert_eq!((sessions[0].bytes_up, sessions[0].bytes_down), (4, 4));
    app.disconnect(&profile.id).await.unwrap();
}
