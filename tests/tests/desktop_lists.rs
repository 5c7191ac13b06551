//! The desktop window's list and form as a person uses them (real window under Xvfb through
//! WebDriver, real gateway and identity provider, real listeners): "All" lists each connection
//! once; a folder's Disconnect all under a search disconnects only the rows shown and leaves
//! the hidden ones listening; typing `alpha,beta` in Tags saves two tags; "Open login" runs
//! the same browser command as the automatic login (`PORTHOLE_BROWSER_CMD`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use porthole_e2e::desktop::{capabilities, check_rendered, tauri_driver, xvfb};
use porthole_e2e::webdriver::Session;
use porthole_testkit::eventually::{poll_until, poll_until_blocking};
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

async fn shot(s: &Session, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = poll_until(&format!("{name} screenshot is a rendering"), Duration::from_secs(15), || async {
        let png = s.screenshot().await.unwrap();
        check_rendered(&png).map(|_| png)
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let path = dir.join(format!("desktop-{name}.png"));
    std::fs::write(&path, png).unwrap();
    println!("screenshot {}", path.display());
}

/// Runs `script` in the window until it returns a value `pred` accepts.
async fn wait_js(
    s: &Session,
    script: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
    what: &str,
) -> serde_json::Value {
    poll_until(what, WAIT, || async {
        let v = s.execute(script, json!([])).await.unwrap_or_default();
        if pred(&v) { Ok(v) } else { Err(format!("last value {v}")) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

async fn click_xpath(s: &Session, xpath: &str) {
    let b = s.find_xpath(xpath).await.unwrap_or_else(|e| panic!("{xpath}: {e}"));
    s.click(&b).await.unwrap();
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// A script that answers the login URL `name`'s status carries (read from the app itself).
fn login_url_script(name: &str) -> String {
    format!(
        "return window.__TAURI_INTERNALS__.invoke('list_connections').then(l => l.find(c => c.profile.name === '{name}').status.url ?? null)"
    )
}

/// How many times the recording browser command was given `url`.
fn opened_times(opened: &Path, url: &str) -> usize {
    std::fs::read_to_string(opened).unwrap_or_default().lines().filter(|l| *l == url).count()
}

/// The login `name` waits for, once its status carries a URL the automatic login opened.
async fn pending_login(s: &Session, name: &str, opened: &Path) -> String {
    let script = login_url_script(name);
    poll_until(&format!("{name} shows the pending login, whose URL the automatic login opened"), WAIT, || async {
        let url = s.execute(&script, json!([])).await.unwrap_or_default();
        match url.as_str() {
            Some(u) if opened_times(opened, u) >= 1 => Ok(u.to_owned()),
            _ => Err(format!("status url {url}; opened {:?}", std::fs::read_to_string(opened).unwrap_or_default())),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}"))
}

/// Saves the connections the test starts with (all connect at launch).
fn seed(config_dir: &Path, proxy: &str, ca: &Path, rows: &[(&str, &str, &[&str], SocketAddr)]) {
    let mut options = porthole_client::app::AppOptions::from_env();
    options.config_dir = config_dir.to_path_buf();
    options.secrets = std::sync::Arc::new(porthole_client::secrets::MemorySecrets::default());
    let app = porthole_client::app::App::open(options).unwrap();
    for (name, destination, tags, addr) in rows {
        let draft: porthole_client::model::ProfileDraft = serde_json::from_value(json!({
            "id": null, "name": name, "destination": destination, "listenAddr": addr.to_string(),
            "pomeriumUrl": proxy, "protocol": "tcp", "tags": tags, "caFile": ca.display().to_string(),
            "disableTlsVerification": false, "clientCert": null, "autostart": true, "openWith": null
        }))
        .unwrap();
        app.save_connection(&draft).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_lists_filtered_bulk_tags_and_open_login() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("desktop_lists_filtered_bulk_tags_and_open_login", Bus::Keyring, home.path(), &[]);
    }
    let redis = porthole_testkit::process::spawn_redis().await.expect("redis-server");
    let stack = TestGateway::start(GatewayOpts {
        // Postgres staging's route leads to the same Redis: only its login matters here.
        routes: &["redis.corp.example.com:6379", "pg.corp.example.com:5432"]
            .map(|from| format!(
                "  - from: tcp+https://{from}\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n",
                redis.addr
            ))
            .concat(),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let (_x, display) = xvfb().unwrap();
    let config_dir = stack.dir.path().join("desktop-config");
    let redis_dest = "redis.corp.example.com:6379";
    let [staging_redis, staging_pg, staging_kafka, prod_redis, ssh] = std::array::from_fn(|_| free_port());
    let rows: [(&str, &str, &[&str], SocketAddr); 5] = [
        ("Redis staging", redis_dest, &["staging", "cache"], staging_redis),
        ("Postgres staging", "pg.corp.example.com:5432", &["staging"], staging_pg),
        ("Kafka staging", "kafka.corp.example.com:9092", &["staging"], staging_kafka),
        ("Redis prod", redis_dest, &["prod", "cache"], prod_redis),
        ("SSH bastion", "bastion.corp.example.com:22", &[], ssh),
    ];
    seed(&config_dir, &stack.url(), &stack.ca_path, &rows);

    // A browser command that only records the URLs it is given: the login stays pending.
    let opened = stack.dir.path().join("opened.txt");
    let browser = stack.dir.path().join("record-browser");
    std::fs::write(&browser, format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display())).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", stack.dir.path().join("desktop-cache").display().to_string()),
        ("PORTHOLE_BROWSER_CMD", browser.display().to_string()),
        ("PORTHOLE_TRAY", "0".into()),
    ];
    let driver_log = stack.dir.path().join("tauri-driver.log");
    let (_driver, url) = tauri_driver(&envs, &driver_log).unwrap();
    let s = Session::start(&url, capabilities()).await.unwrap_or_else(|e| {
        panic!("the app starts under WebDriver: {e:#}\n{}", std::fs::read_to_string(&driver_log).unwrap_or_default())
    });
    s.wait_for("[data-testid=connection-row]", WAIT).await.unwrap();
    let count_rows = "return document.querySelectorAll('[data-testid=connection-row]').length";
    let listening_rows = "return [...document.querySelectorAll('[data-testid=status]')].filter(e => e.textContent.includes('listening on')).length";
    // Before any probe: a connection to a listener starts a tunnel, and so a login.
    wait_js(&s, listening_rows, |v| v.as_u64() == Some(5), "the 5 connections listen (autostart)").await;
    for (name, _, _, addr) in &rows {
        assert!(listening(*addr), "{name} listens on {addr}");
    }

    // All lists each connection once (tag folders are closed while All is open).
    let n = s.execute(count_rows, json!([])).await.unwrap();
    assert_eq!(n.as_u64(), Some(5), "5 connections → 5 rows, not one per folder");

    // Search "redis": the staging folder shows only Redis staging; its Disconnect all must not
    // reach Postgres staging and Kafka staging, which the search hides.
    s.type_into(&s.find("input[type=search]").await.unwrap(), "redis").await.unwrap();
    let count = wait_js(
        &s,
        "return document.querySelector('[data-group=staging] .group-count')?.textContent ?? ''",
        |v| v.as_str().is_some_and(|t| t.contains("hidden by search")),
        "the staging folder says what it acts on",
    )
    .await;
    assert_eq!(count, "1 of 1 shown active · 2 hidden by search");
    shot(&s, "filtered-folder").await;
    click_xpath(&s, "//section[@data-group='staging']//button[normalize-space()='Disconnect all']").await;
    poll_until_blocking("Redis staging stops listening", Duration::from_secs(20), || {
        Ok((!listening(staging_redis)).then_some(()))
    })
    .expect("the shown row is disconnected");
    for (name, addr) in [("Postgres staging", staging_pg), ("Kafka staging", staging_kafka), ("Redis prod", prod_redis)]
    {
        assert!(listening(addr), "{name} (hidden by the search, or in no folder acted on) still listens on {addr}");
    }
    // Clear the search as a person's Backspace does (WebDriver's clear fires no input event,
    // so a re-render would put the old query back).
    s.execute(
        "const i = document.querySelector('input[type=search]'); i.value = ''; i.dispatchEvent(new Event('input', { bubbles: true }))",
        json!([]),
    )
    .await
    .unwrap();
    // The window agrees: only Redis staging is idle (the others listen, or wait for a login
    // since the probes above reached them).
    let states = "return Object.fromEntries([...document.querySelectorAll('[data-testid=connection-row]')].map(r => [r.dataset.name, r.querySelector('[data-testid=status]').textContent]))";
    let states = wait_js(
        &s,
        states,
        |v| v.as_object().is_some_and(|o| o.len() == 5 && o.get("Redis staging").is_some_and(|t| t == "idle")),
        "Redis staging shows idle",
    )
    .await;
    for (name, state) in states.as_object().unwrap() {
        assert!(name == "Redis staging" || state != "idle", "{name} is still up in the window: {states}");
    }

    // "Open login" runs PORTHOLE_BROWSER_CMD, as the automatic login did. Each login has its
    // own URL (its callback port); the probes above may have started and ended others, so the
    // test follows the URL the row's status carries, read from the app itself. There is one
    // login at a time per proxy: Postgres staging's tunnel starts (or joins) it, and Redis prod,
    // on the same proxy, waits on that login and must show it too, not "connecting…".
    let count = |url: &str| opened_times(&opened, url);
    let mut first = TcpStream::connect(staging_pg).unwrap();
    std::io::Write::write_all(&mut first, b"hello\r\n").unwrap();
    let shared = pending_login(&s, "Postgres staging", &opened).await;
    let mut client = TcpStream::connect(prod_redis).unwrap();
    std::io::Write::write_all(&mut client, b"PING\r\n").unwrap();
    let pending = pending_login(&s, "Redis prod", &opened).await;
    assert_eq!(pending, shared, "Redis prod waits on the login Postgres staging started (one per proxy)");
    let login_url = login_url_script("Redis prod");
    let login_state = "return document.querySelector('[data-testid=connection-row][data-name=\"Redis prod\"] [data-testid=status]').textContent";
    wait_js(&s, login_state, |v| v == "login required", "Redis prod waits for a login").await;
    click_xpath(
        &s,
        "//li[@data-testid='connection-row'][@data-name='Redis prod']//button[normalize-space()='Open login']",
    )
    .await;
    // The automatic login opens each URL once; a second opening of the URL the row carries is
    // Open login's (a probe's login may have been replaced by a newer one meanwhile).
    poll_until("Open login runs the browser command with the pending login's URL", WAIT, || async {
        let url = s.execute(&login_url, json!([])).await.unwrap_or_default();
        match url.as_str() {
            Some(u) if count(u) >= 2 => Ok(()),
            _ => Err(format!("status url {url} (first pending {pending})")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\nopened: {}", std::fs::read_to_string(&opened).unwrap_or_default()));
    drop((client, first));

    // Tags split on commas as typed and on Enter.
    s.execute("location.hash = '#/new'", json!([])).await.unwrap();
    let name = s.wait_for("#name", WAIT).await.unwrap();
    s.type_into(&name, "Tagged").await.unwrap();
    s.type_into(&s.find("#destination").await.unwrap(), "svc.corp.example.com:1234").await.unwrap();
    s.type_into(&s.find("#tags").await.unwrap(), "alpha,beta\u{E007}").await.unwrap();
    let chips = wait_js(
        &s,
        "return [...document.querySelectorAll('[data-testid=tag-chip]')].map(c => c.firstChild.textContent)",
        |v| v.as_array().is_some_and(|a| a.len() == 2),
        "two tag chips",
    )
    .await;
    assert_eq!(chips, json!(["alpha", "beta"]));
    shot(&s, "tags").await;
    let started = Instant::now();
    s.click(&s.find("button[type=submit]").await.unwrap()).await.unwrap();
    let saved = poll_until_blocking("the form saves", WAIT, || {
        let text = std::fs::read_to_string(config_dir.join("connections.json")).unwrap_or_default();
        Ok(text.contains("Tagged").then_some(text))
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let list = saved.get("profiles").or(Some(&saved)).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let tagged = list.iter().find(|p| p["name"] == "Tagged").unwrap_or_else(|| panic!("Tagged in {saved}"));
    assert_eq!(tagged["tags"], json!(["alpha", "beta"]), "two tags, not \"alpha,beta\"");
    println!("saved in {} ms", started.elapsed().as_millis());
    // The form opens the saved connection; only then back to the list (no race with it).
    wait_js(&s, "return location.hash", |v| v.as_str().is_some_and(|h| h.starts_with("#/connection/")), "detail view")
        .await;
    s.execute("location.hash = '#/'", json!([])).await.unwrap();
    wait_js(&s, count_rows, |v| v.as_u64() == Some(6), "6 connections → 6 rows under All").await;
    s.end().await;
}
