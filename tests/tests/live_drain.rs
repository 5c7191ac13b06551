//! Graceful drain of a `porthole-gateway` process: after SIGTERM with `--drain 5s` it accepts
//! no new connection while the open tunnels keep echoing; one that ends on its own counts as
//! finished, and a second SIGTERM cuts the rest at once; the log counts both.

use std::time::{Duration, Instant};

use porthole_e2e::live::{Tunnel, lines_with, pid_of, signal};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::{POLL_INTERVAL, eventually};
use porthole_testkit::gateway::{GatewayOpts, TestGateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_live_tunnels_and_a_second_sigterm_cuts_them() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://db.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let mut gw =
        TestGateway::start(GatewayOpts { routes: &routes, args: &["--drain", "5s"], ..GatewayOpts::default() })
            .await
            .unwrap();
    let token = gw.mint_user("alice");
    let (addr, ca) = (gw.addr, gw.pki.ca_pem().to_owned());
    let mut finishing = Tunnel::open(addr, &ca, "db.example.com:7000", &token).await.unwrap();
    let mut lasting = Tunnel::open(addr, &ca, "db.example.com:7000", &token).await.unwrap();
    lasting.echo(b"before").await.unwrap();
    let pid = pid_of(&gw.config);

    let sent = Instant::now();
    signal(pid, "TERM").unwrap();
    let refused =
        eventually(Duration::from_secs(2), || async { tokio::net::TcpStream::connect(addr).await.is_err() }).await;
    assert!(refused, "new connections are refused once the drain starts:\n{}", gw.log());
    // Both tunnels keep echoing for 2 s of the drain.
    while sent.elapsed() < Duration::from_secs(2) {
        for t in [&mut finishing, &mut lasting] {
            if let Err(e) = t.echo(b"during the drain").await {
                panic!("a live tunnel echoes during the drain ({:?} in): {e:#}\n{}", sent.elapsed(), gw.log());
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    // One ends on its own (the client closes it).
    finishing.finish().await.unwrap();

    // A second SIGTERM cuts the other at once.
    let second = Instant::now();
    signal(pid, "TERM").unwrap();
    let cut = lasting.ended_within(Duration::from_secs(2)).await;
    assert!(cut.is_some(), "the second signal cuts the tunnel left:\n{}", gw.log());
    let took = second.elapsed();
    assert!(took < Duration::from_secs(2), "at once, not at the end of the drain ({took:?})");
    eprintln!("cut {took:?} after the second SIGTERM ({cut:?}); drain began {:?} before", sent.elapsed());
    let status = gw.gateway.as_mut().unwrap().wait_exit(Duration::from_secs(10)).unwrap();
    let log = gw.log();
    assert!(status.success(), "a drained gateway exits 0 ({status}):\n{log}");
    assert_eq!(
        lines_with(&log, &["drain over (a second signal cut it short): 1 tunnel(s) finished, 1 cut"]).len(),
        1,
        "the log counts finished and cut tunnels:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_time_bounds_the_wait() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://db.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let mut gw =
        TestGateway::start(GatewayOpts { routes: &routes, args: &["--drain", "1s"], ..GatewayOpts::default() })
            .await
            .unwrap();
    let token = gw.mint_user("alice");
    let mut tunnel = Tunnel::open(gw.addr, gw.pki.ca_pem(), "db.example.com:7000", &token).await.unwrap();
    tunnel.echo(b"before").await.unwrap();
    let sent = Instant::now();
    signal(pid_of(&gw.config), "TERM").unwrap();
    let cut = tunnel.ended_within(Duration::from_secs(5)).await;
    let took = sent.elapsed();
    assert!(cut.is_some(), "the tunnel is cut when the drain time runs out:\n{}", gw.log());
    assert!(took >= Duration::from_millis(900), "…not before ({took:?})");
    let status = gw.gateway.as_mut().unwrap().wait_exit(Duration::from_secs(10)).unwrap();
    let log = gw.log();
    assert!(status.success(), "{status}:\n{log}");
    assert_eq!(
        lines_with(&log, &["drain over (the drain time (1s) ran out): 0 tunnel(s) finished, 1 cut"]).len(),
        1,
        "{log}"
    );
}
