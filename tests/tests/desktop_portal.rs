//! "Load from server…" in the real desktop window (Xvfb, WebDriver through `tauri-driver`),
//! against the real gateway and identity provider: the preview lists the gateway's routes,
//! Save stores them, and a second load shows them all unchanged.

use std::time::Duration;

use porthole_e2e::cli::PortholeCli as _;
use porthole_e2e::desktop::{capabilities, tauri_driver, xvfb};
use porthole_e2e::webdriver::Session;
use porthole_testkit::child::bin;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::poll_until;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};

const WAIT: Duration = Duration::from_secs(60);

async fn wait_text(s: &Session, css: &str, pred: impl Fn(&str) -> bool, what: &str) -> String {
    poll_until(what, WAIT, || async {
        let t = match s.find(css).await {
            Ok(e) => s.text(&e).await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if pred(&t) { Ok(t) } else { Err(format!("last text of {css} was {t:?}")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn click_button(s: &Session, label: &str) {
    let xpath = format!("//button[normalize-space()='{label}' and not(@disabled)]");
    let b =
        poll_until(&format!("button {label}"), WAIT, || s.find_xpath(&xpath)).await.unwrap_or_else(|e| panic!("{e:#}"));
    s.click(&b).await.unwrap();
}

/// Opens the dialog from the window's toolbar, fills the server and its CA, and loads.
async fn load(s: &Session, gw: &TestGateway) {
    click_button(s, "Load from server…").await;
    let url = s.wait_for("#portalUrl", WAIT).await.unwrap();
    s.type_into(&url, &gw.url()).await.unwrap();
    s.type_into(&s.find("#portalCaFile").await.unwrap(), &gw.ca_path.display().to_string()).await.unwrap();
    click_button(s, "Load").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_from_server_previews_saves_and_then_shows_unchanged() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child(
            "load_from_server_previews_saves_and_then_shows_unchanged",
            Bus::Keyring,
            home.path(),
            &[],
        );
    }
    let echo = EchoServer::start().await;
    let any = "    allow_any_authenticated_user: true\n";
    let routes = format!(
        "  - from: tcp+https://db.example.com:5432\n    name: Orders DB\n    to: tcp://{e}\n{any}\
         \x20 - from: tcp+https://ssh.example.com:22\n    name: SSH bastion\n    to: tcp://{e}\n{any}",
        e = echo.addr
    );
    let gw = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let (_x, display) = xvfb().unwrap();
    let config_dir = gw.dir.path().join("desktop-config");
    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", gw.dir.path().join("desktop-cache").display().to_string()),
        ("PORTHOLE_BROWSER_CMD", bin("porthole-test-browser").display().to_string()),
        ("PORTHOLE_TEST_CA", gw.ca_path.display().to_string()),
        ("PORTHOLE_TEST_EMAIL", "alice@example.com".into()),
        ("PORTHOLE_TEST_LAUNCHES", gw.launches_file().display().to_string()),
        ("PORTHOLE_TRAY", "0".into()),
    ];
    let driver_log = gw.dir.path().join("tauri-driver.log");
    let (_driver, url) = tauri_driver(&envs, &driver_log).unwrap();
    let s = Session::start(&url, capabilities()).await.unwrap_or_else(|e| {
        panic!("the app starts under WebDriver: {e:#}\n{}", std::fs::read_to_string(&driver_log).unwrap_or_default())
    });
    s.wait_for("[data-testid=empty-state]", WAIT).await.expect("an empty app");

    // First load: a browser login, then both routes are new; nothing is saved yet.
    load(&s, &gw).await;
    let new = wait_text(
        &s,
        "[data-testid=portal-new]",
        |t| t.contains("Orders DB") && t.contains("SSH bastion"),
        "the preview lists the gateway's routes as new",
    )
    .await;
    assert!(new.contains("db.example.com:5432") && new.contains("ssh.example.com:22"), "{new}");
    let summary = wait_text(&s, "[data-testid=portal-summary]", |t| !t.is_empty(), "the summary").await;
    assert_eq!(summary, "2 new");
    assert_eq!(gw.launches(), 1, "one browser login");
    assert!(!config_dir.join("connections.json").exists(), "the preview saved nothing");

    // Save: both are stored, as connections through this gateway.
    click_button(&s, "Save").await;
    poll_until("both connections in the list", WAIT, || async {
        let n = s
            .execute(
                "return document.querySelectorAll('[data-group=All] [data-testid=connection-row]').length",
                serde_json::json!([]),
            )
            .await
            .map_err(|e| e.to_string())?;
        if n == 2 { Ok(()) } else { Err(format!("{n} rows")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let saved = std::fs::read_to_string(config_dir.join("connections.json")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let profiles = saved["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 2, "{saved}");
    for p in profiles {
        assert_eq!(p["pomeriumUrl"], gw.url(), "{p}");
        assert!(p["source"].as_str().unwrap().starts_with("portal-route-"), "{p}");
    }

    // Second load: the stored session is used, and both are unchanged.
    load(&s, &gw).await;
    let unchanged = wait_text(
        &s,
        "[data-testid=portal-unchanged]",
        |t| t.contains("Orders DB") && t.contains("SSH bastion"),
        "the second load shows both unchanged",
    )
    .await;
    assert!(!unchanged.is_empty());
    let summary = wait_text(&s, "[data-testid=portal-summary]", |t| !t.is_empty(), "the summary").await;
    assert_eq!(summary, "2 unchanged — everything is up to date.");
    assert_eq!(gw.launches(), 1, "no second login");
    s.end().await;
}
