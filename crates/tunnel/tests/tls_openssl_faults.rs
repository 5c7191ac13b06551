//! An on-path attacker between our TLS stream and OpenSSL 3 (`s_server` / `s_client`), both
//! protocol versions: a connection cut on a record boundary without close_notify is an error
//! (truncation), not a clean end; a record with one flipped byte fails the read and our side
//! sends an alert before it closes.

mod openssl_peer;

use std::io::ErrorKind;

use openssl_peer::{
    Certs, WAIT, handshake_done, listen, our_client, our_client_config, our_server, our_server_config, pattern, read_n,
};
use porthole_testkit::eventually::poll_until;
use porthole_testkit::openssl::OpenSsl;
use porthole_testkit::tls_mitm::{ALERT, APPLICATION_DATA, Record, TlsMitm, Toward};
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::sync::oneshot;

const VERSIONS: [&str; 2] = ["-tls1_3", "-tls1_2"];

/// `s_server` speaking `version` with the test certificate, one connection, data only on stdout.
async fn s_server(certs: &Certs, version: &str) -> OpenSsl {
    let args = [
        version,
        "-brief",
        "-naccept",
        "1",
        "-cert",
        Certs::arg(&certs.server_crt),
        "-key",
        Certs::arg(&certs.server_key),
    ];
    OpenSsl::server(&args, WAIT).await.unwrap()
}

/// `s_client` speaking `version` to `addr`, trusting the test CA, no command letters.
fn s_client(certs: &Certs, version: &str, addr: std::net::SocketAddr) -> OpenSsl {
    let args = [version, "-brief", "-nocommands", "-CAfile", Certs::arg(&certs.ca), "-servername", "localhost"];
    OpenSsl::client(addr, &args).unwrap()
}

/// The next read, bounded: its byte count or its error.
async fn next_read(s: &mut (impl AsyncRead + Unpin)) -> std::io::Result<usize> {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .map_err(|_| std::io::Error::other("the read neither returned nor failed within the deadline"))?
}

/// Waits until the way `toward` ended (its sender closed), then returns the records sent that
/// way after the first `skip`.
async fn records_until_closed(mitm: &TlsMitm, toward: Toward, skip: usize) -> Vec<Record> {
    poll_until("the side under test closes", WAIT, || {
        let ended = mitm.ended(toward);
        async move { if ended { Ok(()) } else { Err("still open") } }
    })
    .await
    .unwrap();
    mitm.records(toward).into_iter().skip(skip).collect()
}

/// After a tampered record, the last thing our side sent must be an alert: a plaintext-typed alert record
/// in TLS 1.2, an encrypted one in TLS 1.3 (outer type application data; 2 bytes of alert, 1
/// of inner type and a 16-byte tag).
fn alert_problem(version: &str, after: &[Record]) -> Option<String> {
    let last = after.last().copied();
    let alert = match version {
        "-tls1_2" => last.is_some_and(|r| r.typ == ALERT),
        _ => last.is_some_and(|r| r.typ == APPLICATION_DATA && r.len == 19),
    };
    (!alert).then(|| format!("{version}: our side must send an alert before it closes; it sent {after:?}"))
}

/// Fails with every problem found, one line per protocol version.
fn assert_none(problems: &[String]) {
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn a_cut_towards_our_client_is_truncation_not_eof() {
    let certs = Certs::new();
    let mut problems = Vec::new();
    for version in VERSIONS {
        let srv = s_server(&certs, version).await;
        let mitm = TlsMitm::start(srv.addr).await.unwrap();
        let connect = tokio::spawn(our_client(mitm.addr, our_client_config(certs.pki.ca_pem().as_bytes(), None)));
        handshake_done(&srv).await;
        let data = pattern(20_000, 1);
        srv.send(&data);
        let mut tls = connect.await.unwrap().unwrap();
        assert!(read_n(&mut tls, data.len()).await.unwrap() == data);
        mitm.cut(Toward::Client);
        let after = next_read(&mut tls).await;
        if !after.as_ref().is_err_and(|e| e.kind() == ErrorKind::UnexpectedEof) {
            problems.push(format!(
                "{version}: a FIN without close_notify must fail the read as UnexpectedEof, got {after:?}"
            ));
        }
    }
    assert_none(&problems);
}

#[tokio::test]
async fn a_cut_towards_our_server_is_truncation_not_eof() {
    let certs = Certs::new();
    let mut problems = Vec::new();
    for version in VERSIONS {
        let (listener, addr) = listen().await;
        let mitm = TlsMitm::start(addr).await.unwrap();
        let config = our_server_config(certs.server.cert_pem.as_bytes(), certs.server.key_pem.as_bytes());
        let data = pattern(20_000, 2);
        let (got_tx, got_rx) = oneshot::channel();
        let len = data.len();
        let server = tokio::spawn(async move {
            let mut tls = our_server(&listener, config).await.unwrap();
            let _ = got_tx.send(read_n(&mut tls, len).await.unwrap());
            next_read(&mut tls).await
        });
        let cli = s_client(&certs, version, mitm.addr);
        handshake_done(&cli).await;
        cli.send(&data);
        let got = tokio::time::timeout(WAIT, got_rx).await.expect("data within the deadline").unwrap();
        assert!(got == data);
        mitm.cut(Toward::Server);
        let after = server.await.unwrap();
        if !after.as_ref().is_err_and(|e| e.kind() == ErrorKind::UnexpectedEof) {
            problems.push(format!(
                "{version}: a FIN without close_notify must fail the read as UnexpectedEof, got {after:?}"
            ));
        }
    }
    assert_none(&problems);
}

#[tokio::test]
async fn a_tampered_record_towards_our_client_fails_the_read_and_is_answered_by_an_alert() {
    let certs = Certs::new();
    let mut problems = Vec::new();
    for version in VERSIONS {
        let srv = s_server(&certs, version).await;
        let mitm = TlsMitm::start(srv.addr).await.unwrap();
        let connect = tokio::spawn(our_client(mitm.addr, our_client_config(certs.pki.ca_pem().as_bytes(), None)));
        handshake_done(&srv).await;
        let data = pattern(5_000, 3);
        srv.send(&data);
        let mut tls = connect.await.unwrap().unwrap();
        assert!(read_n(&mut tls, data.len()).await.unwrap() == data);
        mitm.tamper_next(Toward::Client);
        let before = mitm.records(Toward::Server).len();
        srv.send(&pattern(5_000, 4));
        let after = next_read(&mut tls).await;
        assert!(after.is_err(), "{version}: a record with a flipped byte must fail the read, got {after:?}");
        assert!(mitm.records(Toward::Client).iter().any(|r| r.tampered), "{version}: the relay did tamper");
        drop(tls);
        problems.extend(alert_problem(version, &records_until_closed(&mitm, Toward::Server, before).await));
    }
    assert_none(&problems);
}

#[tokio::test]
async fn a_tampered_record_towards_our_server_fails_the_read_and_is_answered_by_an_alert() {
    let certs = Certs::new();
    let mut problems = Vec::new();
    for version in VERSIONS {
        let (listener, addr) = listen().await;
        let mitm = TlsMitm::start(addr).await.unwrap();
        let config = our_server_config(certs.server.cert_pem.as_bytes(), certs.server.key_pem.as_bytes());
        let data = pattern(5_000, 5);
        let (got_tx, got_rx) = oneshot::channel();
        let len = data.len();
        let server = tokio::spawn(async move {
            let mut tls = our_server(&listener, config).await.unwrap();
            let _ = got_tx.send(read_n(&mut tls, len).await.unwrap());
            next_read(&mut tls).await
            // the stream is dropped here: the TCP connection closes
        });
        let cli = s_client(&certs, version, mitm.addr);
        handshake_done(&cli).await;
        cli.send(&data);
        let got = tokio::time::timeout(WAIT, got_rx).await.expect("data within the deadline").unwrap();
        assert!(got == data);
        mitm.tamper_next(Toward::Server);
        let before = mitm.records(Toward::Client).len();
        cli.send(&pattern(5_000, 6));
        let after = server.await.unwrap();
        assert!(after.is_err(), "{version}: a record with a flipped byte must fail the read, got {after:?}");
        assert!(mitm.records(Toward::Server).iter().any(|r| r.tampered), "{version}: the relay did tamper");
        problems.extend(alert_problem(version, &records_until_closed(&mitm, Toward::Client, before).await));
    }
    assert_none(&problems);
}
