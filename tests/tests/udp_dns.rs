//! `porthole udp` end to end, on real parts: a real `dnsmasq` on a loopback port behind a
//! `udp+https` route of porthole-gateway, queried with real `dig` and `kdig` through the local
//! UDP port; two dig peers at once (two sessions, one login through the real identity
//! provider); a datagram over `--udp-max-datagram` dropped and counted; `iperf3 -u` through
//! `porthole tcp` + `porthole udp` on the same local port number, with its loss reported.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use porthole_e2e::cli::PortholeCli as _;
use porthole_testkit::child::KilledOnDrop;
use porthole_testkit::eventually::{poll_until, poll_until_blocking};
use porthole_testkit::gateway::{GatewayOpts, TestGateway};

const ANSWER: &str = "10.1.2.3";

/// A free UDP port on loopback (nothing binds it between this and its user's bind).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A DNS query for `example.test` A, id 0x1234.
fn dns_query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["example", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The A record of a one-answer response to [`dns_query`] (its last four bytes).
fn a_record(resp: &[u8]) -> Option<Ipv4Addr> {
    let answers = u16::from_be_bytes([*resp.get(6)?, *resp.get(7)?]);
    (resp.get(..2)? == [0x12, 0x34] && answers == 1).then(|| {
        let n = resp.len();
        Ipv4Addr::new(resp[n - 4], resp[n - 3], resp[n - 2], resp[n - 1])
    })
}

/// Sends [`dns_query`] to `server` from `socket` and waits up to `wait` for the A record.
fn ask(socket: &UdpSocket, server: SocketAddr, wait: Duration) -> Option<Ipv4Addr> {
    socket.set_read_timeout(Some(wait)).ok()?;
    socket.send_to(&dns_query(), server).ok()?;
    let mut buf = [0u8; 512];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    a_record(&buf[..n])
}

/// `dnsmasq` answering `example.test` with [`ANSWER`] on a loopback port, in the foreground.
struct Dnsmasq {
    _child: KilledOnDrop,
    addr: SocketAddr,
}

impl Dnsmasq {
    fn start(dir: &std::path::Path) -> Dnsmasq {
        let port = free_udp_port();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let mut cmd = Command::new("dnsmasq");
        cmd.args(["--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=", "--log-facility=-"])
            .arg(format!("--port={port}"))
            .args(["--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts"])
            .arg(format!("--address=/example.test/{ANSWER}"))
            // As the current user (dnsmasq would switch from root to `nobody`).
            .arg(format!("--user={}", user.trim()));
        let child =
            KilledOnDrop::spawn(cmd, &dir.join("dnsmasq.log")).expect("dnsmasq (make test installs dnsmasq-base)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        poll_until_blocking("dnsmasq answers", Duration::from_secs(20), || {
            Ok(ask(&socket, addr, Duration::from_millis(300)))
        })
        .unwrap_or_else(|e| panic!("{e:#}: {}", child.log()));
        Dnsmasq { _child: child, addr }
    }
}

fn dns_route(dns: &Dnsmasq) -> String {
    format!(
        "  - from: udp+https://dns.corp.example.com:53\n    to: udp://{}\n    allow_any_authenticated_user: true\n",
        dns.addr
    )
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn dig(port: u16) -> std::process::Child {
    Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "example.test", "+short", "+time=30", "+tries=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dig (make test installs dnsutils)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_and_kdig_through_porthole_udp_two_peers_one_login() {
    let dir = tempfile::tempdir().unwrap();
    let dns = Dnsmasq::start(dir.path());
    let routes = dns_route(&dns);
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let tunnel = stack.udp("udp+https://dns.corp.example.com:53", "alice@example.com", &[]).unwrap();
    let port = tunnel.addr.port();
    // Two peers (two source ports) at once, before any login: one browser launch.
    let (a, b) = (dig(port), dig(port));
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ANSWER, "dig: {}\n{}", text(&out), tunnel.log());
    }
    assert_eq!(stack.launches(), 1, "one login for two peers: {}", tunnel.log());
    let log = tunnel.log();
    assert_eq!(log.matches(": connected").count(), 2, "one session per source address: {log}");
    // This gateway has no QUIC: HTTP/3 is tried first (no probe, as pomerium-cli), then both
    // sessions go over HTTP/1.1 and say why.
    let connected: Vec<&str> = log.lines().filter(|l| l.contains(": connected via")).collect();
    assert!(
        connected.len() == 2 && connected.iter().all(|l| l.contains("connected via HTTP/1.1 (HTTP/3 unavailable: ")),
        "the fallback is said: {log}"
    );
    let out = Command::new("kdig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "example.test", "+short", "+timeout=30", "+retry=0"])
        .output()
        .expect("kdig (make test installs knot-dnsutils)");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ANSWER, "kdig: {}\n{}", text(&out), tunnel.log());
    assert_eq!(stack.launches(), 1, "the third peer reuses the login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_datagram_is_dropped_and_counted_never_split() {
    let dir = tempfile::tempdir().unwrap();
    let dns = Dnsmasq::start(dir.path());
    let routes = dns_route(&dns);
    let stack = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() }).await.unwrap();
    let jwt = stack.mint_user("alice");
    let flags = ["--service-account", &jwt, "--udp-max-datagram", "1000", "--udp-idle-timeout", "2s"];
    let tunnel = stack.udp("udp+https://dns.corp.example.com:53", "alice@example.com", &flags).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(&[0u8; 1001], tunnel.addr).unwrap();
    assert_eq!(
        ask(&socket, tunnel.addr, Duration::from_secs(30)),
        Some(ANSWER.parse().unwrap()),
        "the query after it is answered: {}",
        tunnel.log()
    );
    // The peer idles out after 2 s; its line counts one datagram each way and one dropped.
    let line = poll_until("the session's end", Duration::from_secs(30), || {
        let log = tunnel.log();
        async move {
            log.lines().find(|l| l.contains("disconnected")).map(str::to_owned).ok_or_else(|| anyhow::anyhow!("{log}"))
        }
    })
    .await
    .unwrap();
    assert!(
        line.contains("sent 1 datagrams") && line.contains("received 1 datagrams") && line.ends_with("dropped 1)"),
        "{line}"
    );
    let gateway_log = poll_until("the gateway's access line", Duration::from_secs(20), || {
        let log = stack.log();
        async move { if log.contains("tunnel closed") { Ok(log) } else { Err(anyhow::anyhow!("{log}")) } }
    })
    .await
    .unwrap();
    assert!(gateway_log.contains("datagrams_up=1"), "only the query crossed: {gateway_log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_dash_is_refused_with_a_sentence() {
    let stack = TestGateway::start(GatewayOpts::default()).await.unwrap();
    let out =
        stack.porthole("alice@example.com").args(["udp", "dns.corp.example.com:53", "--listen", "-"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("porthole udp cannot use `--listen -`"), "{}", text(&out));
}

/// Gateway access lines of closed UDP tunnels, and how many of those ran over HTTP/3.
fn udp_tunnels(gateway_log: &str) -> (usize, usize) {
    let closed: Vec<&str> =
        gateway_log.lines().filter(|l| l.contains("tunnel closed") && l.contains("datagrams_up=")).collect();
    (closed.len(), closed.iter().filter(|l| l.contains("http=\"h3\"")).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_over_http3_and_with_http3_off_over_http1() {
    let dir = tempfile::tempdir().unwrap();
    let dns = Dnsmasq::start(dir.path());
    let routes = dns_route(&dns);
    let opts = GatewayOpts { routes: &routes, extra: "codec_type: http3\n", ..GatewayOpts::default() };
    let stack = TestGateway::start(opts).await.unwrap();
    let jwt = stack.mint_user("alice");
    for (n, mode, via) in [(1, "auto", "HTTP/3"), (2, "off", "HTTP/1.1")] {
        let flags = ["--service-account", jwt.as_str(), "--udp-idle-timeout", "2s", "--http3", mode];
        let tunnel = stack.udp("udp+https://dns.corp.example.com:53", "alice@example.com", &flags).unwrap();
        let out = dig(tunnel.addr.port()).wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), ANSWER, "dig: {}\n{}", text(&out), tunnel.log());
        let log = tunnel.log();
        let connected: Vec<&str> = log.lines().filter(|l| l.contains(": connected via")).collect();
        assert_eq!(connected.len(), 1, "one session: {log}");
        assert!(connected[0].ends_with(&format!("connected via {via}")), "--http3 {mode}: {log}");
        // The peer idles out after 2 s; the gateway then writes the tunnel's access line.
        let (closed, h3) = poll_until("the gateway's access line", Duration::from_secs(30), || {
            let log = stack.log();
            async move {
                let counts = udp_tunnels(&log);
                if counts.0 == n { Ok(counts) } else { Err(anyhow::anyhow!("{log}")) }
            }
        })
        .await
        .unwrap();
        assert_eq!((closed, h3), (n, 1), "the first UDP tunnel only went over HTTP/3:\n{}", stack.log());
        let last = stack.log().lines().rfind(|l| l.contains("tunnel closed")).unwrap_or_default().to_owned();
        assert!(last.contains("datagrams_up=1") && last.contains("datagrams_down=1"), "{last}");
    }
}

/// The loss percentage of an `iperf3 --json` UDP client run.
fn iperf_loss(json: &str) -> Option<(f64, u64)> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let sum = &v["end"]["sum"];
    Some((sum["lost_percent"].as_f64()?, sum["packets"].as_u64()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_udp_through_porthole_reports_its_loss() {
    let dir = tempfile::tempdir().unwrap();
    let server_port = porthole_testkit::process::free_port();
    let mut cmd = Command::new("iperf3");
    cmd.args(["-s", "--bind", "127.0.0.1", "-p", &server_port.to_string()]);
    let _server = KilledOnDrop::spawn(cmd, &dir.path().join("iperf3-server.log")).expect("iperf3");
    let server = SocketAddr::from(([127, 0, 0, 1], server_port));
    porthole_testkit::process::wait_for_port(server, Duration::from_secs(20)).await.unwrap();
    let routes = format!(
        "  - from: tcp+https://iperf.corp.example.com:5201\n    to: tcp://{server}\n    allow_any_authenticated_user: true\n\
         \x20 - from: udp+https://iperf.corp.example.com:5201\n    to: udp://{server}\n    allow_any_authenticated_user: true\n"
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() }).await.unwrap();
    let jwt = stack.mint_user("alice");
    // iperf3 -u keeps a TCP control connection: both tunnels on one local port number.
    let local = porthole_testkit::process::free_port();
    let listen = format!("127.0.0.1:{local}");
    let flags = ["--service-account", jwt.as_str(), "--listen", listen.as_str()];
    let _tcp = stack.tcp("iperf.corp.example.com:5201", "alice@example.com", &flags).unwrap();
    let udp = stack.udp("udp+https://iperf.corp.example.com:5201", "alice@example.com", &flags).unwrap();
    let out = Command::new("iperf3")
        .args(["-c", "127.0.0.1", "-p", &local.to_string(), "-u", "-b", "5M", "-t", "3", "-l", "1200", "--json"])
        .output()
        .expect("iperf3");
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "iperf3 -u completes: {json}\n{}", udp.log());
    let (loss, packets) = iperf_loss(&json).unwrap_or_else(|| panic!("iperf3's JSON has end.sum: {json}"));
    eprintln!("iperf3 -u 5 Mbit/s through porthole udp: {packets} datagrams, {loss:.2} % lost");
    assert!(packets > 100, "datagrams were sent: {packets}");
    assert!((0.0..50.0).contains(&loss), "most datagrams arrive through the tunnel: {loss} % lost\n{}", udp.log());
}
