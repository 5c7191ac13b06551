//! CONNECT-UDP over HTTP/1.1 against the in-process gateway, with the exact bytes pomerium-cli
//! writes (docs/protocol.md §2.4, hand-written here): the `200` with no body framing, datagram
//! capsules to a real UDP echo upstream and back, other capsule types skipped, other context
//! ids dropped; the login / policy / route answers as for CONNECT; `tcp+` and `udp+` routes on
//! one authority kept apart.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UdpSocket;

/// A UDP echo server on loopback: every datagram is sent back as is.
async fn udp_echo() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    addr
}

fn routes(echo: SocketAddr) -> String {
    format!(
        "  - from: udp+https://echo.corp.example.com:7\n    to: udp://{echo}\n    allow_any_authenticated_user: true\n\
         \x20 - from: udp+https://locked.corp.example.com:7\n    to: udp://{echo}\n    allowed_users: [bob@example.com]\n\
         \x20 - from: tcp+https://echo.corp.example.com:7\n    to: tcp://127.0.0.1:9\n    allow_any_authenticated_user: true\n"
    )
}

/// pomerium-cli's CONNECT-UDP request for `host`/`port`, byte for byte (§2.4).
fn request(host: &str, port: u16, jwt: Option<&str>) -> Vec<u8> {
    let auth = jwt.map(|t| format!("Authorization: Pomerium {t}\r\n")).unwrap_or_default();
    format!(
        "GET /.well-known/masque/udp/{host}/{port}/ HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: Go-http-client/1.1\r\n\
         {auth}Capsule-Protocol: ?1\r\nConnection: Upgrade\r\nUpgrade: connect-udp\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `req` on a fresh TLS connection and returns the head and the stream.
async fn send(stack: &support::Stack, req: &[u8]) -> (String, tokio_rustls::client::TlsStream<tokio::net::TcpStream>) {
    let mut tls = stack.tls(None).await.unwrap();
    tls.write_all(req).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(tls.read(&mut byte).await.unwrap(), 1, "the gateway closed before its head: {head:?}");
            head.push(byte[0]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.expect("an answer head within 20 s");
    (String::from_utf8(head).unwrap(), tls)
}

async fn read_exact(tls: &mut (impl tokio::io::AsyncRead + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(20), tls.read_exact(&mut buf)).await.expect("bytes within 20 s").unwrap();
    buf
}

#[tokio::test]
async fn pomerium_clis_bytes_open_a_udp_tunnel_and_datagrams_round_trip() {
    let echo = udp_echo().await;
    let stack = support::start(support::Opts { routes: &routes(echo), ..Default::default() }).await;
    let jwt = stack.mint_user("alice");
    let (head, mut tls) = send(&stack, &request("echo.corp.example.com", 7, Some(&jwt))).await;
    assert_eq!(head, "HTTP/1.1 200 OK\r\nCapsule-Protocol: ?1\r\n\r\n", "a 200 (not 101) with no body framing");
    // An unknown capsule type (0x29, 3 bytes) is skipped; context id 5 is dropped; then a
    // datagram with context 0: only that one reaches the upstream and comes back.
    tls.write_all(b"\x29\x03abc\x00\x03\x05xy\x00\x06\x00hello").await.unwrap();
    assert_eq!(read_exact(&mut tls, 8).await, b"\x00\x06\x00hello", "the echo, as one DATAGRAM capsule");
    // A 1,000-byte datagram: a 2-byte length varint (0x43e9 = 1001), never split.
    let big: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut capsule = vec![0x00, 0x43, 0xe9, 0x00];
    capsule.extend_from_slice(&big);
    tls.write_all(&capsule).await.unwrap();
    assert_eq!(read_exact(&mut tls, capsule.len()).await, capsule);
}

#[tokio::test]
async fn refusals_are_the_answers_a_connect_gets() {
    let echo = udp_echo().await;
    let stack = support::start(support::Opts { routes: &routes(echo), ..Default::default() }).await;
    let status = |head: &str| head.lines().next().unwrap_or_default().to_owned();
    let (head, _) = send(&stack, &request("echo.corp.example.com", 7, None)).await;
    assert!(status(&head).starts_with("HTTP/1.1 302"), "no token: a login redirect: {head}");
    assert!(head.contains("\r\nlocation: ") || head.contains("\r\nLocation: "), "{head}");
    let (head, _) = send(&stack, &request("echo.corp.example.com", 7, Some("not-a-token"))).await;
    assert_eq!(status(&head), "HTTP/1.1 401 Unauthorized", "{head}");
    let (head, _) = send(&stack, &request("locked.corp.example.com", 7, Some(&stack.mint_user("alice")))).await;
    assert_eq!(status(&head), "HTTP/1.1 403 Forbidden", "{head}");
    let (head, _) = send(&stack, &request("other.corp.example.com", 7, Some(&stack.mint_user("alice")))).await;
    assert_eq!(status(&head), "HTTP/1.1 404 Not Found", "{head}");
    let no_upgrade = b"GET /.well-known/masque/udp/echo.corp.example.com/7/ HTTP/1.1\r\nHost: x\r\n\r\n";
    let (head, _) = send(&stack, no_upgrade).await;
    assert_eq!(status(&head), "HTTP/1.1 400 Bad Request", "{head}");
    // The tcp+ route on the same authority is not a UDP route, and the other way round.
    let reply = stack.connect("echo.corp.example.com:7", &[("authorization", "Pomerium x")], None).await;
    assert_ne!(reply.status, 404, "CONNECT finds the tcp+ route");
    let tcp_only = "  - from: tcp+https://tcponly.corp.example.com:7\n    to: tcp://127.0.0.1:9\n    allow_any_authenticated_user: true\n";
    let stack = support::start(support::Opts { routes: tcp_only, ..Default::default() }).await;
    let (head, _) = send(&stack, &request("tcponly.corp.example.com", 7, Some(&stack.mint_user("alice")))).await;
    assert_eq!(status(&head), "HTTP/1.1 404 Not Found", "CONNECT-UDP does not match a tcp+ route: {head}");
}

#[tokio::test]
async fn other_requests_on_the_listener_are_unchanged() {
    let echo = udp_echo().await;
    let stack = support::start(support::Opts { routes: &routes(echo), ..Default::default() }).await;
    let (head, mut tls) = send(&stack, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(read_exact(&mut tls, 3).await, b"OK\n");
}

/// Opens a UDP tunnel for `jwt` and checks one datagram round trip.
async fn open_udp(
    stack: &support::Stack,
    host: &str,
    jwt: &str,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let (head, mut tls) = send(stack, &request(host, 7, Some(jwt))).await;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    tls.write_all(b"\x00\x03\x00hi").await.unwrap();
    assert_eq!(read_exact(&mut tls, 5).await, b"\x00\x03\x00hi");
    tls
}

/// Waits up to `within` for the gateway to end the tunnel (end of stream or an error).
async fn ended_within(tls: &mut (impl tokio::io::AsyncRead + Unpin), within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, tls.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test]
async fn a_reload_revokes_a_udp_tunnel_and_the_registry_counts_it() {
    use porthole_gateway::reload::Trigger;
    let echo = udp_echo().await;
    let routes = |users: &str| {
        format!("  - from: udp+https://echo.corp.example.com:7\n    to: udp://{echo}\n    allowed_users: [{users}]\n")
    };
    let both = routes("alice@example.com, bob@example.com");
    let stack = support::start(support::Opts { routes: &both, ..Default::default() }).await;
    let running = stack.gateway.as_ref().unwrap();
    let mut alice = open_udp(&stack, "echo.corp.example.com", &stack.mint_user("alice")).await;
    let mut bob = open_udp(&stack, "echo.corp.example.com", &stack.mint_user("bob")).await;
    assert_eq!(running.live_tunnels(), 2, "UDP tunnels are in the live-tunnel registry");
    let head = stack.yaml.find("\nroutes:\n").unwrap() + "\nroutes:\n".len();
    std::fs::write(&stack.config, format!("{}{}", &stack.yaml[..head], routes("bob@example.com"))).unwrap();
    running.reloader(stack.config.clone()).reload(Trigger::Signal);
    // Within 400 ms: at the revocation itself, not the 500 ms backstop that stops any tunnel.
    assert!(ended_within(&mut alice, Duration::from_millis(400)).await, "alice's UDP tunnel ends at the reload");
    bob.write_all(b"\x00\x03\x00ok").await.unwrap();
    assert_eq!(read_exact(&mut bob, 5).await, b"\x00\x03\x00ok", "bob's goes on");
}

#[tokio::test]
async fn a_udp_tunnel_ends_when_its_session_expires() {
    let echo = udp_echo().await;
    let stack = support::start(support::Opts { routes: &routes(echo), ..Default::default() }).await;
    let jwt = stack.mint_user_for("alice", Duration::from_secs(2));
    let mut tls = open_udp(&stack, "echo.corp.example.com", &jwt).await;
    assert!(ended_within(&mut tls, Duration::from_secs(10)).await, "the tunnel ends at the session's expiry");
}

/// An HTTP/3 client that offers HTTP Datagrams, as `porthole udp` and pomerium-cli dial.
async fn h3_datagram_client(
    stack: &support::Stack,
) -> (
    h3::client::Connection<h3_quinn::Connection, bytes::Bytes>,
    h3::client::SendRequest<h3_quinn::OpenStreams, bytes::Bytes>,
    quinn::Endpoint,
) {
    let (conn, endpoint) = support::quic_connect(stack).await;
    let (driver, send) = h3::client::builder()
        .enable_datagram(true)
        .build(h3_quinn::Connection::new(conn))
        .await
        .expect("HTTP/3 settings");
    (driver, send, endpoint)
}

fn connect_udp_h3(host: &str, port: u16, jwt: &str) -> http::Request<()> {
    http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("https://localhost/.well-known/masque/udp/{host}/{port}/"))
        .extension(h3::ext::Protocol::CONNECT_UDP)
        .header("capsule-protocol", "?1")
        .header("authorization", format!("Pomerium {jwt}"))
        .body(())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http3_datagrams_round_trip_other_contexts_drop_and_one_tunnel_per_connection() {
    use h3::ConnectionState as _;
    use h3_datagram::datagram_handler::HandleDatagramsExt as _;

    let echo = udp_echo().await;
    let opts = support::Opts { routes: &routes(echo), extra: "codec_type: http3\n", ..Default::default() };
    let stack = support::start(opts).await;
    let jwt = stack.mint_user("alice");
    let (mut driver, mut send, _endpoint) = h3_datagram_client(&stack).await;
    let mut stream = send.send_request(connect_udp_h3("echo.corp.example.com", 7, &jwt)).await.unwrap();
    let resp = stream.recv_response().await.unwrap();
    assert_eq!(resp.status(), http::StatusCode::OK);
    assert_eq!(resp.headers().get("capsule-protocol").unwrap(), "?1");
    let mut sender = driver.get_datagram_sender(stream.id());
    let mut reader = driver.get_datagram_reader();
    tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
    // Context id 5 is dropped; context 0 reaches the upstream and comes back, context id 0.
    sender.send_datagram(bytes::Bytes::from_static(b"\x05dropped")).unwrap();
    sender.send_datagram(bytes::Bytes::from_static(b"\x00hello")).unwrap();
    let back = tokio::time::timeout(Duration::from_secs(10), reader.read_datagram()).await.expect("the echo").unwrap();
    assert_eq!(back.stream_id(), stream.id());
    assert_eq!(&back.into_payload()[..], b"\x00hello");
    let gw = stack.gateway.as_ref().unwrap();
    assert_eq!(gw.live_tunnels(), 1, "registered as a live tunnel");
    // The gateway's SETTINGS (its control stream, read by the driver task) enable both; they
    // may arrive after the echo, which travels apart from them.
    let announced = porthole_testkit::eventually::eventually(Duration::from_secs(10), || async {
        let settings = send.settings();
        settings.enable_extended_connect() && settings.enable_datagram()
    })
    .await;
    assert!(announced, "SETTINGS: {:?}", send.settings());

    // A second CONNECT-UDP on the same connection is refused with a sentence, not misrouted.
    let mut second = send.send_request(connect_udp_h3("echo.corp.example.com", 7, &jwt)).await.unwrap();
    let resp = second.recv_response().await.unwrap();
    assert_eq!(resp.status(), http::StatusCode::BAD_REQUEST);

    // Ending the request stream ends the tunnel.
    stream.finish().await.unwrap();
    let ended =
        porthole_testkit::eventually::eventually(Duration::from_secs(10), || async { gw.live_tunnels() == 0 }).await;
    assert!(ended, "the tunnel ended with its request stream: {} live", gw.live_tunnels());
}
