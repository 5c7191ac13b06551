//! `porthole tcp` through a front that speaks only TLS 1.2 (stunnel, OpenSSL underneath) to a
//! real `porthole-gateway` and a real upstream: after the 1.2 handshake the client must speak
//! first (its CONNECT), and the tunnel must carry bytes both ways.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use porthole_e2e::bare::BareGateway;
use porthole_e2e::bin;
use porthole_e2e::stack::Porthole;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::openssl::is_listening;
use porthole_testkit::process::{KilledOnDrop, free_port};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};

const WAIT: Duration = Duration::from_secs(10);

/// stunnel: TLS 1.2 only on `front` (certificate for 127.0.0.1 from the gateway's CA), then TLS
/// again to the gateway through a second, internal service.
fn stunnel_tls12_front(gw: &BareGateway) -> (KilledOnDrop, SocketAddr) {
    let dir = gw.dir.path();
    let pair = gw.pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir, "front").unwrap();
    let (front, inner) = (free_port(), free_port());
    let conf = dir.join("stunnel.conf");
    std::fs::write(
        &conf,
        format!(
            "foreground = yes\npid =\ndebug = 5\n\
             [front]\naccept = 127.0.0.1:{front}\nconnect = 127.0.0.1:{inner}\ncert = {}\nkey = {}\n\
             sslVersionMin = TLSv1.2\nsslVersionMax = TLSv1.2\n\
             [back]\nclient = yes\naccept = 127.0.0.1:{inner}\nconnect = {}\nCAfile = {}\n\
             verifyChain = yes\ncheckHost = localhost\nsni = localhost\n",
            pair.cert.display(),
            pair.key.display(),
            gw.gateway.addr,
            gw.ca_path.display(),
        ),
    )
    .unwrap();
    let mut cmd = Command::new("stunnel4");
    cmd.arg(&conf);
    let child = KilledOnDrop::spawn(cmd, &dir.join("stunnel.log")).expect("stunnel4 (make test installs it)");
    poll_until_blocking("stunnel listens", WAIT, || Ok((is_listening(front) && is_listening(inner)).then_some(())))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", child.log_tail()));
    (child, SocketAddr::from(([127, 0, 0, 1], front)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porthole_tcp_through_a_tls12_only_front_speaks_first_and_relays() {
    let echo = EchoServer::start().await;
    let gw = BareGateway::start(&format!(
        "  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    ))
    .unwrap();
    let (stunnel, front) = stunnel_tls12_front(&gw);
    let token = gw.mint("robot");
    let mut cmd = Command::new(bin("porthole"));
    cmd.env("PORTHOLE_TOKEN_STORE", "file")
        .env("PORTHOLE_CACHE_DIR", gw.dir.path().join("cache"))
        .env("NO_COLOR", "1")
        .args(["tcp", "echo.corp.example.com:7000", "--pomerium-url", &format!("https://127.0.0.1:{}", front.port())])
        .arg("--alternate-ca-path")
        .arg(&gw.ca_path)
        .args(["--service-account", &token]);
    let porthole = Porthole::spawn(cmd, &gw.dir.path().join("porthole.log")).unwrap();
    let addr = porthole.addr;
    let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let expected = sent.clone();
    let got = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(WAIT))?;
        s.write_all(&sent)?;
        let mut got = vec![0u8; sent.len()];
        s.read_exact(&mut got)?;
        std::io::Result::Ok(got)
    })
    .await
    .unwrap();
    let ok = got.as_ref().is_ok_and(|g| *g == expected);
    assert!(
        ok,
        "100 kB echoed through porthole → TLS 1.2 front → gateway: {:?}\nporthole:\n{}\nstunnel:\n{}\ngateway:\n{}",
        got.map(|g| g.len()),
        porthole.log(),
        stunnel.log_tail(),
        gw.gateway.log()
    );
    let tls13 = tls13_handshake(front, gw.pki.ca_pem());
    assert!(tls13.is_err(), "the front refuses TLS 1.3, so the tunnel above ran over TLS 1.2: {tls13:?}");
}

/// A TLS 1.3-only handshake with `addr` (trusting `ca_pem`), on a blocking socket.
fn tls13_handshake(addr: SocketAddr, ca_pem: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13])
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let mut sock = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(WAIT)).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    Ok(())
}
