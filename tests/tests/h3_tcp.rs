//! TCP over HTTP/3 end to end: porthole-gateway with `codec_type: http3` (QUIC on its TLS port,
//! `Alt-Svc` on its TCP answers) and `porthole tcp`, which probes `Alt-Svc` and prefers HTTP/3;
//! real `redis-cli` through it, the login answers over HTTP/3, 1 MiB byte for byte. Then the
//! fallback: UDP to the gateway dropped by an nftables rule inside a network namespace this test
//! creates (`unshare --net`, as root), and `porthole tcp` still connects, over HTTP/1.1, within a
//! bound, says why, and goes straight to HTTP/1.1 for the next connection.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use porthole_e2e::cli::PortholeCli as _;
use porthole_e2e::redis::redis_cli;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::process::spawn_redis;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Gateway lines of tunnels that ran over HTTP/3 (their connection span says `http="h3"`).
fn h3_tunnels(gateway_log: &str) -> usize {
    gateway_log.lines().filter(|l| l.contains("tunnel closed") && l.contains("http=\"h3\"")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_http3_with_login() {
    let redis = spawn_redis().await.expect("redis-server");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n",
        redis.addr
    );
    let opts = GatewayOpts { routes: &routes, idp: true, extra: "codec_type: http3\n", ..GatewayOpts::default() };
    let stack = TestGateway::start(opts).await.unwrap();

    // Every answer of the TCP listener announces HTTP/3 on the listen port.
    let reply = stack.connect("nothing.example.com:1", &[], None).await;
    let alt_svc = format!("alt-svc: h3=\":{}\"; ma=86400", stack.addr.port());
    assert!(reply.head.to_ascii_lowercase().contains(&alt_svc), "{alt_svc} in:\n{}", reply.head);

    let tunnel = stack.tcp("redis.corp.example.com:6379", "alice@example.com", &[]).unwrap();
    let out = redis_cli(tunnel.addr, &["PING"], None);
    assert_eq!(stdout(&out), "PONG", "{}\n{}", String::from_utf8_lossy(&out.stderr), tunnel.log());
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(stdout(&redis_cli(tunnel.addr, &["-x", "SET", "big"], Some(&value))), "OK", "SET 1 MiB");
    let out = redis_cli(tunnel.addr, &["GET", "big"], None);
    assert!(out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout) == value.as_slice(), "GET: 1 MiB byte for byte");

    let log = tunnel.log();
    assert_eq!(log.matches(": connected via HTTP/3").count(), 3, "three connections over HTTP/3: {log}");
    assert!(!log.contains("via HTTP/1.1"), "{log}");
    // The first CONNECT (no token) got 302 over HTTP/3; one login, then the retry went through.
    assert_eq!(stack.launches(), 1, "one login: {log}");
    // The last tunnel's line is written once the gateway has seen it end.
    let three = eventually(Duration::from_secs(10), || async { h3_tunnels(&stack.log()) == 3 }).await;
    let gateway_log = stack.log();
    assert!(three, "the gateway relayed three tunnels over HTTP/3:\n{gateway_log}");
    assert!(
        gateway_log.lines().any(|l| l.contains("status=302") && l.contains("http=\"h3\"")),
        "the login answer (302) went over HTTP/3 too:\n{gateway_log}"
    );
}

const NETNS_ENV: &str = "PORTHOLE_H3_TEST_IN_NETNS";

/// Runs this test's body again inside a new network namespace (needs root), where it may
/// drop UDP without touching the machine.
#[test]
fn falls_back_to_http1_when_udp_is_dropped() {
    if std::env::var_os(NETNS_ENV).is_some() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        return rt.block_on(fallback_in_namespace());
    }
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "falls_back_to_http1_when_udp_is_dropped", "--nocapture", "--test-threads", "1"])
        .env(NETNS_ENV, "1")
        .output()
        .expect("unshare (util-linux)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "in a network namespace (needs root and nftables):\n{text}");
    assert!(text.contains("1 passed"), "the test ran inside the namespace:\n{text}");
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

async fn fallback_in_namespace() {
    run("ip", &["link", "set", "lo", "up"]);
    let redis = spawn_redis().await.expect("redis-server");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    allow_public_unauthenticated_access: true\n",
        redis.addr
    );
    let opts = GatewayOpts { routes: &routes, extra: "codec_type: http3\n", ..GatewayOpts::default() };
    let stack = TestGateway::start(opts).await.unwrap();

    // QUIC works here before the rule: the rule is what makes the difference.
    let before = stack.tcp("redis.corp.example.com:6379", "alice@example.com", &[]).unwrap();
    assert_eq!(stdout(&redis_cli(before.addr, &["PING"], None)), "PONG", "{}", before.log());
    assert!(before.log().contains("connected via HTTP/3"), "{}", before.log());
    let closed = eventually(Duration::from_secs(10), || async { h3_tunnels(&stack.log()) == 1 }).await;
    assert!(closed, "the HTTP/3 tunnel ended at the gateway:\n{}", stack.log());
    drop(before);

    let port = stack.addr.port().to_string();
    run("nft", &["add", "table", "inet", "porthole_test"]);
    run("nft", &["add", "chain", "inet", "porthole_test", "input", "{ type filter hook input priority 0; }"]);
    run("nft", &["add", "rule", "inet", "porthole_test", "input", "udp", "dport", &port, "drop"]);

    let tunnel = stack.tcp("redis.corp.example.com:6379", "alice@example.com", &[]).unwrap();
    let started = Instant::now();
    let out = redis_cli(tunnel.addr, &["PING"], None);
    let first = started.elapsed();
    assert_eq!(stdout(&out), "PONG", "{}", tunnel.log());
    // The QUIC handshake gets 3 s, then HTTP/1.1 (probe and dial on loopback take little).
    assert!(first >= Duration::from_millis(2900), "the QUIC dial was tried first: {first:?}");
    assert!(first < Duration::from_secs(8), "HTTP/1.1 within a bound: {first:?}");
    let why = "connected via HTTP/1.1 (HTTP/3 unavailable: no QUIC handshake with 127.0.0.1:";
    assert!(tunnel.log().contains(why), "{}", tunnel.log());

    // Remembered: the next connection goes straight to HTTP/1.1 and still says why.
    let started = Instant::now();
    let out = redis_cli(tunnel.addr, &["PING"], None);
    let second = started.elapsed();
    assert_eq!(stdout(&out), "PONG", "{}", tunnel.log());
    assert!(second < Duration::from_secs(1), "the remembered fallback makes it fast: {second:?}");
    assert_eq!(tunnel.log().matches(why).count(), 2, "{}", tunnel.log());
    let http1 = eventually(Duration::from_secs(10), || async {
        stack.log().lines().filter(|l| l.contains("tunnel closed")).count() == 3
    })
    .await;
    assert!(http1, "three tunnels ended:\n{}", stack.log());
    assert_eq!(h3_tunnels(&stack.log()), 1, "only the tunnel before the rule used HTTP/3:\n{}", stack.log());
}
