//! Live tunnels are re-checked, not only authorised at CONNECT: removing alice from a route's
//! policy closes her open `porthole tcp` tunnel within 3 s (bob's stays), with an access-log
//! line; a tunnel ends when the session it was opened with expires, unless
//! `end_tunnels_at_session_expiry: false` says otherwise (per route or globally).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use porthole_e2e::cli::PortholeCli as _;
use porthole_e2e::live::{Tunnel, lines_with, replace_routes};
use porthole_testkit::connect::{connect_on, tls_connect};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::idp::BOB;

fn db_route(echo: &EchoServer, users: &str) -> String {
    format!(
        "  - from: tcp+https://db.corp.example.com:7000\n    to: tcp://{}\n    allowed_users: [{users}]\n",
        echo.addr
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_alice_from_the_policy_closes_her_live_tunnel_within_3_seconds() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &db_route(&echo, "alice@example.com, bob@example.com"),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let config = stack.dir.path().join("gateway.yaml");
    // alice: `porthole tcp` with a real login through the test IdP.
    let tunnel = stack.tcp("db.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    let mut local = TcpStream::connect(tunnel.addr).unwrap();
    local.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    local.write_all(b"alice before").unwrap();
    let mut got = [0u8; 12];
    local.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"alice before", "alice's tunnel echoes:\n{}", tunnel.log());
    // bob: a session minted with the gateway's key, on the same route.
    let bob_token = stack.mint(&serde_json::json!({"sub": BOB.sub, "email": BOB.email}));
    let mut bob = Tunnel::open(stack.addr, stack.pki.ca_pem(), "db.corp.example.com:7000", &bob_token).await.unwrap();
    bob.echo(b"bob before").await.unwrap();

    // The operator removes alice (an editor's save; the watcher reloads).
    let edited = Instant::now();
    replace_routes(&config, &db_route(&echo, "bob@example.com")).unwrap();
    local.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 64];
    let seen = local.read(&mut buf);
    let took = edited.elapsed();
    let log = stack.log();
    assert!(
        matches!(seen, Ok(0)) || seen.as_ref().is_err_and(|e| e.kind() != std::io::ErrorKind::WouldBlock),
        "alice's local connection is closed (got {seen:?} after {took:?}):\n{log}"
    );
    assert!(took < Duration::from_secs(3), "closed within 3 s of the edit, took {took:?}:\n{log}");
    eprintln!("alice's tunnel closed {took:?} after the edit ({seen:?})");
    let revoked = lines_with(&log, &["tunnel revoked", "user=alice@example.com"]);
    assert_eq!(revoked.len(), 1, "one access-log line for the revocation:\n{log}");
    assert!(
        revoked[0].contains("route=db.corp.example.com:7000") && revoked[0].contains("reason=policy changed"),
        "it names the route and the reason: {}",
        revoked[0]
    );
    eprintln!("{}", revoked[0]);
    bob.echo(b"bob after").await.unwrap_or_else(|e| panic!("bob is still allowed, his tunnel goes on: {e:#}\n{log}"));
    assert!(lines_with(&log, &["tunnel revoked", "user=bob@example.com"]).is_empty(), "bob is not revoked");
    let closed = eventually(Duration::from_secs(5), || async {
        !lines_with(&stack.log(), &["tunnel closed", "user=alice@example.com", "end=revoked (policy changed)"])
            .is_empty()
    })
    .await;
    assert!(closed, "alice's access-log close line says why:\n{}", stack.log());
    // `porthole tcp` asks the proxy once why, and says it.
    let sentence = "access to db.corp.example.com:7000 was revoked for alice@example.com (403)";
    let told = eventually(Duration::from_secs(10), || async { tunnel.log().contains(sentence) }).await;
    assert!(told, "porthole prints {sentence:?}:\n{}", tunnel.log());
}

fn echo_route(from: &str, echo: &EchoServer, extra: &str) -> String {
    format!(
        "  - from: tcp+https://{from}\n    to: tcp://{}\n    allow_any_authenticated_user: true\n{extra}",
        echo.addr
    )
}

/// Seconds since the epoch now.
fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_ends_its_tunnel() {
    let echo = EchoServer::start().await;
    let gw = TestGateway::start(GatewayOpts {
        routes: &echo_route("expiring.example.com:7000", &echo, ""),
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    // `exp` is whole seconds: no earlier than this.
    let earliest_exp = now_secs() + 2;
    let token = gw.mint_user_for("alice", Duration::from_secs(2));
    let mut tunnel = Tunnel::open(gw.addr, gw.pki.ca_pem(), "expiring.example.com:7000", &token).await.unwrap();
    tunnel.echo(b"before exp").await.unwrap();

    let ended = tunnel.ended_within(Duration::from_secs(5)).await;
    let log = gw.log();
    assert!(ended.is_some(), "the tunnel ends when its session expires:\n{log}");
    assert!(now_secs() >= earliest_exp, "…not before `exp` ({ended:?})");
    eprintln!("ended at exp: {ended:?}");
    let lines = lines_with(&log, &["tunnel revoked", "reason=session expired"]);
    assert_eq!(lines.len(), 1, "one access-log line for it:\n{log}");
    assert!(lines[0].contains("user=alice@example.com") && lines[0].contains("route=expiring.example.com:7000"));
    let denied = connect_on(
        tls_connect(gw.addr, gw.pki.ca_pem(), None).await.unwrap(),
        "expiring.example.com:7000",
        &[("Authorization", &format!("Pomerium {token}"))],
    )
    .await;
    assert_eq!(denied.status, 401, "a new CONNECT with the expired session is refused, as before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_key_keeps_its_tunnels_past_session_expiry() {
    let echo = EchoServer::start().await;
    let routes = echo_route("expiring.example.com:7000", &echo, "")
        + &echo_route("kept.example.com:7000", &echo, "    end_tunnels_at_session_expiry: false\n");
    let gw = TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() }).await.unwrap();
    let token = gw.mint_user_for("alice", Duration::from_secs(1));
    let exp = now_secs() + 1;
    let (addr, ca) = (gw.addr, gw.pki.ca_pem());
    let mut expiring = Tunnel::open(addr, ca, "expiring.example.com:7000", &token).await.unwrap();
    let mut kept = Tunnel::open(addr, ca, "kept.example.com:7000", &token).await.unwrap();
    assert!(expiring.ended_within(Duration::from_secs(5)).await.is_some(), "the other route's tunnel ends");
    echo_until_past(&mut kept, exp + 1, "`end_tunnels_at_session_expiry: false` on the route", &gw).await;
    let log = gw.log();
    assert_eq!(lines_with(&log, &["tunnel revoked"]).len(), 1, "only the other route's tunnel is revoked:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_key_keeps_tunnels_past_session_expiry() {
    let echo = EchoServer::start().await;
    let routes = echo_route("db.example.com:7000", &echo, "");
    let extra = "end_tunnels_at_session_expiry: false\n";
    let gw = TestGateway::start(GatewayOpts { routes: &routes, extra, ..GatewayOpts::default() }).await.unwrap();
    let token = gw.mint_user_for("alice", Duration::from_secs(1));
    let exp = now_secs() + 1;
    let mut tunnel = Tunnel::open(gw.addr, gw.pki.ca_pem(), "db.example.com:7000", &token).await.unwrap();
    echo_until_past(&mut tunnel, exp + 1, "the global `end_tunnels_at_session_expiry: false`", &gw).await;
    let log = gw.log();
    assert!(lines_with(&log, &["tunnel revoked"]).is_empty(), "nothing revoked:\n{log}");
}

/// Echoes through `tunnel` every poll interval until the clock is past `until` (Unix seconds):
/// every echo must succeed.
async fn echo_until_past(tunnel: &mut Tunnel, until: u64, why: &str, gw: &TestGateway) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while now_secs() <= until {
        if let Err(e) = tunnel.echo(b"still here").await {
            panic!("{why} keeps the tunnel past its session's exp, but: {e:#}\n{}", gw.log());
        }
        assert!(Instant::now() < deadline, "the clock passes exp within 10 s");
        tokio::time::sleep(porthole_testkit::eventually::POLL_INTERVAL).await;
    }
}
