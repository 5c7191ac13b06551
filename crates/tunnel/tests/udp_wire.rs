//! The HTTP/1.1 CONNECT-UDP transport on the wire, against a hand-written proxy: the request
//! head is exactly pomerium-cli's (docs/protocol.md §2.4, written out here by hand), capsules
//! that arrive with the `200` head are not lost, other capsule types are skipped and other
//! context ids dropped and counted, each datagram goes out as `00 varint(n+1) 00 payload`,
//! and a refusal maps to the same errors as CONNECT.

use std::time::Duration;

use porthole_io::datagram::Counters;
use porthole_tunnel::connect::{ConnectError, Connector};
use porthole_tunnel::target;
use porthole_tunnel::udp::channel::DatagramConnector as _;
use porthole_tunnel::udp::h1::H1Connector;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const WITHIN: Duration = Duration::from_secs(20);

async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "the client closed mid-head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

fn connector(proxy: std::net::SocketAddr) -> H1Connector {
    let t = target::parse(&format!("udp+http://{proxy}/dns.example.com:53"), None).unwrap();
    H1Connector::new(Connector::new(t, None))
}

#[tokio::test]
async fn the_request_is_pomerium_clis_and_datagrams_are_whole_capsules() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let head = read_head(&mut s).await;
        // The 200, then in the same write: a capsule of type 0x29 (skipped), a datagram for
        // context 7 (dropped), and a datagram for context 0.
        s.write_all(b"HTTP/1.1 200 OK\r\n\r\n\x29\x02zz\x00\x03\x07no\x00\x04\x00abc").await.unwrap();
        let mut got = [0u8; 8];
        s.read_exact(&mut got).await.unwrap();
        (head, got)
    });
    let counters = Counters::new();
    let mut channel =
        tokio::time::timeout(WITHIN, connector(proxy).open(Some("h.p.s"), counters.clone())).await.unwrap().unwrap();
    let first = tokio::time::timeout(WITHIN, channel.recv()).await.unwrap();
    assert_eq!(first.as_deref(), Some(&b"abc"[..]), "the datagram behind the head, whole");
    assert_eq!(counters.get().dropped, 1, "the context-7 datagram is dropped and counted");
    channel.send(bytes::Bytes::from_static(b"hello")).await.unwrap();
    let (head, got) = tokio::time::timeout(WITHIN, server).await.unwrap().unwrap();
    assert_eq!(
        head,
        "GET /.well-known/masque/udp/dns.example.com/53/ HTTP/1.1\r\n\
         Host: dns.example.com:53\r\n\
         User-Agent: Go-http-client/1.1\r\n\
         Authorization: Pomerium h.p.s\r\n\
         Capsule-Protocol: ?1\r\n\
         Connection: Upgrade\r\n\
         Upgrade: connect-udp\r\n\
         \r\n"
    );
    assert_eq!(&got, b"\x00\x06\x00hello", "one DATAGRAM capsule, context 0");
    // The proxy closed its end: the channel ends and says so.
    assert_eq!(tokio::time::timeout(WITHIN, channel.recv()).await.unwrap(), None);
    assert_eq!(channel.close().await.to_string(), "the proxy ended the tunnel");
}

#[tokio::test]
async fn a_refusal_is_the_connect_error_for_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for status in ["302 Found", "403 Forbidden"] {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = read_head(&mut s).await;
            let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 7\r\n\r\ndenied\n");
            s.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    let c = connector(proxy);
    let login = c.open(None, Counters::new()).await.unwrap_err();
    assert!(matches!(login, ConnectError::LoginRequired { status: 302 }), "{login:?}");
    let denied = c.open(Some("t"), Counters::new()).await.unwrap_err();
    assert!(matches!(denied, ConnectError::Denied { .. }), "{denied:?}");
}
