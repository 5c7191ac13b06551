//! Reloading a running `porthole-gateway` process: SIGHUP adds a route (and no longer kills the
//! gateway), an editor's save (rename over the file) reloads without a signal, and an invalid
//! edit is refused with its line while the old routes keep serving.

use std::time::{Duration, Instant};

use porthole_e2e::live::{Tunnel, line_of, lines_with, pid_of, replace_routes, signal, write_by_rename};
use porthole_testkit::connect::{connect_on, tls_connect};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};

fn route(from: &str, echo: &EchoServer) -> String {
    format!("  - from: tcp+https://{from}\n    to: tcp://{}\n    allow_any_authenticated_user: true\n", echo.addr)
}

/// The status a CONNECT to `authority` gets (0 when the gateway cannot be reached).
async fn status(gw: &TestGateway, authority: &str, token: &str) -> u16 {
    let Ok(stream) = tls_connect(gw.addr, gw.pki.ca_pem(), None).await else { return 0 };
    connect_on(stream, authority, &[("Authorization", &format!("Pomerium {token}"))]).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_route_that_answers_within_3_seconds() {
    let echo = EchoServer::start().await;
    // The config is a symlink to a file in another folder: edits there are not seen by the
    // watcher (it watches the link's folder), so only the signal can bring them in.
    let real = tempfile::tempdir().unwrap();
    let gw =
        TestGateway::start(GatewayOpts { routes: &route("one.example.com:7000", &echo), ..GatewayOpts::default() })
            .await
            .unwrap();
    let target = real.path().join("gateway.yaml");
    std::fs::copy(&gw.config, &target).unwrap();
    let token = gw.mint_user("alice");
    assert_eq!(status(&gw, "two.example.com:7000", &token).await, 404, "no route yet");
    let mut before = Tunnel::open(gw.addr, gw.pki.ca_pem(), "one.example.com:7000", &token).await.unwrap();

    // Point the running gateway's file at the copy (a symlink), then edit the copy.
    let link = gw.config.with_extension("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::fs::rename(&link, &gw.config).unwrap();
    // The link's rename is a change in the watched folder: let that reload (same routes) pass.
    let swapped = eventually(Duration::from_secs(3), || async {
        !lines_with(&gw.log(), &["config reloaded: 0 routes added, 0 changed, 0 removed"]).is_empty()
    })
    .await;
    assert!(swapped, "replacing the file by a link reloads it:\n{}", gw.log());
    std::fs::write(&target, std::fs::read_to_string(&target).unwrap() + &route("two.example.com:7000", &echo)).unwrap();
    let pid = pid_of(&gw.config);
    // The edit of the target is seen only through SIGHUP.
    assert_eq!(status(&gw, "two.example.com:7000", &token).await, 404, "an edit behind a link needs the signal");
    let reloads_before = lines_with(&gw.log(), &["config reloaded"]).len();
    let sent = Instant::now();
    signal(pid, "HUP").unwrap();
    let ok =
        eventually(Duration::from_secs(3), || async { status(&gw, "two.example.com:7000", &token).await == 200 }).await;
    let log = gw.log();
    assert!(ok, "the new route answers 200 within 3 s of SIGHUP:\n{log}");
    eprintln!("route live {:?} after SIGHUP", sent.elapsed());
    assert!(
        lines_with(&log, &["config reloaded: 1 routes added, 0 changed, 0 removed"]).len() == 1
            && lines_with(&log, &["config reloaded"]).len() == reloads_before + 1,
        "one log line for the reload, with its counts:\n{log}"
    );
    before.echo(b"the tunnel opened before the reload still works").await.unwrap();
    assert_eq!(pid_of(&gw.config), pid, "the same process serves: SIGHUP does not restart or kill it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_save_reloads_and_an_invalid_edit_keeps_the_old_routes() {
    let echo = EchoServer::start().await;
    let gw =
        TestGateway::start(GatewayOpts { routes: &route("one.example.com:7000", &echo), ..GatewayOpts::default() })
            .await
            .unwrap();
    let token = gw.mint_user("alice");
    assert_eq!(status(&gw, "two.example.com:7000", &token).await, 404);

    // A valid save: rename a new file over the config. No signal.
    let routes = route("one.example.com:7000", &echo) + &route("two.example.com:7000", &echo);
    replace_routes(&gw.config, &routes).unwrap();
    let ok =
        eventually(Duration::from_secs(3), || async { status(&gw, "two.example.com:7000", &token).await == 200 }).await;
    assert!(ok, "the route added by the save answers 200 within 3 s:\n{}", gw.log());
    assert_eq!(
        lines_with(&gw.log(), &["config reloaded: 1 routes added, 0 changed, 0 removed"]).len(),
        1,
        "one reload for one save (debounced):\n{}",
        gw.log()
    );

    // An invalid save: a `to` whose port is out of range, and a third route that would otherwise be added.
    let bad = routes.clone()
        + "  - from: tcp+https://three.example.com:7000\n    to: tcp://nowhere.example.com:99999\n    allow_any_authenticated_user: true\n";
    replace_routes(&gw.config, &bad).unwrap();
    let bad_line = line_of(&gw.config, "tcp://nowhere.example.com");
    let needle = format!("gateway.yaml:{bad_line}: routes[2].to");
    let refused = eventually(Duration::from_secs(3), || async {
        !lines_with(&gw.log(), &["config reload refused", &needle]).is_empty()
    })
    .await;
    let log = gw.log();
    assert!(refused, "the refusal names the file and line {bad_line} of the bad `to`:\n{log}");
    assert_eq!(status(&gw, "one.example.com:7000", &token).await, 200, "the old routes keep serving");
    assert_eq!(status(&gw, "two.example.com:7000", &token).await, 200, "including the one the last reload added");
    assert_eq!(status(&gw, "three.example.com:7000", &token).await, 404, "nothing of the refused file is in force");

    // Fixing the file brings it in.
    let fixed = routes + &route("three.example.com:7000", &echo);
    write_by_rename(&gw.config, &(std::fs::read_to_string(&gw.config).unwrap().replace(&bad, "") + &fixed)).unwrap();
    let ok =
        eventually(Duration::from_secs(3), || async { status(&gw, "three.example.com:7000", &token).await == 200 })
            .await;
    assert!(ok, "the fixed file is taken:\n{}", gw.log());
}
