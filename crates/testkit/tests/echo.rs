//! `EchoServer` echoes every byte and passes a half-close on after the last echoed byte.

use porthole_testkit::{EchoServer, assert_eventually};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[tokio::test]
async fn echoes_and_keeps_half_close() {
    let echo = EchoServer::start().await;
    let mut stream = TcpStream::connect(echo.addr).await.expect("connect");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = stream.split();
    let write = async {
        wr.write_all(&payload).await.expect("write");
        // Half-close: the server must still send everything back, then EOF.
        wr.shutdown().await.expect("shutdown write side");
    };
    let mut back = Vec::new();
    let read = rd.read_to_end(&mut back);
    let ((), read) = tokio::join!(write, read);
    read.expect("read to EOF");
    assert_eq!(back, payload, "every byte comes back, in order, before the EOF");
}

#[tokio::test]
async fn stops_accepting_when_dropped() {
    let echo = EchoServer::start().await;
    let addr = echo.addr;
    drop(echo);
    assert_eventually!(TcpStream::connect(addr).await.is_err(), "a dropped EchoServer must release its port");
}
