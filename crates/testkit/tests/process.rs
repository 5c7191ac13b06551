//! Real servers as children: redis answers PING; tinyproxy CONNECTs to an echo server.

use porthole_testkit::process::redis_ping;
use porthole_testkit::{EchoServer, spawn_redis, spawn_tinyproxy};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

#[tokio::test]
async fn redis_answers_ping_and_stops_on_drop() {
    let redis = spawn_redis().await.expect("redis-server starts");
    redis_ping(redis.addr).await.expect("redis answers PING");
    let addr = redis.addr;
    drop(redis);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "dropping Redis kills and reaps redis-server, so its port is closed"
    );
}

#[tokio::test]
async fn tinyproxy_connects_to_an_echo_server() {
    let echo = EchoServer::start().await;
    let proxy = spawn_tinyproxy().await.expect("tinyproxy starts");
    let stream = TcpStream::connect(proxy.addr).await.expect("connect to tinyproxy");
    let mut stream = BufReader::new(stream);
    let target = echo.addr;
    stream
        .get_mut()
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .expect("send CONNECT");
    let mut status = String::new();
    stream.read_line(&mut status).await.expect("read status line");
    assert!(
        status.starts_with("HTTP/1.") && status.contains(" 200"),
        "tinyproxy must accept CONNECT to any port, got {status:?}; log:\n{}",
        proxy.log_tail()
    );
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("read header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    stream.get_mut().write_all(b"hello through the proxy").await.expect("write");
    // No half-close here: tinyproxy closes both directions when the client shuts down its side.
    let mut back = vec![0u8; b"hello through the proxy".len()];
    stream.read_exact(&mut back).await.expect("read echo");
    assert_eq!(back, b"hello through the proxy", "the tunnel echoes the bytes");
}
