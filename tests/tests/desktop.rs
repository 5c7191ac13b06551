//! Porthole Desktop as a person uses it: the real window under Xvfb, driven through WebDriver
//! (`tauri-driver` + `WebKitWebDriver`), the real keychain (gnome-keyring in a private session
//! bus), the real gateway and identity provider, the login in headless Chromium, a real
//! `redis-cli`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use porthole_e2e::cli::PortholeCli as _;
use porthole_e2e::desktop::{
    PortholedGuard, capabilities, check_rendered, pss_by_mapping, tauri_driver, tray_host, tree_rss_kib, xvfb,
};
use porthole_e2e::redis::{redis_cli, redis_ping};
use porthole_e2e::webdriver::Session;
use porthole_testkit::child::bin;
use porthole_testkit::eventually::{poll_until, poll_until_blocking};
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::process::spawn_redis;
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};

const WAIT: Duration = Duration::from_secs(60);

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(s: &Session, name: &str) -> PathBuf {
    // WebKit paints a moment after the DOM changes: poll until the capture is a rendering.
    let (png, (w, h, colours)) =
        poll_until(&format!("{name} screenshot is a rendering"), Duration::from_secs(15), || async {
            let png = s.screenshot().await.unwrap();
            check_rendered(&png).map(|info| (png, info))
        })
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let path = screenshots_dir().join(format!("desktop-{name}.png"));
    std::fs::write(&path, &png).unwrap();
    println!("screenshot {} ({w}x{h}, {colours}+ colours)", path.display());
    path
}

async fn text_of(s: &Session, css: &str) -> String {
    match s.find(css).await {
        Ok(e) => s.text(&e).await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_text(s: &Session, css: &str, pred: impl Fn(&str) -> bool, what: &str) -> String {
    poll_until(what, WAIT, || async {
        let t = text_of(s, css).await;
        if pred(&t) { Ok(t) } else { Err(format!("last text of {css} was {t:?}")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn goto(s: &Session, hash: &str) {
    s.execute(&format!("location.hash = '{hash}'"), serde_json::json!([])).await.unwrap();
}

async fn click_button(s: &Session, label: &str) {
    let b = s
        .find_xpath(&format!("//button[normalize-space()='{label}']"))
        .await
        .unwrap_or_else(|e| panic!("button {label}: {e}"));
    s.click(&b).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_window_end_to_end() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("desktop_window_end_to_end", Bus::Keyring, home.path(), &[]);
    }
    let redis = spawn_redis().await.expect("redis-server");
    let stack = TestGateway::start(GatewayOpts { routes: &format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n",
        redis.addr
    ), idp: true, ..GatewayOpts::default() })
    .await
    .unwrap();
    let (_x, display) = xvfb().unwrap();
    let config_dir = stack.dir.path().join("desktop-config");
    let cache_dir = stack.dir.path().join("desktop-cache");
    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", cache_dir.display().to_string()),
        ("PORTHOLE_BROWSER_CMD", bin("porthole-test-browser").display().to_string()),
        ("PORTHOLE_TEST_CA", stack.ca_path.display().to_string()),
        ("PORTHOLE_TEST_EMAIL", "alice@example.com".into()),
        ("PORTHOLE_TEST_BROWSER", "chromium".into()),
        ("PORTHOLE_TEST_LAUNCHES", stack.launches_file().display().to_string()),
        ("PORTHOLE_TRAY", "0".into()),
    ];
    let driver_log = stack.dir.path().join("tauri-driver.log");
    let (_driver, url) = tauri_driver(&envs, &driver_log).unwrap();
    let launched = Instant::now();
    let s = Session::start(&url, capabilities()).await.unwrap_or_else(|e| {
        panic!("the app starts under WebDriver: {e:#}\n{}", std::fs::read_to_string(&driver_log).unwrap_or_default())
    });
    s.wait_for("[data-testid=empty-state]", WAIT).await.expect("the empty state says what to do");
    println!("launch to usable window: {} ms", launched.elapsed().as_millis());
    shot(&s, "empty").await;

    // Create a connection through the form.
    goto(&s, "#/new").await;
    let name = s.wait_for("#name", WAIT).await.unwrap();
    s.type_into(&name, "Redis prod").await.unwrap();
    s.type_into(&s.find("#destination").await.unwrap(), "redis.corp.example.com:6379").await.unwrap();
    s.type_into(&s.find("#pomeriumUrl").await.unwrap(), &stack.url()).await.unwrap();
    s.type_into(&s.find("#caFile").await.unwrap(), &stack.ca_path.display().to_string()).await.unwrap();
    shot(&s, "form").await;
    s.click(&s.find("button[type=submit]").await.unwrap()).await.unwrap();

    // Connect from the detail view; the UI shows where it listens.
    poll_until("the detail view shows Connect after saving", WAIT, || {
        s.find_xpath("//button[normalize-space()='Connect']")
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    click_button(&s, "Connect").await;
    let status =
        wait_text(&s, "[data-testid=status]", |t| t.contains("listening on 127.0.0.1:"), "status after Connect").await;
    let addr: SocketAddr =
        status.split("listening on ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();

    // redis-cli at the address the UI shows: the first connection logs in through the browser.
    let out = redis_cli(addr, &["PING"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "PONG",
        "redis through the desktop's tunnel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stack.launches(), 1, "one browser login");

    // A live session shows in the detail view.
    let mut live = TcpStream::connect(addr).unwrap();
    live.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    live.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    live.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"+PONG\r\n");
    let sessions = wait_text(
        &s,
        "[data-testid=sessions]",
        |t| t.contains("127.0.0.1:") && t.contains("6 B") && t.contains("7 B"),
        "the live session with its bytes in the detail view",
    )
    .await;
    println!("sessions table: {sessions:?}");
    wait_text(&s, "[data-testid=status]", |t| t.contains("1 session"), "status counts the session").await;
    shot(&s, "detail").await;

    // Disconnect: the port closes and the live session is cut.
    click_button(&s, "Disconnect").await;
    let mut b = [0u8; 1];
    assert!(matches!(live.read(&mut b), Ok(0) | Err(_)), "Disconnect cuts the live session");
    poll_until_blocking("close the port on Disconnect", Duration::from_secs(10), || {
        Ok(TcpStream::connect(addr).is_err().then_some(()))
    })
    .expect("Disconnect closes the port");

    // The token is in the keychain; the profile file holds no token or key.
    let keyring = Command::new("secret-tool").args(["search", "--all", "service", "porthole"]).output().unwrap();
    let keyring = String::from_utf8_lossy(&keyring.stdout).into_owned() + &String::from_utf8_lossy(&keyring.stderr);
    assert!(keyring.contains(&stack.url()), "the login's token is in the keychain under the proxy origin:\n{keyring}");
    let profiles = std::fs::read_to_string(config_dir.join("connections.json")).unwrap();
    assert!(profiles.contains("Redis prod"), "the profile was saved");
    assert!(
        !profiles.contains("eyJ") && !profiles.contains("PRIVATE KEY"),
        "no token or key in the profile file:\n{profiles}"
    );
    let token_files = std::fs::read_dir(cache_dir.join("tokens")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(token_files, 0, "with a keychain, no token file is written");

    goto(&s, "#/").await;
    s.wait_for("[data-testid=connection-row]", WAIT).await.unwrap();
    shot(&s, "list").await;
    goto(&s, "#/settings").await;
    wait_text(&s, "main", |t| t.contains(&stack.url()), "settings lists the signed-in proxy").await;
    shot(&s, "settings").await;
    s.end().await;
}

// Bounds from measurements (debug build, 2026-12-03): window open 366–368 MiB PSS in total
// (WebKitWebProcess 223–225, the window's process 90, portholed 27), closed to the tray 27 MiB
// (portholed alone). Open keeps ~25 % headroom: a second web view, or one that outlives its
// window, fails. Closed is issue 13's goal itself.

/// Upper bound on the idle app's memory with its window open (PSS, MiB, summed over the shell
/// and WebKit's helpers).
const OPEN_PSS_MIB: u64 = 450;
/// Upper bound on the app's memory with the window closed to the tray (PSS, MiB, every process:
/// only portholed is left): issue 13's goal, met by the debug build too.
const CLOSED_PSS_MIB: u64 = 60;

/// Every process of the app: the window and WebKit's under the driver (not the drivers
/// themselves), and `portholed` of `cache` with the windows it started.
fn app_procs(driver: u32, cache: &Path) -> Vec<(u32, String)> {
    let mut procs: Vec<(u32, String)> = tree_rss_kib(driver).1.into_iter().map(|p| (p.0, p.1)).collect();
    if let Some(core) = porthole_e2e::desktop::portholed(cache) {
        procs.extend(tree_rss_kib(core).1.into_iter().map(|p| (p.0, p.1)));
    }
    procs.sort();
    procs.dedup();
    procs.retain(|p| !p.1.starts_with("WebKitWebDrive") && !p.1.starts_with("tauri-driver"));
    procs
}

/// Where each process's memory is: its eight largest mappings by PSS.
fn print_top_mappings(procs: &[(u32, String)]) {
    for (pid, name) in procs {
        let top: Vec<String> =
            pss_by_mapping(*pid).into_iter().take(8).map(|(m, kib)| format!("{m} {} MiB", kib / 1024)).collect();
        println!("  {name}: {}", top.join(", "));
    }
}

/// PSS (MiB) of each process of the app ([`app_procs`]).
fn app_pss(driver: u32, cache: &Path) -> Vec<(String, u64)> {
    app_procs(driver, cache).into_iter().map(|p| (p.1, porthole_e2e::desktop::pss_kib(p.0) / 1024)).collect()
}

fn total(pss: &[(String, u64)]) -> u64 {
    pss.iter().map(|p| p.1).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// The idle app with 20 saved connections, 3 of them started, and a tray: measured with its window
/// open, then closed to the tray (the web view and WebKit's processes go, the tunnels stay), then
/// opened again from the tray (the window is built anew; a second launch then only focuses it).
async fn desktop_idle_memory_with_20_saved_and_3_connected() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("desktop_idle_memory_with_20_saved_and_3_connected", Bus::Keyring, home.path(), &[]);
    }
    let (_x, display) = xvfb().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    {
        // 20 saved connections, 3 of them started at launch.
        let mut options = porthole_client::app::AppOptions::from_env();
        options.config_dir = config_dir.clone();
        options.secrets = std::sync::Arc::new(porthole_client::secrets::MemorySecrets::default());
        let app = porthole_client::app::App::open(options).unwrap();
        for i in 0..20 {
            let draft: porthole_client::model::ProfileDraft = serde_json::from_value(serde_json::json!({
                "id": null, "name": format!("Service {i:02}"), "destination": format!("svc{i}.corp.example.com:{}", 5000 + i),
                "listenAddr": null, "pomeriumUrl": "https://proxy.corp.example.com", "protocol": "tcp",
                "tags": [if i % 2 == 0 { "prod" } else { "staging" }], "caFile": null, "disableTlsVerification": false,
                "clientCert": null, "autostart": i < 3, "openWith": null
            }))
            .unwrap();
            app.save_connection(&draft).unwrap();
        }
    }
    let cache = dir.path().join("cache");
    let envs = [
        ("DISPLAY", display.clone()),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", cache.display().to_string()),
    ];
    let _tray = tray_host(&display, dir.path()).unwrap();
    // With a tray, portholed outlives the window: end it with the test.
    let _portholed = PortholedGuard(cache.clone());
    let driver_log = dir.path().join("tauri-driver.log");
    let (driver, url) = tauri_driver(&envs, &driver_log).unwrap();
    let launched = Instant::now();
    let s = Session::start(&url, capabilities()).await.unwrap_or_else(|e| {
        panic!("the app starts under WebDriver: {e:#}\n{}", std::fs::read_to_string(&driver_log).unwrap_or_default())
    });
    s.wait_for("[data-testid=connection-row]", WAIT).await.unwrap();
    let usable_ms = launched.elapsed().as_millis();
    let rows = s
        .execute("return document.querySelectorAll('[data-testid=connection-row]').length", serde_json::json!([]))
        .await
        .unwrap();
    assert!(rows.as_u64().unwrap() >= 20, "20 saved connections are listed: {rows}");
    poll_until("3 connections start at launch (autostart)", WAIT, || async {
        let listening = s
            .execute("return [...document.querySelectorAll('[data-testid=status]')].filter(e => e.textContent.includes('listening on')).length", serde_json::json!([]))
            .await
            .unwrap();
        if listening.as_u64().unwrap_or(0) >= 3 { Ok(()) } else { Err(format!("{listening} listening")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    // Let it go idle, then measure every process of the app (portholed, the window, WebKit's).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let open = app_pss(driver.id(), &cache);
    println!("launch to usable window: {usable_ms} ms");
    println!("idle memory, window open (PSS MiB): total {} {open:?}", total(&open));
    print_top_mappings(&app_procs(driver.id(), &cache));
    let named = |procs: &[(String, u64)], name: &str| procs.iter().filter(|p| p.0 == name).map(|p| p.1).sum::<u64>();
    assert!(open.iter().any(|p| p.0 == "portholed"), "portholed runs: {open:?}");
    assert!(open.iter().any(|p| p.0.starts_with("porthole-deskto")), "the window's process runs: {open:?}");
    assert!(total(&open) <= OPEN_PSS_MIB, "window open: {} MiB PSS, over {OPEN_PSS_MIB}: {open:?}", total(&open));
    assert!(named(&open, "portholed") <= CLOSED_PSS_MIB, "portholed uses over {CLOSED_PSS_MIB} MiB PSS: {open:?}");

    // Close the window as its close button does (Tauri's close: CloseRequested); with a tray the
    // window's process ends, and WebKit's with it: only portholed stays, with the tunnels.
    s.execute(
        "window.__TAURI_INTERNALS__.invoke('plugin:window|close', { label: 'main' }); return 1",
        serde_json::json!([]),
    )
    .await
    .ok();
    let closed = poll_until_blocking("only portholed stays when the window closes", WAIT, || {
        let procs = app_pss(driver.id(), &cache);
        Ok((procs.len() == 1 && procs[0].0 == "portholed").then_some(procs))
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let closed = Some(app_pss(driver.id(), &cache)).filter(|p| p.len() == 1).unwrap_or(closed);
    println!("idle memory, window closed to the tray (PSS MiB): total {} {closed:?}", total(&closed));
    print_top_mappings(&app_procs(driver.id(), &cache));
    assert!(
        total(&closed) <= CLOSED_PSS_MIB,
        "window closed: {} MiB PSS, over {CLOSED_PSS_MIB}: {closed:?}",
        total(&closed)
    );
    porthole_e2e::sni::off_runtime(|| {
        let bus = zbus::blocking::Connection::session().unwrap();
        let item = porthole_e2e::sni::items(&bus).unwrap().into_iter().next().expect("the tray item");
        let (_, summary) = porthole_e2e::sni::tooltip(&bus, &item).unwrap();
        assert_eq!(summary, "3 of 20 active", "the tunnels stay with the window closed (the tray says)");
        // The tray's "Open Porthole" starts the window again (a new process, a new web view).
        let menu = porthole_e2e::sni::menu(&bus, &item).unwrap();
        let open_item = menu.iter().find(|e| e.label == "Open Porthole").expect("Open Porthole in the tray");
        porthole_e2e::sni::click(&bus, &item, open_item.id).unwrap();
    });
    let web_processes = || app_pss(driver.id(), &cache).iter().filter(|p| p.0.starts_with("WebKitWebProces")).count();
    poll_until_blocking("the window is built again", WAIT, || Ok((web_processes() > 0).then_some(())))
        .unwrap_or_else(|e| panic!("{e:#}"));
    // A second launch hands over to the open window and exits: no second web view.
    let app_bin = std::env::var_os("PORTHOLE_DESKTOP_BIN").map_or_else(|| bin("porthole-desktop"), PathBuf::from);
    let second = Command::new(app_bin).envs(envs.iter().map(|(k, v)| (k, v))).status().unwrap();
    assert!(second.success(), "the second launch hands over and exits");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reopened = app_pss(driver.id(), &cache);
    println!("idle memory, window opened again (PSS MiB): total {} {reopened:?}", total(&reopened));
    assert_eq!(web_processes(), 1, "one web view after the tray and a second launch: {reopened:?}");
    assert!(total(&reopened) <= OPEN_PSS_MIB, "reopened: {} MiB PSS: {reopened:?}", total(&reopened));
    s.end().await;
}

/// Saves a profile and connects it through the app's own commands; returns its id and the
/// local port it listens on.
async fn saved_and_connected(s: &Session, draft: serde_json::Value) -> (String, u16) {
    let invoke = "const [cmd, args] = arguments; return window.__TAURI_INTERNALS__.invoke(cmd, args);";
    let p = s.execute(invoke, serde_json::json!(["save_connection", { "draft": draft }])).await.unwrap();
    let id = p["id"].as_str().unwrap().to_owned();
    let status = s.execute(invoke, serde_json::json!(["connect", { "id": id }])).await.unwrap();
    let addr: SocketAddr = status["addr"].as_str().unwrap().parse().unwrap();
    (id, addr.port())
}

/// The text of `part` (`status`, `problem`, `fix`) in the row of connection `name` ("" when absent).
async fn row_text(s: &Session, name: &str, part: &str) -> String {
    let script = "const [n, p] = arguments; const row = [...document.querySelectorAll('[data-testid=connection-row]')]\
                  .find(r => r.dataset.name === n); const e = row && row.querySelector(`[data-testid=${p}]`); \
                  return e ? e.textContent : '';";
    let v = s.execute(script, serde_json::json!([name, part])).await.unwrap_or_default();
    v.as_str().unwrap_or_default().to_owned()
}

async fn wait_row(s: &Session, name: &str, part: &str, pred: impl Fn(&str) -> bool, what: &str) -> String {
    poll_until(what, WAIT, || async {
        let t = row_text(s, name, part).await;
        if pred(&t) { Ok(t) } else { Err(format!("last {part} of {name} was {t:?}")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The list in the light and the dark theme (`<html data-theme>`, as the Settings page sets it).
async fn shots_light_and_dark(s: &Session, name: &str) {
    goto(s, "#/").await;
    for theme in ["light", "dark"] {
        s.execute(&format!("document.documentElement.dataset.theme = '{theme}'"), serde_json::json!([])).await.unwrap();
        shot(s, &format!("{name}-{theme}")).await;
    }
    s.execute("document.documentElement.dataset.theme = 'light'", serde_json::json!([])).await.unwrap();
}

/// Failing connections look failing (issue 13): a user the policy denies sees "access denied
/// for alice@example.com" in the row and in the tray's menu model; a proxy certificate the
/// configured CA did not sign shows the TLS hint in the desktop's words (no CLI flag), and its
/// fix button opens the form at the CA file: after Save, `redis-cli PING` through the same
/// local port answers without a manual reconnect; an unreachable proxy points at the proxy
/// settings. Screenshots of each, light and dark, go to target/screenshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_failing_states_and_live_edit() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("desktop_failing_states_and_live_edit", Bus::Keyring, home.path(), &[]);
    }
    let redis = spawn_redis().await.expect("redis-server");
    let route = |host: &str, email: &str| {
        format!(
            "  - from: tcp+https://{host}:6379\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: {email}\n",
            redis.addr
        )
    };
    let routes =
        route("denied.corp.example.com", "bob@example.com") + &route("redis.corp.example.com", "alice@example.com");
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let wrong_ca = stack.dir.path().join("wrong-ca.pem");
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=Not the gateway's CA", "-keyout"])
        .arg(stack.dir.path().join("wrong-ca.key"))
        .arg("-out")
        .arg(&wrong_ca)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The browser logs in as whoever this file names: alice first, bob after the switch.
    let email_file = stack.dir.path().join("browser-email");
    std::fs::write(&email_file, "alice@example.com").unwrap();
    let (_x, display) = xvfb().unwrap();
    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", stack.dir.path().join("desktop-config").display().to_string()),
        ("PORTHOLE_CACHE_DIR", stack.dir.path().join("desktop-cache").display().to_string()),
        ("PORTHOLE_BROWSER_CMD", bin("porthole-test-browser").display().to_string()),
        ("PORTHOLE_TEST_CA", stack.ca_path.display().to_string()),
        ("PORTHOLE_TEST_EMAIL_FILE", email_file.display().to_string()),
        ("PORTHOLE_TEST_BROWSER", "chromium".into()),
        ("PORTHOLE_TEST_LAUNCHES", stack.launches_file().display().to_string()),
        ("PORTHOLE_TRAY", "0".into()),
    ];
    let driver_log = stack.dir.path().join("tauri-driver.log");
    let (_driver, url) = tauri_driver(&envs, &driver_log).unwrap();
    let s = Session::start(&url, capabilities()).await.unwrap_or_else(|e| {
        panic!("the app starts under WebDriver: {e:#}\n{}", std::fs::read_to_string(&driver_log).unwrap_or_default())
    });
    s.wait_for("[data-testid=empty-state]", WAIT).await.unwrap();
    let draft = |name: &str, host: &str, ca: &std::path::Path, proxy: &str| {
        serde_json::json!({
            "id": null, "name": name, "destination": format!("{host}:6379"), "listenAddr": null,
            "pomeriumUrl": proxy, "protocol": "tcp", "tags": [], "caFile": ca.display().to_string(),
            "disableTlsVerification": false, "clientCert": null, "autostart": false, "openWith": null
        })
    };

    // 403: alice logs in (the browser), the route allows only bob.
    let (_, denied_port) =
        saved_and_connected(&s, draft("Denied", "denied.corp.example.com", &stack.ca_path, &stack.url())).await;
    goto(&s, "#/").await;
    wait_row(&s, "Denied", "status", |t| t.contains("listening on"), "Denied listens").await;
    assert_ne!(redis_ping(denied_port), "PONG", "alice is denied");
    wait_row(&s, "Denied", "status", |t| t.contains("access denied for alice@example.com"), "the pill names her").await;
    let problem = row_text(&s, "Denied", "problem").await;
    assert!(problem.contains("denied for alice@example.com") && !problem.contains("--"), "{problem}");
    assert_eq!(row_text(&s, "Denied", "fix").await, "Log in as someone else…");
    let invoke = "const [cmd, args] = arguments; return window.__TAURI_INTERNALS__.invoke(cmd, args);";
    let tray = s.execute(invoke, serde_json::json!(["tray_menu_model", {}])).await.unwrap();
    assert_eq!(tray["aggregate"], "attention", "{tray}");
    let items: Vec<&str> = tray["items"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(items.contains(&"Denied — access denied for alice@example.com"), "the tray's item names her: {items:?}");
    shots_light_and_dark(&s, "failing-denied").await;

    // TLS trust: the CA file given did not sign the gateway's certificate.
    let (ca_id, ca_port) =
        saved_and_connected(&s, draft("Redis CA", "redis.corp.example.com", &wrong_ca, &stack.url())).await;
    assert_ne!(redis_ping(ca_port), "PONG", "the wrong CA fails the handshake");
    wait_row(&s, "Redis CA", "status", |t| t.contains("TLS"), "the pill says TLS").await;
    let problem = row_text(&s, "Redis CA", "problem").await;
    assert!(problem.contains(&wrong_ca.display().to_string()) && problem.contains("TLS settings"), "{problem}");
    assert!(!problem.contains("--"), "no CLI flag in the desktop's words: {problem}");
    shots_light_and_dark(&s, "failing-tls").await;

    // Unreachable proxy (nothing listens on port 9).
    let (_, gone_port) =
        saved_and_connected(&s, draft("Gone", "redis.corp.example.com", &stack.ca_path, "https://127.0.0.1:9")).await;
    assert_ne!(redis_ping(gone_port), "PONG");
    wait_row(&s, "Gone", "problem", |t| t.contains("Cannot reach the proxy"), "unreachable is said").await;
    assert_eq!(row_text(&s, "Gone", "fix").await, "Edit proxy settings…");
    shots_light_and_dark(&s, "failing-unreachable").await;

    // The fix: Open TLS settings… → the CA field, focused → the right CA → Save.
    let fix = s.find_xpath("//li[@data-name='Redis CA']//button[@data-testid='fix']").await.unwrap();
    s.click(&fix).await.unwrap();
    let ca_field = s.wait_for("#caFile", WAIT).await.unwrap();
    poll_until("the CA field has the focus", WAIT, || async {
        let id = s.execute("return document.activeElement && document.activeElement.id", serde_json::json!([])).await;
        match id {
            Ok(v) if v == "caFile" => Ok(()),
            other => Err(format!("focus on {other:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    s.type_into(&ca_field, &stack.ca_path.display().to_string()).await.unwrap();
    s.click(&s.find("button[type=submit]").await.unwrap()).await.unwrap();
    // The same port, no reconnect: the listener restarted with the new CA.
    let pinged = poll_until_blocking("redis-cli PING through the same port after Save", WAIT, || {
        Ok((redis_ping(ca_port) == "PONG").then_some(()))
    });
    if let Err(e) = pinged {
        shot(&s, "live-edit-failed").await;
        let logs = s.execute(invoke, serde_json::json!(["logs", { "id": ca_id }])).await;
        let list = s.execute(invoke, serde_json::json!(["list_connections", {}])).await;
        panic!("{e:#}\nlast answer: {}\nlogs: {logs:?}\nconnections: {list:?}", redis_ping(ca_port));
    }
    let status = s.execute(invoke, serde_json::json!(["list_connections", {}])).await.unwrap();
    let view = status.as_array().unwrap().iter().find(|v| v["profile"]["id"] == ca_id.as_str()).unwrap().clone();
    assert_ne!(view["status"]["state"], "failing", "the success cleared the failure: {view}");

    // Log in as someone else: the denied row's fix asks the IdP for its form again (the
    // gateway forwards prompt=login); bob logs in and the same local port now answers.
    std::fs::write(&email_file, "bob@example.com").unwrap();
    let before = stack.launches();
    goto(&s, "#/").await;
    let fix = s.find_xpath("//li[@data-name='Denied']//button[@data-testid='fix']").await.unwrap();
    s.click(&fix).await.unwrap();
    let pinged = poll_until_blocking("redis-cli PING as bob through the denied port", WAIT, || {
        Ok((redis_ping(denied_port) == "PONG").then_some(()))
    });
    pinged.unwrap_or_else(|e| panic!("{e:#}\nlast answer: {}", redis_ping(denied_port)));
    assert_eq!(stack.launches(), before + 1, "one more browser login");
    let launches = std::fs::read_to_string(stack.launches_file()).unwrap();
    let last = launches.lines().last().unwrap();
    assert!(last.contains("prompt=login"), "the switch asks the IdP for its form: {last}");
    let denied_id = s
        .execute(invoke, serde_json::json!(["list_connections", {}]))
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["profile"]["name"] == "Denied")
        .map(|v| v["profile"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    goto(&s, &format!("#/connection/{denied_id}")).await;
    wait_text(&s, "[data-testid=signed-in-as]", |t| t == "bob@example.com", "the detail names bob").await;
    for theme in ["light", "dark"] {
        s.execute(&format!("document.documentElement.dataset.theme = '{theme}'"), serde_json::json!([])).await.unwrap();
        shot(&s, &format!("signed-in-as-bob-{theme}")).await;
    }
    // Sign out forgets the token: the detail says so and the keychain no longer answers for it.
    s.click(&s.find("[data-testid=sign-out]").await.unwrap()).await.unwrap();
    wait_text(&s, "[data-testid=signed-in-as]", |t| t == "not signed in", "signed out").await;
    let signed = s.execute(invoke, serde_json::json!(["signed_in", {}])).await.unwrap();
    assert_eq!(signed, serde_json::json!([]), "no login is kept after Sign out");
    s.end().await;
}
