//! Our TLS stream (`porthole_io::tls::connect` / `accept`, with the CLI's and the gateway's own
//! configurations) against OpenSSL 3 (`openssl s_server` / `s_client`) as the peer: TLS 1.2
//! where the client speaks first, every suite rustls offers here, KeyUpdate both ways (also
//! while megabytes are in flight), and session tickets split across 512-byte records.

mod openssl_peer;

use openssl_peer::{
    Certs, WAIT, digits, handshake_done, listen, our_client, our_client_config, our_server, our_server_config, pattern,
    read_n,
};
use porthole_testkit::openssl::OpenSsl;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `-accept`-side arguments for a certificate and key.
fn cert_args<'a>(crt: &'a std::path::Path, key: &'a std::path::Path) -> [&'a str; 4] {
    ["-cert", Certs::arg(crt), "-key", Certs::arg(key)]
}

#[tokio::test]
async fn tls12_client_that_speaks_first_gets_its_answer() {
    let certs = Certs::new();
    for version in ["-tls1_2", "-tls1_3"] {
        let mut args = vec![version, "-rev", "-quiet", "-naccept", "1"];
        args.extend(cert_args(&certs.server_crt, &certs.server_key));
        let srv = OpenSsl::server(&args, WAIT).await.unwrap();
        let mut tls =
            our_client(srv.addr, our_client_config(certs.pki.ca_pem().as_bytes(), None)).await.unwrap_or_else(|e| {
                panic!("{version}: the handshake with a server that waits for the client must end: {e}")
            });
        tls.write_all(b"porthole speaks first\n").await.unwrap();
        tls.flush().await.unwrap();
        let mut line = Vec::new();
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut byte = [0u8; 1];
            while tls.read(&mut byte).await? == 1 {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    break;
                }
            }
            std::io::Result::Ok(())
        })
        .await;
        assert!(
            matches!(answer, Ok(Ok(()))),
            "{version}: the server's answer to the client's first line must arrive within 5 s (got {answer:?}, {:?} so far); s_server: {}",
            String::from_utf8_lossy(&line),
            srv.stderr_text()
        );
        assert_eq!(
            String::from_utf8_lossy(&line),
            "tsrif skaeps elohtrop\n",
            "{version}: s_server -rev reverses the line"
        );
    }
}

/// OpenSSL names of the suites rustls (ring) offers, with the protocol flag and the key type.
const SUITES: [(&str, &str, bool); 9] = [
    ("-tls1_3", "TLS_AES_128_GCM_SHA256", false),
    ("-tls1_3", "TLS_AES_256_GCM_SHA384", false),
    ("-tls1_3", "TLS_CHACHA20_POLY1305_SHA256", false),
    ("-tls1_2", "ECDHE-ECDSA-AES128-GCM-SHA256", false),
    ("-tls1_2", "ECDHE-ECDSA-AES256-GCM-SHA384", false),
    ("-tls1_2", "ECDHE-ECDSA-CHACHA20-POLY1305", false),
    ("-tls1_2", "ECDHE-RSA-AES128-GCM-SHA256", true),
    ("-tls1_2", "ECDHE-RSA-AES256-GCM-SHA384", true),
    ("-tls1_2", "ECDHE-RSA-CHACHA20-POLY1305", true),
];

fn suite_flag(version: &str) -> &'static str {
    if version == "-tls1_3" { "-ciphersuites" } else { "-cipher" }
}

#[tokio::test]
async fn our_client_and_s_server_agree_on_every_suite() {
    let certs = Certs::new();
    let rsa = certs.rsa();
    for (version, suite, is_rsa) in SUITES {
        let (crt, key, ca) = if is_rsa {
            (&rsa.cert, &rsa.key, std::fs::read(&rsa.ca).unwrap())
        } else {
            (&certs.server_crt, &certs.server_key, certs.pki.ca_pem().as_bytes().to_vec())
        };
        let mut args = vec![version, suite_flag(version), suite, "-brief", "-naccept", "1"];
        args.extend(cert_args(crt, key));
        let mut srv = OpenSsl::server(&args, WAIT).await.unwrap();
        let down = pattern(100_003, 7);
        let up = pattern(70_001, 9);
        // s_server speaks first (the client-first case has its own test), once its handshake is
        // done: in TLS 1.2 the old client returned from `connect` only when data came.
        let connect = tokio::spawn(our_client(srv.addr, our_client_config(&ca, None)));
        handshake_done(&srv).await;
        assert!(
            srv.stderr_text().contains(&format!("Ciphersuite: {suite}\n")),
            "{suite} was negotiated: {}",
            srv.stderr_text()
        );
        srv.send(&down);
        let mut tls = connect.await.unwrap().unwrap_or_else(|e| panic!("{suite}: {e}; {}", srv.stderr_text()));
        let got = read_n(&mut tls, down.len()).await.unwrap_or_else(|e| panic!("{suite}: {e}; {}", srv.stderr_text()));
        assert!(got == down, "{suite}: every byte s_server → our client");
        tls.write_all(&up).await.unwrap();
        tls.flush().await.unwrap();
        let out = srv.wait_stdout(up.len(), WAIT).await.unwrap();
        assert!(out == up, "{suite}: every byte our client → s_server, nothing more ({} bytes)", out.len());
        tls.shutdown().await.unwrap();
        assert!(
            srv.wait_exit(WAIT).await.is_some(),
            "{suite}: s_server ends its one connection after our close_notify"
        );
    }
}

#[tokio::test]
async fn s_client_and_our_server_agree_on_every_suite() {
    let certs = Certs::new();
    let rsa = certs.rsa();
    for (version, suite, is_rsa) in SUITES {
        let (crt_pem, key_pem, ca) = if is_rsa {
            (std::fs::read(&rsa.cert).unwrap(), std::fs::read(&rsa.key).unwrap(), rsa.ca.clone())
        } else {
            (certs.server.cert_pem.clone().into_bytes(), certs.server.key_pem.clone().into_bytes(), certs.ca.clone())
        };
        let (listener, addr) = listen().await;
        let config = our_server_config(&crt_pem, &key_pem);
        let up = pattern(90_001, 3);
        let down = pattern(120_007, 5);
        let (up_len, down2) = (up.len(), down.clone());
        let server = tokio::spawn(async move {
            let mut tls = our_server(&listener, config).await?;
            let got = read_n(&mut tls, up_len).await?;
            tls.write_all(&down2).await?;
            tls.shutdown().await?;
            std::io::Result::Ok(got)
        });
        let args = [
            version,
            suite_flag(version),
            suite,
            "-brief",
            "-nocommands",
            "-CAfile",
            Certs::arg(&ca),
            "-servername",
            "localhost",
            "-verify_return_error",
        ];
        let mut cli = OpenSsl::client(addr, &args).unwrap();
        handshake_done(&cli).await;
        cli.send(&up);
        let out = cli.wait_stdout(down.len(), WAIT).await.unwrap_or_else(|e| panic!("{suite}: {e:#}"));
        let got = server
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{suite}: our server: {e}; s_client: {}", cli.stderr_text()));
        assert!(got == up, "{suite}: every byte s_client → our server");
        assert!(
            cli.wait_exit(WAIT).await.is_some(),
            "{suite}: s_client ends after our close_notify: {}",
            cli.stderr_text()
        );
        assert!(cli.stdout() == down, "{suite}: every byte our server → s_client, nothing more ({} bytes)", out.len());
        assert!(
            cli.stderr_text().contains(&format!("Ciphersuite: {suite}")),
            "{suite} was negotiated: {}",
            cli.stderr_text()
        );
    }
}

/// The line `-msg` prints for a KeyUpdate (`<<<` received, `>>>` sent).
const KEY_UPDATE: &str = "Handshake [length 0005], KeyUpdate";

#[tokio::test]
async fn key_updates_requested_by_s_client_while_our_server_sends_megabytes() {
    let certs = Certs::new();
    let (listener, addr) = listen().await;
    let config = our_server_config(certs.server.cert_pem.as_bytes(), certs.server.key_pem.as_bytes());
    let first = digits(0, 2_000);
    let big = pattern(4 << 20, 1);
    let last = digits(5_000, 3_000);
    let (first_len, last_len, big2) = (first.len(), last.len(), big.clone());
    // Echo the first message, send 4 MiB unasked, then echo the last message.
    let server = tokio::spawn(async move {
        let mut tls = our_server(&listener, config).await?;
        let a = read_n(&mut tls, first_len).await?;
        tls.write_all(&a).await?;
        tls.write_all(&big2).await?;
        tls.flush().await?; // all of it on the wire before we wait for s_client
        let b = read_n(&mut tls, last_len).await?;
        tls.write_all(&b).await?;
        tls.flush().await?;
        std::io::Result::Ok((a, b))
    });
    let msgs = tempfile::NamedTempFile::new().unwrap();
    // `-nbio`: a blocking s_client that gets a KeyUpdate and no data keeps waiting in SSL_read
    // (auto-retry) and stops reading stdin, while our server waits for its data.
    let args = [
        "-tls1_3",
        "-brief",
        "-nbio",
        "-CAfile",
        Certs::arg(&certs.ca),
        "-servername",
        "localhost",
        "-msg",
        "-msgfile",
        Certs::arg(msgs.path()),
    ];
    let cli = OpenSsl::client(addr, &args).unwrap();
    handshake_done(&cli).await;
    let steps = async {
        cli.send(&first);
        cli.wait_stdout(first.len(), WAIT).await?;
        // `K`: a KeyUpdate with update_requested; five of them while the 4 MiB stream in.
        for n in 1..=5 {
            cli.send(b"K\n");
            cli.wait_stderr("KEYUPDATE", n, WAIT).await?;
        }
        cli.wait_stdout(first.len() + big.len(), WAIT).await?;
        cli.send(&last);
        cli.wait_stdout(first.len() + big.len() + last.len(), WAIT).await
    };
    let out = match steps.await {
        Ok(out) => out,
        Err(e) => panic!("{e:#}\nour server: {:?}", tokio::time::timeout(WAIT, server).await),
    };
    let (a, b) = server.await.unwrap().unwrap_or_else(|e| panic!("our server: {e}; s_client: {}", cli.stderr_text()));
    assert!(a == first && b == last, "s_client → our server: every byte before and after the key updates");
    assert!(out == [first, big, last].concat(), "our server → s_client: every byte, in order");
    let log = std::fs::read_to_string(msgs.path()).unwrap();
    let answered = log.lines().filter(|l| l.starts_with("<<<") && l.contains(KEY_UPDATE)).count();
    assert!(answered >= 1, "our server answered update_requested with a KeyUpdate of its own:\n{log}");
}

#[tokio::test]
async fn key_updates_requested_by_s_server_while_our_client_sends_megabytes() {
    let certs = Certs::new();
    let msgs = tempfile::NamedTempFile::new().unwrap();
    // Not quiet: s_server reads `K` from stdin only then; its stdout mixes status and data.
    let mut args = vec!["-tls1_3", "-naccept", "1", "-msg", "-msgfile", Certs::arg(msgs.path())];
    args.extend(cert_args(&certs.server_crt, &certs.server_key));
    let srv = OpenSsl::server(&args, WAIT).await.unwrap();
    let mut tls = our_client(srv.addr, our_client_config(certs.pki.ca_pem().as_bytes(), None)).await.unwrap();
    handshake_done(&srv).await;
    let sent_updates = || {
        std::fs::read_to_string(msgs.path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(">>>") && l.contains(KEY_UPDATE))
            .count()
    };
    let hello = digits(0, 100);
    srv.send(&hello);
    assert!(read_n(&mut tls, hello.len()).await.unwrap() == hello);
    let big = digits(1_000_000, 400_000); // 4 MB of digit lines, written while updates are requested
    let big2 = big.clone();
    let (mut rd, mut wr) = tokio::io::split(tls);
    let writer = tokio::spawn(async move {
        wr.write_all(&big2).await?;
        wr.flush().await?;
        std::io::Result::Ok(wr)
    });
    for n in 1..=5 {
        srv.send(b"K\n");
        porthole_testkit::eventually::poll_until("s_server sends KeyUpdate", WAIT, || {
            let sent = sent_updates();
            async move { if sent >= n { Ok(()) } else { Err(format!("{sent} sent")) } }
        })
        .await
        .unwrap();
        // Data after each request makes our client read, and so process the KeyUpdate.
        let tick = digits(10 * n, 1);
        srv.send(&tick);
        assert!(read_n(&mut rd, tick.len()).await.unwrap() == tick, "data from s_server after KeyUpdate #{n}");
    }
    let mut wr = tokio::time::timeout(WAIT, writer).await.expect("4 MB written within the deadline").unwrap().unwrap();
    let tail = b"the end\n";
    wr.write_all(tail).await.unwrap();
    wr.flush().await.unwrap();
    let expected = [&big[..], tail].concat();
    porthole_testkit::eventually::poll_until("s_server prints every byte", WAIT, || {
        let out = without_status_lines(&srv.stdout());
        let ok = out.ends_with(&expected);
        async move { if ok { Ok(()) } else { Err(format!("{} bytes of data and status so far", out.len())) } }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; s_server stderr: {}", srv.stderr_text()));
    let log = std::fs::read_to_string(msgs.path()).unwrap();
    let answered = log.lines().filter(|l| l.starts_with("<<<") && l.contains(KEY_UPDATE)).count();
    assert!(answered >= 1, "our client answered update_requested with a KeyUpdate of its own:\n{log}");
}

#[tokio::test]
async fn session_tickets_split_across_512_byte_records_lose_nothing() {
    let certs = Certs::new();
    let msgs = tempfile::NamedTempFile::new().unwrap();
    let mut args = vec![
        "-tls1_3",
        "-brief",
        "-naccept",
        "1",
        "-max_send_frag",
        "512",
        "-Verify",
        "1",
        "-CAfile",
        Certs::arg(&certs.ca),
        "-num_tickets",
        "2",
        "-msg",
        "-msgfile",
        Certs::arg(msgs.path()),
    ];
    args.extend(cert_args(&certs.server_crt, &certs.server_key));
    let srv = OpenSsl::server(&args, WAIT).await.unwrap();
    let mut tls =
        our_client(srv.addr, our_client_config(certs.pki.ca_pem().as_bytes(), Some(&certs.client))).await.unwrap();
    handshake_done(&srv).await;
    // A 3-, 2- and 1-byte message first, right behind the tickets, then 100 KB each way.
    for tail in [&b"abc"[..], b"de", b"f"] {
        srv.send(tail);
        let got = read_n(&mut tls, tail.len()).await.unwrap_or_else(|e| panic!("{e}; s_server: {}", srv.stderr_text()));
        assert_eq!(got, tail, "short message after the split session tickets");
    }
    let down = pattern(100_001, 11);
    srv.send(&down);
    assert!(
        read_n(&mut tls, down.len()).await.unwrap() == down,
        "every byte s_server → our client at 512-byte records"
    );
    let up = pattern(100_003, 13);
    tls.write_all(&up).await.unwrap();
    tls.flush().await.unwrap();
    assert!(srv.wait_stdout(up.len(), WAIT).await.unwrap() == up, "every byte our client → s_server");
    let log = std::fs::read_to_string(msgs.path()).unwrap();
    let tickets: Vec<&str> = log.lines().filter(|l| l.starts_with(">>>") && l.contains("NewSessionTicket")).collect();
    assert_eq!(tickets.len(), 2, "s_server sent two tickets:\n{log}");
    assert!(tickets.iter().all(|l| ticket_len(l) > 512), "each ticket is longer than one 512-byte record: {tickets:?}");
}

/// A non-quiet `s_server`'s stdout without the status lines it prints between data.
fn without_status_lines(out: &[u8]) -> Vec<u8> {
    let mut out = out.to_vec();
    for noise in [&b"Read BLOCK\n"[..], b"Write BLOCK\n", b"SSL_do_handshake -> 1\n"] {
        let mut kept = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        while let Some(at) = rest.windows(noise.len()).position(|w| w == noise) {
            kept.extend_from_slice(&rest[..at]);
            rest = &rest[at + noise.len()..];
        }
        kept.extend_from_slice(rest);
        out = kept;
    }
    out
}

/// The length in `>>> TLS 1.3, Handshake [length 048d], NewSessionTicket`.
fn ticket_len(line: &str) -> usize {
    line.split("[length ").nth(1).and_then(|r| r.get(..4)).and_then(|h| usize::from_str_radix(h, 16).ok()).unwrap_or(0)
}
