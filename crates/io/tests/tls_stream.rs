//! `tls::connect` / `accept` (rustls through tokio-rustls) for every suite and both
//! protocol versions: bytes both ways with half-close, session tickets (resumption), key
//! updates, a tampered record refused with an alert, and the relay over it: a peer that ends
//! TCP without close_notify is an abort passed on as a reset, not a clean end.

use std::sync::Arc;

use porthole_io::tls::{self, Handshaken as _};
use porthole_testkit::certs::TestPki;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{cipher_suite as cs, default_provider};
use rustls::{ClientConfig, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

fn provider(suite: SupportedCipherSuite) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider { cipher_suites: vec![suite], ..default_provider() })
}

fn configs(
    pki: &TestPki,
    suite: SupportedCipherSuite,
    version: &'static SupportedProtocolVersion,
) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let pair = pki.server_cert(&["localhost"]);
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes()).map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).unwrap();
    let server = ServerConfig::builder_with_provider(provider(suite))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pki.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let client = ClientConfig::builder_with_provider(provider(suite))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(client), Arc::new(server))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// Sends `out` then half-closes, while reading everything the other end sends.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: S, out: Vec<u8>) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(s);
    let writer = async move {
        for chunk in out.chunks(50_000) {
            w.write_all(chunk).await.unwrap();
        }
        w.shutdown().await.unwrap();
    };
    let reader = async move {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    tokio::join!(writer, reader).1
}

const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;
const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;

const SUITES: [(&str, SupportedCipherSuite, &SupportedProtocolVersion); 6] = [
    ("TLS13_AES_128_GCM", cs::TLS13_AES_128_GCM_SHA256, TLS13),
    ("TLS13_AES_256_GCM", cs::TLS13_AES_256_GCM_SHA384, TLS13),
    ("TLS13_CHACHA20", cs::TLS13_CHACHA20_POLY1305_SHA256, TLS13),
    ("TLS12_ECDSA_AES_128_GCM", cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS12),
    ("TLS12_ECDSA_AES_256_GCM", cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS12),
    ("TLS12_ECDSA_CHACHA20", cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS12),
];

/// A loopback listener and its address.
async fn listen() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// The name the test server certificate carries.
fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

#[tokio::test]
async fn connect_and_accept_agree_on_every_suite() {
    let pki = TestPki::new();
    for (name, suite, version) in SUITES {
        let (client, server) = configs(&pki, suite, version);
        let (listener, addr) = listen().await;
        let up = pattern(1_000_003, 1);
        let down = pattern(700_001, 2);
        let down2 = down.clone();
        let srv = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = tls::accept(server, tcp).await.unwrap();
            exchange(tls, down2).await
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = tls::connect(client, localhost(), tcp).await.unwrap();
        let got = exchange(tls, up.clone()).await;
        assert!(got == down, "{name}: every byte server → client, then EOF");
        assert!(srv.await.unwrap() == up, "{name}: every byte client → server, then EOF");
    }
}

#[tokio::test]
async fn session_tickets_arriving_after_the_handshake_resume_the_next_connection() {
    let pki = TestPki::new();
    let (client, server) = configs(&pki, cs::TLS13_AES_256_GCM_SHA384, TLS13);
    let (listener, addr) = listen().await;
    let srv = tokio::spawn(async move {
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = tls::accept(server.clone(), tcp).await.unwrap();
            kinds.push(tls.negotiated().resumed);
            let mut b = [0u8; 4];
            tls.read_exact(&mut b).await.unwrap();
            tls.write_all(&b).await.unwrap();
            tls.shutdown().await.unwrap();
        }
        kinds
    });
    for _ in 0..2 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = tls::connect(client.clone(), localhost(), tcp).await.unwrap();
        tls.write_all(b"ping").await.unwrap();
        tls.flush().await.unwrap();
        let mut b = Vec::new();
        tls.read_to_end(&mut b).await.unwrap();
        assert_eq!(b, b"ping");
    }
    assert_eq!(
        srv.await.unwrap(),
        vec![false, true],
        "the ticket sent after the handshake resumes the second connection"
    );
}

#[tokio::test]
async fn key_updates_from_a_rustls_peer_are_followed_both_ways() {
    let pki = TestPki::new();
    let (client, server) = configs(&pki, cs::TLS13_AES_128_GCM_SHA256, TLS13);
    let (listener, addr) = listen().await;
    let srv = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await.unwrap();
        let mut got = Vec::new();
        for round in 0..3u8 {
            // KeyUpdate(update_requested): our side must switch its receive keys and answer
            // with its own KeyUpdate before its next record.
            tls.get_mut().1.refresh_traffic_keys().unwrap();
            tls.write_all(&[round; 20_000]).await.unwrap();
            tls.flush().await.unwrap();
            let mut b = vec![0u8; 20_000];
            tls.read_exact(&mut b).await.unwrap();
            got.extend_from_slice(&b);
        }
        tls.shutdown().await.unwrap();
        got
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = tls::connect(client, localhost(), tcp).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut b = vec![0u8; 20_000];
        tls.read_exact(&mut b).await.unwrap();
        seen.push(b[0]);
        tls.write_all(&b).await.unwrap();
        tls.flush().await.unwrap();
    }
    assert_eq!(seen, vec![0, 1, 2]);
    let echoed = srv.await.unwrap();
    assert_eq!(echoed.len(), 60_000, "the peer read every record sent after its key updates");
}

#[tokio::test]
async fn a_tampered_record_is_an_error_not_data() {
    let pki = TestPki::new();
    let (client, server) = configs(&pki, cs::TLS13_AES_256_GCM_SHA384, TLS13);
    let (listener, addr) = listen().await;
    // A man in the middle that flips one byte of the first application record it forwards.
    let (mitm, mitm_addr) = listen().await;
    tokio::spawn(async move {
        let (mut c, _) = mitm.accept().await.unwrap();
        let mut s = TcpStream::connect(addr).await.unwrap();
        let (mut cr, mut cw) = c.split();
        let (mut sr, mut sw) = s.split();
        let up = tokio::io::copy(&mut cr, &mut sw);
        let down = async {
            let mut buf = vec![0u8; 65536];
            let mut seen = 0usize;
            let mut flipped = false;
            loop {
                let n = sr.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                seen += n;
                // The handshake is well under 4 KiB; the 100 KB record comes after it.
                if !flipped && seen > 8_000 {
                    buf[n / 2] ^= 0x40;
                    flipped = true;
                }
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        };
        let _ = tokio::join!(up, down);
    });
    let srv = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await.unwrap();
        tls.write_all(&vec![7u8; 100_000]).await.unwrap();
        tls.flush().await.unwrap();
        tls.read(&mut [0u8; 1]).await.expect_err("the client answers a bad record with an alert").to_string()
    });
    let tcp = TcpStream::connect(mitm_addr).await.unwrap();
    let mut tls = tls::connect(client, localhost(), tcp).await.unwrap();
    let mut got = vec![0u8; 100_000];
    let err = tls.read_exact(&mut got).await.expect_err("a flipped byte must not be delivered");
    assert!(err.to_string().contains("cannot decrypt"), "{err}");
    tls.read(&mut got).await.expect_err("no record after a bad one is delivered either");
    let seen = srv.await.unwrap();
    assert!(seen.contains("BadRecordMac"), "the server got the bad_record_mac alert: {seen}");
}

#[tokio::test]
async fn relay_moves_every_byte_both_ways_with_half_close() {
    use porthole_io::relay::{Counters, End, relay};
    use porthole_io::stream::Either;
    let pki = TestPki::new();
    for (name, suite, version) in [SUITES[1], SUITES[4]] {
        let (client, server) = configs(&pki, suite, version);
        // rustls server ⇄ [our TLS client ⇄ relay ⇄ plain TCP] ⇄ local peer
        let (tls_listener, tls_addr) = listen().await;
        let up = pattern(5_000_017, 5);
        let down = pattern(3_000_001, 6);
        let down2 = down.clone();
        let srv = tokio::spawn(async move {
            let (tcp, _) = tls_listener.accept().await.unwrap();
            let tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await.unwrap();
            exchange(tls, down2).await
        });
        let (plain_listener, plain_addr) = listen().await;
        let local = tokio::spawn(async move { TcpStream::connect(plain_addr).await.unwrap() });
        let (plain, _) = plain_listener.accept().await.unwrap();
        let tls = tls::connect(client, localhost(), TcpStream::connect(tls_addr).await.unwrap()).await.unwrap();
        let counters = Counters::new();
        let proxy: Either<TcpStream, Box<tls::ClientStream>> = Either::Right(Box::new(tls));
        let relay =
            tokio::spawn(relay(plain, proxy, counters.clone(), None, tokio_util::sync::CancellationToken::new()));
        let got = exchange(local.await.unwrap(), up.clone()).await;
        assert!(got == down, "{name}: every byte upstream → local, then EOF");
        assert!(srv.await.unwrap() == up, "{name}: every byte local → upstream, then EOF");
        let out = relay.await.unwrap();
        assert_eq!((out.up, out.down, out.end), (up.len() as u64, down.len() as u64, End::Closed), "{name}");
    }
}

/// A TLS peer that sends 10 000 bytes and then ends TCP without close_notify (a truncation, or
/// the gateway passing on an upstream reset): the relay reports an abort by the upstream, not
/// `Closed`, and the local socket gets the 10 000 bytes and then a reset, not EOF.
#[tokio::test]
async fn fin_without_close_notify_is_an_abort_passed_on_as_a_reset() {
    use porthole_io::relay::{Counters, End, Party, relay};
    let pki = TestPki::new();
    let (client, server) = configs(&pki, cs::TLS13_AES_128_GCM_SHA256, TLS13);
    let (tls_listener, tls_addr) = listen().await;
    let srv = tokio::spawn(async move {
        let (tcp, _) = tls_listener.accept().await.unwrap();
        let mut tls = tokio_rustls::TlsAcceptor::from(server).accept(tcp).await.unwrap();
        tls.write_all(&pattern(10_000, 7)).await.unwrap();
        tls.flush().await.unwrap();
        // FIN with no close_notify before it.
        let (mut tcp, _) = tls.into_inner();
        tcp.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
    });
    let (plain_listener, plain_addr) = listen().await;
    let local = tokio::spawn(async move { TcpStream::connect(plain_addr).await.unwrap() });
    let (plain, _) = plain_listener.accept().await.unwrap();
    let tls = tls::connect(client, localhost(), TcpStream::connect(tls_addr).await.unwrap()).await.unwrap();
    let counters = Counters::new();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        relay(plain, tls, counters, None, tokio_util::sync::CancellationToken::new()),
    )
    .await
    .expect("the relay ends");
    assert!(
        matches!(&out.end, End::Aborted { by: Party::Upstream, kind: std::io::ErrorKind::UnexpectedEof, .. }),
        "truncation is an abort by the upstream: {:?}",
        out.end
    );
    assert_eq!(out.down, 10_000);
    let mut local = local.await.unwrap();
    let mut got = Vec::new();
    let err = local.read_to_end(&mut got).await.expect_err("the local socket is reset, not closed");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(got == pattern(10_000, 7), "the bytes before the abort arrive first ({} of 10000)", got.len());
    srv.await.unwrap();
}

/// The stuck tunnel: the upstream never reads, the local side writes until everything is full,
/// then resets. Nothing reads the local socket while the relay is blocked writing upstream, yet
/// the relay must notice the reset and end (and reset the upstream).
#[tokio::test]
async fn a_reset_behind_a_blocked_write_ends_the_relay() {
    use porthole_io::relay::{Counters, End, Party, relay};
    let (up_listener, up_addr) = listen().await;
    let upstream_peer = tokio::spawn(async move { up_listener.accept().await.unwrap().0 });
    let upstream = TcpStream::connect(up_addr).await.unwrap();
    let mut upstream_peer = upstream_peer.await.unwrap();
    let (plain_listener, plain_addr) = listen().await;
    let local = tokio::spawn(async move { TcpStream::connect(plain_addr).await.unwrap() });
    let (plain, _) = plain_listener.accept().await.unwrap();
    let mut local = local.await.unwrap();
    let relay = tokio::spawn(relay(plain, upstream, Counters::new(), None, tokio_util::sync::CancellationToken::new()));
    // Write until nothing more fits anywhere (no progress for 300 ms).
    let chunk = vec![1u8; 64 * 1024];
    while let Ok(written) = tokio::time::timeout(std::time::Duration::from_millis(300), local.write(&chunk)).await {
        written.unwrap();
    }
    socket2::SockRef::from(&local).set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(local);
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), relay)
        .await
        .expect("the relay notices the reset")
        .unwrap();
    assert!(matches!(&out.end, End::Aborted { by: Party::Client, .. }), "{:?}", out.end);
    // And the upstream is reset in turn (after the bytes that reached it).
    let mut sink = vec![0u8; 1 << 20];
    let err = loop {
        match upstream_peer.read(&mut sink).await {
            Ok(0) => panic!("the upstream must be reset, not closed"),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
}
