//! Loading connections from the routes portal of a real `porthole-gateway` (which serves
//! Pomerium's `/.pomerium/api/v1/routes`), logged in through the real identity provider: the
//! diff preview is new on the first load, unchanged after saving, changed/gone/new after the
//! config changes, and nothing is saved before it is accepted. `porthole routes` lists the same
//! routes, as a table and as the portal's JSON.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use porthole_client::portal::{PortalPreview, PortalSource};
use porthole_client::{App, AppOptions};
use porthole_e2e::cli::PortholeCli;
use porthole_e2e::live::{lines_with, replace_routes};
use porthole_testkit::child::bin;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::idp::ALICE;
use porthole_tunnel::auth::{Browser, MemoryStore, Token, TokenStore as _};

fn routes(echo: &EchoServer, db_name: &str, with_cache: bool) -> String {
    let any = "    allow_any_authenticated_user: true\n";
    let mut yaml = format!(
        "  - from: tcp+https://db.example.com:5432\n    name: {db_name}\n    to: tcp://{echo}\n{any}\
         \x20 - from: tcp+https://ssh.example.com:22\n    name: SSH bastion\n    to: tcp://{echo}\n{any}\
         \x20 - from: tcp+https://postgres.example.com:5433\n    to: tcp://{echo}\n{any}",
        echo = echo.addr
    );
    // A real config mixes in routes the gateway does not serve (and so does not list).
    yaml += &format!("  - from: https://wiki.example.com\n    to: http://{}\n{any}", echo.addr);
    yaml += &format!("  - from: ssh://jump.example.com\n    to: ssh://{}\n{any}", echo.addr);
    if with_cache {
        yaml += &format!(
            "  - from: tcp+https://cache.example.com:6379\n    name: Cache\n    to: tcp://{}\n{any}",
            echo.addr
        );
    }
    yaml
}

/// A browser command that logs in at the real IdP as alice (the test browser, with its
/// environment set by a wrapper script: this process's own environment is left alone).
fn browser(gw: &TestGateway, dir: &Path) -> Browser {
    let script = dir.join("browser.sh");
    let text = format!(
        "#!/bin/sh\nPORTHOLE_TEST_EMAIL='{}' PORTHOLE_TEST_CA='{}' PORTHOLE_TEST_LAUNCHES='{}' exec '{}' \"$1\"\n",
        ALICE.email,
        gw.ca_path.display(),
        gw.launches_file().display(),
        bin("porthole-test-browser").display()
    );
    std::fs::write(&script, text).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    Browser::Command(script.display().to_string())
}

fn names(preview: &PortalPreview) -> [Vec<String>; 4] {
    let mut out = [
        preview.new.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        preview.changed.iter().map(|e| e.entry.name.clone()).collect(),
        preview.unchanged.iter().map(|e| e.entry.name.clone()).collect(),
        preview.gone.iter().map(|p| p.name.clone()).collect(),
    ];
    for v in &mut out {
        v.sort();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_load_previews_then_saves_and_follows_config_changes() {
    let echo = EchoServer::start().await;
    let gw = TestGateway::start(GatewayOpts {
        routes: &routes(&echo, "Orders DB", false),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    // A stored token the gateway refuses (not signed by it): the load must log in again.
    let tokens = Arc::new(MemoryStore::default());
    let origin = format!("https://127.0.0.1:{}", gw.addr.port());
    tokens.store(&origin, &Token::new("eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.x")).unwrap();
    let app = App::open(AppOptions {
        tokens: tokens.clone(),
        browser: browser(&gw, home.path()),
        login_timeout: Duration::from_secs(60),
        ..AppOptions::isolated(home.path())
    })
    .unwrap();
    let source = PortalSource {
        pomerium_url: gw.url(),
        ca_file: Some(gw.ca_path.display().to_string()),
        disable_tls_verification: false,
    };

    // First load: the refused token costs one login, then every route is new; nothing is
    // saved yet.
    let first = app.load_portal(&source).await.expect("the portal loads after a login");
    assert_eq!(gw.launches(), 1, "one browser login, after the stored token was refused");
    let stored = tokens.load(&origin).unwrap().expect("the new token is stored");
    assert_eq!(stored.user().as_deref(), Some(ALICE.email), "the refused token was replaced by the login's");
    assert_eq!(first.server, gw.url());
    let [new, changed, unchanged, gone] = names(&first);
    assert_eq!(new.len(), 3, "{first:#?}");
    assert!(new.contains(&"Orders DB".to_owned()) && new.contains(&"SSH bastion".to_owned()), "{new:?}");
    assert!((changed.len(), unchanged.len(), gone.len()) == (0, 0, 0), "{first:#?}");
    assert!(
        first.skipped.iter().all(|r| r.kind != "tcp" && !r.reason.is_empty()),
        "the HTTP and SSH routes never become connections (the gateway does not list them; a \
         Pomerium that does gets them skipped with a reason): {first:#?}"
    );
    let mut dests: Vec<&str> = first.new.iter().map(|e| e.destination.as_str()).collect();
    dests.sort_unstable();
    assert_eq!(dests, ["db.example.com:5432", "postgres.example.com:5433", "ssh.example.com:22"]);
    let unnamed = first.new.iter().find(|e| e.destination == "postgres.example.com:5433").unwrap();
    assert!(!unnamed.name.is_empty(), "an unnamed route gets the server's name for it");
    assert!(
        first.new.iter().all(|e| e.pomerium_url == gw.url() && e.ca_file == source.ca_file && !e.route_id.is_empty()),
        "{first:#?}"
    );
    assert!(app.list_connections().is_empty(), "a preview saves nothing");

    // Accept: saved, and then connectable through the gateway.
    let report = app.accept_portal(&first.server, &[]).await.unwrap();
    assert_eq!((report.added, report.updated, report.removed), (3, 0, 0));
    let saved = app.list_connections();
    assert_eq!(saved.len(), 3);
    assert!(saved.iter().all(|v| v.profile.source.as_deref().is_some_and(|s| s.starts_with("portal-route-"))));

    // Second load: the stored token is used, and everything is unchanged.
    let second = app.load_portal(&source).await.unwrap();
    assert_eq!(gw.launches(), 1, "the stored session is reused: no second login");
    let [new, changed, unchanged, gone] = names(&second);
    assert!((new.len(), changed.len(), unchanged.len(), gone.len()) == (0, 0, 3, 0), "{second:#?}");

    // The config changes: a route renamed, one removed (ssh is gone), one added.
    let renamed = routes(&echo, "Orders DB (primary)", true);
    let without_ssh: String = renamed
        .split("  - from: ")
        .filter(|r| !r.is_empty() && !r.contains("ssh.example.com"))
        .map(|r| format!("  - from: {r}"))
        .collect();
    replace_routes(&gw.config, &without_ssh).unwrap();
    let reloaded = eventually(Duration::from_secs(5), || async {
        !lines_with(&gw.log(), &["config reloaded: 1 routes added, 1 changed, 1 removed"]).is_empty()
    })
    .await;
    assert!(reloaded, "the gateway reloads the edit:\n{}", gw.log());
    let third = app.load_portal(&source).await.unwrap();
    let [new, changed, unchanged, gone] = names(&third);
    assert_eq!(new, ["Cache"], "{third:#?}");
    assert_eq!(changed, ["Orders DB (primary)"], "{third:#?}");
    assert_eq!(third.changed[0].changes.len(), 1, "only the name changed: {third:#?}");
    assert_eq!(
        (third.changed[0].changes[0].field.as_str(), third.changed[0].changes[0].old.as_str()),
        ("name", "Orders DB")
    );
    assert_eq!(unchanged.len(), 1, "{third:#?}");
    assert_eq!(gone, ["SSH bastion"], "{third:#?}");

    // Keep the gone one first (not ticked), then a reload that ticks it.
    let db_id = saved.iter().find(|v| v.profile.name == "Orders DB").unwrap().profile.id.clone();
    let report = app.accept_portal(&third.server, &[]).await.unwrap();
    assert_eq!((report.added, report.updated, report.removed), (1, 1, 0));
    assert_eq!(app.list_connections().len(), 4, "an unticked gone connection stays");
    assert_eq!(app.profile(&db_id).unwrap().name, "Orders DB (primary)", "updated in place (same id)");
    let fourth = app.load_portal(&source).await.unwrap();
    let gone_id = fourth.gone[0].id.clone();
    let report = app.accept_portal(&fourth.server, std::slice::from_ref(&gone_id)).await.unwrap();
    assert_eq!((report.added, report.updated, report.removed), (0, 0, 1));
    let left: Vec<String> = app.list_connections().into_iter().map(|v| v.profile.name).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.contains(&"SSH bastion".to_owned()), "the ticked gone connection is removed: {left:?}");
    assert!(app.accept_portal(&fourth.server, &[]).await.is_err(), "a preview is accepted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn porthole_routes_lists_the_portal_as_a_table_and_as_json() {
    let echo = EchoServer::start().await;
    let gw = TestGateway::start(GatewayOpts {
        routes: &routes(&echo, "Orders DB", false),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let run = |json: bool| {
        let mut cmd = gw.porthole(ALICE.email);
        cmd.args(["routes", "--pomerium-url", &gw.url(), "--alternate-ca-path"])
            .arg(&gw.ca_path)
            .arg("--browser-cmd")
            .arg(bin("porthole-test-browser"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(out.status.success(), "porthole routes fails:\n{stdout}\n{stderr}");
        stdout
    };
    let json: serde_json::Value = serde_json::from_str(&run(true)).expect("--json prints JSON");
    let routes = json["routes"].as_array().expect("a routes array, as the portal's JSON");
    let mut from: Vec<&str> = routes.iter().map(|r| r["from"].as_str().unwrap()).collect();
    from.sort_unstable();
    assert_eq!(
        from,
        ["tcp+https://db.example.com:5432", "tcp+https://postgres.example.com:5433", "tcp+https://ssh.example.com:22"]
    );
    for r in routes {
        assert_eq!(r["type"], "tcp", "{r}");
        for key in ["id", "name", "description", "logo_url"] {
            assert!(r[key].is_string(), "Pomerium's field {key} is there: {r}");
        }
        assert!(!r["id"].as_str().unwrap().is_empty() && !r["name"].as_str().unwrap().is_empty(), "{r}");
    }
    assert_eq!(gw.launches(), 1, "one login");
    let table = run(false);
    assert_eq!(gw.launches(), 1, "the stored login is reused");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("TYPE") && lines[0].ends_with("FROM"), "{table}");
    assert_eq!(lines.len(), 4, "a header and one line per route:\n{table}");
    assert!(
        lines.iter().any(|l| l.starts_with("Orders DB")
            && l.contains(" tcp ")
            && l.ends_with("tcp+https://db.example.com:5432")),
        "{table}"
    );
}
