//! Bytes that are not (or not yet) TLS, sent to a real `porthole-gateway` debug build: each
//! connection is answered with at most TLS records (an alert) and closed, nothing panics, and a
//! legitimate client is served afterwards by the same process.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use porthole_e2e::bare::BareGateway;
use porthole_testkit::connect::{client_config, connect_on, tls_connect};
use porthole_testkit::echo::EchoServer;
use rustls::ClientConnection;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const WAIT: Duration = Duration::from_secs(10);

/// The first flight of a real rustls client (a ClientHello in one handshake record).
fn client_hello(ca_pem: &str) -> Vec<u8> {
    let mut conn =
        ClientConnection::new(Arc::new(client_config(ca_pem, None)), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// Every variant: a name and the bytes sent before the client half-closes.
fn variants(ca_pem: &str) -> Vec<(&'static str, Vec<u8>)> {
    let hello = client_hello(ca_pem);
    let random: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut hello_then_junk = hello.clone();
    hello_then_junk.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x20]);
    hello_then_junk.extend_from_slice(&[0xAB; 0x20]);
    vec![
        ("HTTP/1.1 in plaintext", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec()),
        (
            "a plaintext CONNECT",
            b"CONNECT echo.corp.example.com:7000 HTTP/1.1\r\nHost: echo.corp.example.com:7000\r\n\r\n".to_vec(),
        ),
        ("4 KiB of random bytes", random),
        ("half a ClientHello", hello[..hello.len() / 2].to_vec()),
        ("a ClientHello cut inside its record header", hello[..3].to_vec()),
        (
            "a handshake record header claiming 65535 bytes",
            [&[0x16, 0x03, 0x01, 0xFF, 0xFF][..], &[0x01; 100]].concat(),
        ),
        (
            "an SSL 2.0 style ClientHello",
            vec![0x80, 0x2E, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xC0],
        ),
        ("an alert instead of a ClientHello", vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]),
        ("a ClientHello, then an application-data record of junk", hello_then_junk),
        ("an empty handshake record", vec![0x16, 0x03, 0x01, 0x00, 0x00]),
    ]
}

/// Sends `bytes`, half-closes, and reads until the gateway closes: `Ok(reply)` or `Err` when it
/// keeps the connection open past [`WAIT`].
fn send_and_wait_for_close(addr: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let _ = sock.write_all(bytes);
    let _ = sock.shutdown(Shutdown::Write);
    let deadline = Instant::now() + WAIT;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match sock.read(&mut buf) {
            Ok(0) => return Ok(reply),
            Ok(n) => reply.extend_from_slice(&buf[..n.min(65_536 - reply.len().min(65_536))]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
            Err(_) => return Ok(reply), // reset: closed too
        }
    }
    Err(reply)
}

/// Whether `reply` is nothing but whole TLS records of a known content type.
fn only_tls_records(mut reply: &[u8]) -> bool {
    while !reply.is_empty() {
        if reply.len() < 5 || !(0x14..=0x17).contains(&reply[0]) {
            return false;
        }
        let len = 5 + usize::from(u16::from_be_bytes([reply[3], reply[4]]));
        if reply.len() < len {
            return false;
        }
        reply = &reply[len..];
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_tls_is_closed_without_a_panic_and_the_gateway_serves_on() {
    let echo = EchoServer::start().await;
    let gw = BareGateway::start(&format!(
        "  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    ))
    .unwrap();
    let mut problems = Vec::new();
    for (name, bytes) in variants(gw.pki.ca_pem()) {
        let addr = gw.gateway.addr;
        let panics_before = gw.gateway.log().matches("panicked").count();
        let outcome = tokio::task::spawn_blocking(move || send_and_wait_for_close(addr, &bytes)).await.unwrap();
        if gw.gateway.log().matches("panicked").count() > panics_before {
            problems.push(format!("{name}: the gateway panicked"));
        }
        match outcome {
            Ok(reply) if only_tls_records(&reply) => {
                eprintln!("{name}: closed after {} bytes of TLS records (first type {:?})", reply.len(), reply.first());
            }
            Ok(reply) => problems.push(format!(
                "{name}: answered with something other than TLS records: {:?}",
                String::from_utf8_lossy(&reply[..reply.len().min(80)])
            )),
            Err(reply) => problems.push(format!("{name}: still open after {WAIT:?} ({} bytes answered)", reply.len())),
        }
    }
    // The same process still serves a legitimate client.
    let _alive = gw.pid();
    let token = gw.mint("alice");
    let stream = tls_connect(gw.gateway.addr, gw.pki.ca_pem(), None).await.expect("TLS after the garbage");
    let mut r =
        connect_on(stream, "echo.corp.example.com:7000", &[("Authorization", &format!("Pomerium {token}"))]).await;
    assert_eq!(r.status, 200, "a legitimate CONNECT after the garbage: {}\n{}", r.head, gw.gateway.log());
    r.stream.write_all(b"still serving").await.unwrap();
    let mut back = [0u8; 13];
    tokio::time::timeout(WAIT, r.stream.read_exact(&mut back)).await.expect("echo within the deadline").unwrap();
    assert_eq!(&back, b"still serving");
    let log = gw.gateway.log();
    assert!(problems.is_empty() && !log.contains("panicked"), "{}\ngateway log:\n{log}", problems.join("\n"));
}
