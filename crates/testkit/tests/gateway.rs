//! `TestGateway` runs the real `porthole-gateway` process: the tokens testkit signs are the
//! gateway's own (accepted while valid, refused once expired), bytes go through, and dropping
//! it stops the process.

use porthole_testkit::EchoServer;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn minted_tokens_open_a_route_and_drop_stops_the_process() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allowed_users: [alice@example.com]\n",
        echo.addr
    );
    let gw = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() })
        .await
        .expect("the gateway starts");
    assert!(gw.yaml.contains("routes:\n  - from: tcp+https://echo.example.com:7000"), "{}", gw.yaml);

    let auth = format!("Pomerium {}", gw.mint_user("alice"));
    let mut r = gw.connect("echo.example.com:7000", &[("Authorization", &auth)], None).await;
    assert_eq!(r.status, 200, "a token signed with the config's key is the gateway's own: {}\n{}", r.head, gw.log());
    r.stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    r.stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");

    let expired =
        format!("Pomerium {}", gw.mint_expired(&serde_json::json!({"sub": "alice", "email": "alice@example.com"})));
    let r = gw.connect("echo.example.com:7000", &[("Authorization", &expired)], None).await;
    assert_eq!(r.status, 401, "an expired token is refused: {}", r.head);
    let r = gw
        .connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {}", gw.mint_user("bob")))], None)
        .await;
    assert_eq!(r.status, 403, "bob is not on the route: {}", r.head);

    let (addr, pid) = (gw.addr, gw.pid());
    drop(gw);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the port is closed once the handle is dropped");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the process {pid} is gone (killed and reaped)");
}
