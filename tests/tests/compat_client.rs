//! `porthole tcp` with what Pomerium's guides and users actually type (issue 12), against the
//! real gateway: every `--listen` form pomerium-cli (Go) accepts, and the self-signed
//! certificate `openssl req -x509` makes (`CA:TRUE`), given as its own CA with
//! `--alternate-ca-path` — trusted, and refused in sentences when its name or dates are wrong.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use porthole_e2e::cli::Porthole;
use porthole_testkit::child::bin;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::gateway::{GatewayOpts, GatewayProcess, TestGateway};
use porthole_testkit::openssl;

const WAIT: Duration = Duration::from_secs(15);
const DESTINATION: &str = "echo.corp.example.com:7000";

fn echo_route(echo: &EchoServer) -> String {
    format!(
        "  - from: tcp+https://{DESTINATION}\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    )
}

/// `porthole tcp` to the echo route through `url`, trusting `ca`, logged in as a service account.
fn porthole_tcp<S>(gw: &TestGateway<S>, url: &str, ca: &Path, listen: &str) -> Command {
    let mut cmd = Command::new(bin("porthole"));
    cmd.env("PORTHOLE_TOKEN_STORE", "file")
        .env("PORTHOLE_CACHE_DIR", gw.dir.path().join("cache"))
        .env("NO_COLOR", "1")
        .args(["tcp", DESTINATION, "--pomerium-url", url, "--listen", listen, "--alternate-ca-path"])
        .arg(ca)
        .args(["--service-account", &gw.mint_user("robot")]);
    cmd
}

fn spawn<S>(gw: &TestGateway<S>, cmd: Command, name: &str) -> Porthole {
    Porthole::spawn(cmd, &gw.dir.path().join(format!("porthole-{name}.log"))).unwrap()
}

/// Writes `msg` to `addr` and reads as many bytes back.
fn echo_through(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(WAIT))?;
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got)?;
    Ok(got)
}

fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listen_form_of_pomerium_cli_carries_bytes() {
    let echo = EchoServer::start().await;
    let gw = TestGateway::start(GatewayOpts { routes: &echo_route(&echo), ..GatewayOpts::default() }).await.unwrap();
    let mut forms = vec![":0", "127.0.0.1:0", "localhost:0", "0.0.0.0:0"];
    if ipv6_loopback() {
        forms.push("[::1]:0");
    } else {
        eprintln!("no IPv6 loopback here: skipping --listen [::1]:0");
    }
    for form in forms {
        let porthole = spawn(&gw, porthole_tcp(&gw, &gw.url(), &gw.ca_path, form), &form.replace(':', "_"));
        let log = porthole.log();
        let everywhere = form == ":0" || form == "0.0.0.0:0";
        // Every interface includes this machine's own loopback: connect there, never elsewhere.
        let addr = if everywhere {
            assert!(porthole.addr.ip().is_unspecified(), "{form}: binds every interface: {log}");
            SocketAddr::from(([127, 0, 0, 1], porthole.addr.port()))
        } else {
            assert!(porthole.addr.ip().is_loopback(), "{form}: {log}");
            porthole.addr
        };
        let got = echo_through(addr, b"hello through the tunnel").unwrap_or_else(|e| panic!("{form}: {e}\n{log}"));
        assert_eq!(got, b"hello through the tunnel", "{form}");
        let warned = poll_until_blocking("the warning line", WAIT, || {
            let log = porthole.log();
            Ok(log.contains(": connected").then(|| log.lines().any(|l| l.contains("reachable from the network"))))
        })
        .unwrap();
        assert_eq!(warned, everywhere, "{form}: a warning exactly for every-interface forms:\n{}", porthole.log());
        if everywhere {
            let line = porthole.log().lines().find(|l| l.contains("reachable from the network")).unwrap().to_owned();
            assert!(line.starts_with("warning: listening on all interfaces ("), "{line}");
        }
    }
}

#[test]
fn a_listen_address_that_does_not_parse_is_a_sentence_naming_it() {
    let cache = tempfile::tempdir().unwrap();
    for (value, reason) in [
        ("99999", "it has no port"),
        (":99999", "the port \"99999\" is not a number from 0 to 65535"),
        ("::1:2202", "an IPv6 address needs brackets"),
    ] {
        let out = Command::new(bin("porthole"))
            .env("PORTHOLE_TOKEN_STORE", "file")
            .env("PORTHOLE_CACHE_DIR", cache.path())
            .args(["tcp", DESTINATION, "--pomerium-url", "https://127.0.0.1:9", "--listen", value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}: {stderr}");
        assert!(stderr.contains(&format!("{value:?} is not a local address to listen on: {reason}")), "{stderr}");
        assert!(stderr.contains("expected :PORT, HOST:PORT, [IPv6]:PORT"), "{stderr}");
    }
}

/// Where the self-signed certificate and its key are.
struct SelfSigned {
    cert: PathBuf,
    key: PathBuf,
}

/// `openssl req -x509 -newkey ec …` as the guides write it: a self-signed `CA:TRUE` certificate
/// for `names` (subjectAltName), valid for 30 days.
fn openssl_req_x509(dir: &Path, stem: &str, names: &str) -> SelfSigned {
    let (cert, key) = (format!("{stem}.crt"), format!("{stem}.key"));
    openssl::run(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
            "-addext",
            &format!("subjectAltName={names}"),
        ],
    )
    .unwrap();
    SelfSigned { cert: dir.join(cert), key: dir.join(key) }
}

/// The same kind of certificate, valid only on 1–2 January 2020: `openssl ca -selfsign` is
/// OpenSSL 3.0's way to set both dates (`req` takes only a positive `-days`).
fn openssl_expired_self_signed(dir: &Path) -> SelfSigned {
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\n\
         policy = p\ncopy_extensions = copy\nunique_subject = no\n[p]\ncommonName = supplied\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    openssl::run(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "old.key",
            "-out",
            "old.csr",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    )
    .unwrap();
    openssl::run(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            "old.key",
            "-in",
            "old.csr",
            "-out",
            "old.crt",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-notext",
        ],
    )
    .unwrap();
    SelfSigned { cert: dir.join("old.crt"), key: dir.join("old.key") }
}

/// A gateway (the one test config) serving `cert` instead of the test CA's certificate.
async fn gateway_serving(echo: &EchoServer, make: impl FnOnce(&Path) -> SelfSigned) -> (TestGateway, SelfSigned) {
    let mut made = None;
    let gw =
        TestGateway::start_with(GatewayOpts { routes: &echo_route(echo), ..GatewayOpts::default() }, |config, dir| {
            let pair = make(dir);
            let yaml = std::fs::read_to_string(config)?;
            let yaml: String = yaml
                .lines()
                .map(|l| {
                    if l.starts_with("certificate_file:") {
                        format!("certificate_file: {}\n", pair.cert.display())
                    } else if l.starts_with("certificate_key_file:") {
                        format!("certificate_key_file: {}\n", pair.key.display())
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(config, yaml)?;
            made = Some(pair);
            let process = GatewayProcess::start(config, dir)?;
            let addr = process.addr;
            Ok((process, addr))
        })
        .await
        .unwrap();
    (gw, made.unwrap())
}

/// Connects through `porthole` once and waits for the line that says why the tunnel failed.
fn failure_line(porthole: &Porthole) -> String {
    let _ = echo_through(porthole.addr, b"x");
    poll_until_blocking("the failure line", WAIT, || {
        Ok(porthole.log().lines().find(|l| l.contains("TLS handshake with")).map(str::to_owned))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", porthole.log()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_openssl_certificate_given_as_its_own_ca_is_trusted() {
    let echo = EchoServer::start().await;
    let (gw, pair) = gateway_serving(&echo, |dir| openssl_req_x509(dir, "self", "DNS:localhost,IP:127.0.0.1")).await;
    let bc =
        Command::new("openssl").args(["x509", "-noout", "-ext", "basicConstraints", "-in"]).arg(&pair.cert).output();
    assert!(String::from_utf8_lossy(&bc.unwrap().stdout).contains("CA:TRUE"), "openssl req -x509 marks it a CA");
    for url in [format!("https://localhost:{}", gw.addr.port()), gw.url()] {
        let porthole = spawn(&gw, porthole_tcp(&gw, &url, &pair.cert, "127.0.0.1:0"), "self-signed");
        let sent: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let got = echo_through(porthole.addr, &sent).unwrap_or_else(|e| panic!("{url}: {e}\n{}", porthole.log()));
        assert!(got == sent, "{url}: the bytes come back through the tunnel");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_for_another_name_is_refused_naming_both() {
    let echo = EchoServer::start().await;
    let (gw, pair) = gateway_serving(&echo, |dir| openssl_req_x509(dir, "other", "DNS:proxy.corp.example.com")).await;
    let url = format!("https://localhost:{}", gw.addr.port());
    let porthole = spawn(&gw, porthole_tcp(&gw, &url, &pair.cert, "127.0.0.1:0"), "other-name");
    let line = failure_line(&porthole);
    assert!(
        line.contains("the proxy's certificate is for proxy.corp.example.com, not for localhost"),
        "the names on the certificate and the name asked: {line}"
    );
    assert!(!line.contains("Context") && !line.contains("Other("), "no Debug text: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_self_signed_certificate_is_refused_with_its_date() {
    let echo = EchoServer::start().await;
    let (gw, pair) = gateway_serving(&echo, openssl_expired_self_signed).await;
    let url = format!("https://localhost:{}", gw.addr.port());
    let porthole = spawn(&gw, porthole_tcp(&gw, &url, &pair.cert, "127.0.0.1:0"), "expired");
    let line = failure_line(&porthole);
    assert!(line.contains("the proxy's certificate expired on 2020-01-02 00:00:00 UTC"), "{line}");
    assert!(!line.contains("--alternate-ca-path"), "the CA was given: it must not be asked for again: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_signed_by_the_given_ca_names_that_file() {
    let echo = EchoServer::start().await;
    // The gateway's usual certificate (a CA:FALSE leaf of the test CA), and an unrelated CA given.
    let gw = TestGateway::start(GatewayOpts { routes: &echo_route(&echo), ..GatewayOpts::default() }).await.unwrap();
    let unrelated = openssl_req_x509(gw.dir.path(), "unrelated", "DNS:localhost");
    let porthole = spawn(&gw, porthole_tcp(&gw, &gw.url(), &unrelated.cert, "127.0.0.1:0"), "unrelated");
    let line = failure_line(&porthole);
    let named = format!("not signed by the certificate authority in --alternate-ca-path {}", unrelated.cert.display());
    assert!(line.contains(&named), "{line}");
    assert!(!line.contains("give the proxy's CA"), "the CA was given: it must not be asked for again: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_self_signed_certificate_than_the_one_given_is_refused_naming_the_file() {
    let echo = EchoServer::start().await;
    let (gw, _served) = gateway_serving(&echo, |dir| openssl_req_x509(dir, "served", "DNS:localhost")).await;
    let unrelated = openssl_req_x509(gw.dir.path(), "unrelated", "DNS:localhost");
    let url = format!("https://localhost:{}", gw.addr.port());
    let porthole = spawn(&gw, porthole_tcp(&gw, &url, &unrelated.cert, "127.0.0.1:0"), "other-self-signed");
    let line = failure_line(&porthole);
    let named =
        format!("(CA:TRUE) as its own, and it is not the one in --alternate-ca-path {}", unrelated.cert.display());
    assert!(line.contains(&named), "{line}");
}
