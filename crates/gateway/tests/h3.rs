//! The gateway's HTTP/3 listener (`codec_type: http3`) in-process, driven by an h3 client:
//! a CONNECT is admitted and relayed as over HTTP/1.1 (and refused with the same statuses),
//! `Alt-Svc` is on the TCP answers, and a connection holds at most 100 request streams at once.

mod support;

use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{Method, Request, StatusCode};
use porthole_testkit::echo::EchoServer;
use support::{Opts, Stack, h3_client};

type Stream = h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>;

async fn stack(echo: &EchoServer) -> Stack {
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    support::start(Opts { routes: &routes, extra: "codec_type: http3\n", ..Default::default() }).await
}

fn connect(authority: &str, token: Option<&str>) -> Request<()> {
    let mut req =
        Request::builder().method(Method::CONNECT).uri(http::Uri::builder().authority(authority).build().unwrap());
    if let Some(t) = token {
        req = req.header("authorization", format!("Pomerium {t}"));
    }
    req.body(()).unwrap()
}

async fn open(
    send: &mut h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>,
    req: Request<()>,
) -> (StatusCode, http::HeaderMap, Stream) {
    let mut stream = send.send_request(req).await.expect("request sent");
    let resp = stream.recv_response().await.expect("an answer");
    (resp.status(), resp.headers().clone(), stream)
}

async fn read_some(stream: &mut Stream) -> Vec<u8> {
    let mut chunk = tokio::time::timeout(Duration::from_secs(10), stream.recv_data())
        .await
        .expect("data within 10 s")
        .expect("no stream error")
        .expect("data, not the end");
    chunk.copy_to_bytes(chunk.remaining()).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_over_h3_is_admitted_relayed_and_refused_like_tcp() {
    let echo = EchoServer::start().await;
    let stack = stack(&echo).await;
    let reply = stack.connect("nothing.example.com:1", &[], None).await;
    assert_eq!(reply.status, 404);
    let alt_svc = format!("alt-svc: h3=\":{}\"; ma=86400", stack.addr.port());
    assert!(reply.head.to_ascii_lowercase().contains(&alt_svc), "TCP answers announce HTTP/3: {}", reply.head);

    let (mut send, _conn, _endpoint) = h3_client(&stack).await;
    let (status, _, _) = open(&mut send, connect("nothing.example.com:1", None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no route");
    let (status, headers, _) = open(&mut send, connect("echo.example.com:7000", None)).await;
    assert_eq!(status, StatusCode::FOUND, "no token: the login redirect");
    assert!(headers.get("location").is_some_and(|l| l.to_str().unwrap().contains("/.pomerium/sign_in")), "{headers:?}");
    let (status, _, _) = open(&mut send, connect("echo.example.com:7000", Some("not-a-token"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a bad token: log in again");

    let token = stack.mint_user("alice");
    let (status, _, mut stream) = open(&mut send, connect("echo.example.com:7000", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    stream.send_data(Bytes::from_static(b"ping over h3")).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 12 {
        got.extend(read_some(&mut stream).await);
    }
    assert_eq!(got, b"ping over h3", "the echo came back through the tunnel");
    assert_eq!(stack.gateway.as_ref().unwrap().live_tunnels(), 1, "registered as a live tunnel");
    // Half-close: our FIN reaches the upstream (the echo server then closes), and its end comes back.
    stream.finish().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.recv_data()).await.expect("the end within 10 s");
    assert!(matches!(end, Ok(None)), "the tunnel ends cleanly after our FIN: {:?}", end.map(|d| d.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_holds_at_most_100_streams() {
    let echo = EchoServer::start().await;
    let stack = stack(&echo).await;
    let token = stack.mint_user("alice");
    let (mut send, _conn, _endpoint) = h3_client(&stack).await;
    let mut open_streams = Vec::new();
    for _ in 0..100 {
        let (status, _, stream) = open(&mut send, connect("echo.example.com:7000", Some(&token))).await;
        assert_eq!(status, StatusCode::OK);
        open_streams.push(stream);
    }
    let mut extra = send.clone();
    let blocked = tokio::spawn(async move { open(&mut extra, connect("echo.example.com:7000", Some(&token))).await.0 });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!blocked.is_finished(), "the 101st stream waits for the gateway's stream credit");
    // Ending tunnels gives the credit back; quinn announces it once an eighth of the window
    // (13 of 100 streams) is free.
    for mut stream in open_streams.drain(..13) {
        stream.finish().await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.recv_data()).await;
    }
    let gw = stack.gateway.as_ref().unwrap();
    let ended =
        porthole_testkit::eventually::eventually(Duration::from_secs(5), || async { gw.live_tunnels() == 87 }).await;
    assert!(ended, "the gateway ended 13 tunnels: {} live", gw.live_tunnels());
    let status = tokio::time::timeout(Duration::from_secs(10), blocked).await.expect("served once a stream ended");
    assert_eq!(status.unwrap(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_quic_handshake_is_dropped_at_the_handshake_timeout() {
    let echo = EchoServer::start().await;
    let stack = stack(&echo).await;
    let gw = stack.gateway.as_ref().unwrap();
    // Start from an empty gate (the start-up readiness check's connection may still be open).
    let empty =
        porthole_testkit::eventually::eventually(Duration::from_secs(15), || async { gw.open_connections() == 0 });
    assert!(empty.await, "no connection open before the test: {}", gw.open_connections());
    // A relay that passes the client's first packet (its Initial) to the gateway and nothing
    // else: the gateway has a connection whose handshake never completes.
    let relay = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    let gateway_addr = stack.addr;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let (n, _) = relay.recv_from(&mut buf).await.unwrap();
        relay.send_to(&buf[..n], gateway_addr).await.unwrap();
        loop {
            let _ = relay.recv_from(&mut buf).await;
        }
    });
    let mut cfg = porthole_testkit::connect::client_config(stack.pki.ca_pem(), None);
    cfg.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(cfg).unwrap();
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let connecting =
        endpoint.connect_with(quinn::ClientConfig::new(std::sync::Arc::new(crypto)), relay_addr, "localhost").unwrap();
    let _client = tokio::spawn(connecting);
    let admitted =
        porthole_testkit::eventually::eventually(Duration::from_secs(5), || async { gw.open_connections() == 1 });
    assert!(admitted.await, "the stalled handshake holds a slot");
    let started = std::time::Instant::now();
    let dropped =
        porthole_testkit::eventually::eventually(Duration::from_secs(30), || async { gw.open_connections() == 0 });
    assert!(dropped.await, "the stalled handshake was never dropped");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(13),
        "dropped at the 10 s handshake timeout (without it quinn lets go after about 30 s): {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_h3_tunnel_is_reset_without_a_panic() {
    // A panic in a relay task is caught by tokio and would go unseen: the hook records it.
    let panicked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = panicked.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.store(true, std::sync::atomic::Ordering::SeqCst);
        previous(info);
    }));
    let echo = EchoServer::start().await;
    let stack = stack(&echo).await;
    let (mut send, _conn, _endpoint) = h3_client(&stack).await;
    let token = stack.mint_user("alice");
    let (status, _, mut stream) = open(&mut send, connect("echo.example.com:7000", Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    // The route goes away while the tunnel idles (the gateway's side waits on a read).
    let head = stack.yaml.find("\nroutes:\n").expect("routes line") + "\nroutes:\n".len();
    let other = format!(
        "  - from: tcp+https://other.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let path = stack.dir.path().join("gateway.yaml");
    std::fs::write(&path, format!("{}{other}", &stack.yaml[..head])).unwrap();
    let reloader = stack.gateway.as_ref().unwrap().reloader(path);
    let reloaded = reloader.reload(porthole_gateway::reload::Trigger::Signal);
    assert!(matches!(reloaded, porthole_gateway::reload::Reload::Applied { revoked: 1, .. }), "{reloaded:?}");
    let end = tokio::time::timeout(Duration::from_secs(10), stream.recv_data()).await.expect("an end within 10 s");
    assert!(end.is_err(), "a revoked tunnel ends with a reset, not a clean end");
    let gw = stack.gateway.as_ref().unwrap();
    assert!(
        porthole_testkit::eventually::eventually(Duration::from_secs(5), || async { gw.live_tunnels() == 0 }).await
    );
    assert!(!panicked.load(std::sync::atomic::Ordering::SeqCst), "no task panicked while the tunnel was cut");
}
