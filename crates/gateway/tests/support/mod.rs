//! The gateway's integration tests run it in-process: testkit's [`TestGateway`] writes the
//! config (test CA, token key, routes, optionally the real IdP) and [`serve`] runs it here.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::path::Path;

use porthole_gateway::{Gateway, Running};
pub use porthole_testkit::gateway::GatewayOpts as Opts;
use porthole_testkit::gateway::TestGateway;

/// A gateway running in this test process, and what a test needs to talk to it.
pub type Stack = TestGateway<Running>;

/// Starts an in-process gateway for `opts`.
pub async fn start(opts: Opts<'_>) -> Stack {
    TestGateway::start_with(opts, serve).await.unwrap_or_else(|e| panic!("{e:#}"))
}

/// Loads the config file and serves it on a fresh loopback port in this process.
pub fn serve(config: &Path, dir: &Path) -> anyhow::Result<(Running, SocketAddr)> {
    let yaml = std::fs::read_to_string(config)?;
    let loaded = porthole_gateway::config::parse_str(&yaml, dir)
        .map_err(|e| anyhow::anyhow!("the test config must load: {e:?}"))?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let gateway = Gateway::new(loaded.config)?.serve(tokio::net::TcpListener::from_std(listener)?)?;
    let addr = gateway.local_addr();
    Ok((gateway, addr))
}

/// HTTP/2 over TLS (ALPN `h2`) to `stack` with hyper's client, and its connection task.
pub async fn h2_client(
    stack: &Stack,
) -> (
    hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(stack.addr).await.unwrap();
    let mut cfg = porthole_testkit::connect::client_config(stack.pki.ca_pem(), None);
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "the gateway speaks HTTP/2");
    let io = hyper_util::rt::TokioIo::new(tls);
    let (send, conn) = hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
    (send, tokio::spawn(conn))
}

/// An HTTP/3 request sender to `stack` (QUIC with the test CA, ALPN `h3`), with its QUIC
/// connection and endpoint (closed when dropped); the h3 driver runs as a task.
pub async fn h3_client(
    stack: &Stack,
) -> (h3::client::SendRequest<h3_quinn::OpenStreams, bytes::Bytes>, quinn::Connection, quinn::Endpoint) {
    let (conn, endpoint) = quic_connect(stack).await;
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn.clone())).await.expect("HTTP/3 settings");
    tokio::spawn(async move { std::future::poll_fn(|cx| driver.poll_close(cx)).await });
    (send, conn, endpoint)
}

/// A QUIC connection to `stack` (the test CA, ALPN `h3`) and its endpoint (closed when dropped).
pub async fn quic_connect(stack: &Stack) -> (quinn::Connection, quinn::Endpoint) {
    let mut cfg = porthole_testkit::connect::client_config(stack.pki.ca_pem(), None);
    cfg.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(cfg).expect("a TLS 1.3 client config");
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let conn = endpoint
        .connect_with(quinn::ClientConfig::new(std::sync::Arc::new(crypto)), stack.addr, "localhost")
        .unwrap()
        .await
        .expect("the gateway speaks QUIC on its TLS port");
    (conn, endpoint)
}
