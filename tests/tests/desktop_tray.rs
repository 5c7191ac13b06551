//! The desktop app's tray and notifications with real parts, in a private session bus under
//! Xvfb: Debian's `status-notifier-watcher` and `gtk-sni-tray-standalone` (a tray host) for the
//! StatusNotifierItem, read and clicked over D-Bus as a host does ([`porthole_e2e::sni`]);
//! `dunst` as the notification daemon, watched with `dbus-monitor`, its action invoked with
//! `dunstctl`. The connections go through a real gateway to a real `redis-server`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use porthole_e2e::desktop::{PortholedGuard, tray_host, xvfb};
use porthole_e2e::redis::redis_ping;
use porthole_e2e::sni::{self, ItemAddr, MenuEntry};
use porthole_testkit::child::{KilledOnDrop, bin};
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::process::{free_port, spawn_redis};
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};

const WAIT: Duration = Duration::from_secs(60);

/// The runtime of the gateway and redis, whose tasks run on its workers. The tests themselves
/// run outside it: they block (polls, processes, zbus's blocking API: see
/// [`porthole_e2e::sni::off_runtime`]).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Saves connections the way the app does, before it starts.
fn save_profiles(config_dir: &Path, drafts: &[serde_json::Value]) {
    let mut options = porthole_client::app::AppOptions::from_env();
    options.config_dir = config_dir.to_path_buf();
    options.secrets = std::sync::Arc::new(porthole_client::secrets::MemorySecrets::default());
    let app = porthole_client::app::App::open(options).unwrap();
    for d in drafts {
        app.save_connection(&serde_json::from_value(d.clone()).unwrap()).unwrap();
    }
}

fn draft(name: &str, stack: &TestGateway, listen: &str, tags: &[&str], autostart: bool) -> serde_json::Value {
    serde_json::json!({
        "id": null, "name": name, "destination": "redis.corp.example.com:6379", "listenAddr": listen,
        "pomeriumUrl": stack.url(), "protocol": "tcp", "tags": tags, "caFile": stack.ca_path.display().to_string(),
        "disableTlsVerification": false, "clientCert": null, "autostart": autostart, "openWith": null
    })
}

/// The app under test: `PORTHOLE_DESKTOP_BIN`, as for the WebDriver suites, else this build's.
fn desktop_bin() -> String {
    std::env::var("PORTHOLE_DESKTOP_BIN").unwrap_or_else(|_| bin("porthole-desktop").display().to_string())
}

fn spawn(program: &str, args: &[&str], envs: &[(&str, String)], log: &Path) -> KilledOnDrop {
    let mut cmd = Command::new(program);
    cmd.args(args).envs(envs.iter().map(|(k, v)| (k, v)));
    KilledOnDrop::spawn(cmd, log).unwrap_or_else(|e| panic!("{program}: {e:#}"))
}

fn wait<T>(what: &str, mut f: impl FnMut() -> anyhow::Result<Option<T>>) -> T {
    poll_until_blocking(what, WAIT, &mut f).unwrap_or_else(|e| panic!("{e:#}"))
}

fn entry<'a>(menu: &'a [MenuEntry], label_start: &str) -> &'a MenuEntry {
    menu.iter().find(|e| e.label.starts_with(label_start)).unwrap_or_else(|| panic!("no {label_start:?} in {menu:#?}"))
}

/// The tray item on a real host: it registers, its tooltip counts in the window's words, its
/// menu lists each connection with its state, Disconnect all is greyed out with nothing active,
/// and clicking a connection connects it (a real `redis-cli PING` through its port), after
/// which the tooltip, the item's label, Disconnect all and the icon follow.
#[test]
fn tray_item_on_a_real_host_counts_lists_and_toggles() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("tray_item_on_a_real_host_counts_lists_and_toggles", Bus::Keyring, home.path(), &[]);
    }
    let rt = runtime();
    let redis = rt.block_on(spawn_redis()).expect("redis-server");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    allow_public_unauthenticated_access: true\n",
        redis.addr
    );
    let stack = rt.block_on(TestGateway::start(GatewayOpts { routes: &routes, ..GatewayOpts::default() })).unwrap();
    let (_x, display) = xvfb().unwrap();
    let dir = stack.dir.path();
    let port = free_port();
    let config_dir = dir.join("desktop-config");
    save_profiles(
        &config_dir,
        &[
            draft("Redis prod", &stack, &format!("127.0.0.1:{port}"), &["prod"], false),
            draft("Redis spare", &stack, "127.0.0.1:0", &[], false),
        ],
    );
    let bus = zbus::blocking::Connection::session().unwrap();
    let _tray = tray_host(&display, dir).unwrap();

    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", dir.join("desktop-cache").display().to_string()),
    ];
    // The tray is portholed's, which outlives the window: it ends with the test.
    let _portholed = PortholedGuard(dir.join("desktop-cache"));
    let mut app = spawn(&desktop_bin(), &[], &envs, &dir.join("desktop.log"));
    let item: ItemAddr = wait("the app's item registers with the watcher", || {
        assert!(app.running(), "the app exited:\n{}", app.log_tail());
        Ok(sni::items(&bus)?.into_iter().next())
    });
    let id = sni::string_property(&bus, &item, "Id").unwrap();
    assert!(id.contains("porthole"), "the item is the app's: {id}");
    assert_eq!(sni::tooltip(&bus, &item).unwrap(), ("Porthole".into(), "0 of 2 active".into()));
    assert_eq!(sni::string_property(&bus, &item, "Status").unwrap(), "Active");
    let idle_icon = sni::icon_pixmap(&bus, &item).unwrap();
    assert!(matches!(idle_icon.as_slice(), [(32, 32, px)] if px.len() == 32 * 32 * 4), "one 32 px ARGB icon");

    let menu = sni::menu(&bus, &item).unwrap();
    println!("tray menu: {menu:#?}");
    assert_eq!(entry(&menu, "Redis prod").label, "Redis prod — idle");
    assert_eq!(entry(&menu, "Redis prod").toggled, Some(false));
    assert_eq!(entry(&menu, "Redis spare").label, "Redis spare — idle");
    assert!(entry(&menu, "prod — 0 of 1 active").enabled);
    let disconnect_all = menu.iter().filter(|e| e.label == "Disconnect all").collect::<Vec<_>>();
    assert!(
        !disconnect_all.is_empty() && disconnect_all.iter().all(|e| !e.enabled),
        "nothing to disconnect: {menu:#?}"
    );
    for label in ["New connection…", "Open Porthole", "Load from server…", "Quit Porthole"] {
        assert!(entry(&menu, label).enabled, "{label}");
    }

    // A host's click on the connection connects it.
    sni::click(&bus, &item, entry(&menu, "Redis prod").id).unwrap();
    let want = format!("Redis prod — listening on 127.0.0.1:{port}");
    let menu = wait("the item's label says it listens", || {
        let menu = sni::menu(&bus, &item)?;
        Ok(menu.iter().any(|e| e.label == want).then_some(menu))
    });
    assert_eq!(redis_ping(port), "PONG", "redis through the connection the tray connected");
    assert_eq!(entry(&menu, &want).toggled, Some(true));
    assert!(menu.iter().filter(|e| e.label == "Disconnect all").any(|e| e.enabled), "{menu:#?}");
    assert_eq!(sni::tooltip(&bus, &item).unwrap().1, "1 of 2 active");
    assert_ne!(sni::icon_pixmap(&bus, &item).unwrap(), idle_icon, "the icon changes from idle to connected");

    // And a second click disconnects it.
    sni::click(&bus, &item, entry(&menu, &want).id).unwrap();
    wait("the item's label says idle again", || {
        Ok(sni::menu(&bus, &item)?.iter().any(|e| e.label == "Redis prod — idle").then_some(()))
    });
    assert_ne!(redis_ping(port), "PONG", "the port is closed");
    assert!(app.running(), "the app still runs:\n{}", app.log_tail());
}

/// The login-required notification, sent to a real notification daemon (`dunst`): it carries
/// the app's icon (an existing PNG as `app_icon` and the `image-path` hint) and a `default`
/// action; invoking that action (`dunstctl action`) opens the login page again.
#[test]
fn login_notification_has_the_icon_and_a_default_action() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("login_notification_has_the_icon_and_a_default_action", Bus::Keyring, home.path(), &[]);
    }
    let rt = runtime();
    let redis = rt.block_on(spawn_redis()).expect("redis-server");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n",
        redis.addr
    );
    let stack =
        rt.block_on(TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() })).unwrap();
    let (_x, display) = xvfb().unwrap();
    let dir = stack.dir.path();
    let port = free_port();
    let config_dir = dir.join("desktop-config");
    save_profiles(&config_dir, &[draft("Redis prod", &stack, &format!("127.0.0.1:{port}"), &[], true)]);

    // A "browser" that only records the URLs it is asked to open, so the login waits.
    let opened = dir.join("opened.txt");
    let browser = dir.join("browser.sh");
    std::fs::write(&browser, format!("#!/bin/sh\necho \"$1\" >> '{}'\n", opened.display())).unwrap();
    std::fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let bus = zbus::blocking::Connection::session().unwrap();
    let x = [("DISPLAY", display.clone())];
    let _dunst = spawn("dunst", &[], &x, &dir.join("dunst.log"));
    wait("dunst is the notification service", || {
        Ok(sni::has_owner(&bus, "org.freedesktop.Notifications")?.then_some(()))
    });
    let monitor_log = dir.join("monitor.log");
    let mut monitor = Command::new("dbus-monitor");
    monitor.args(["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"]);
    let _monitor = KilledOnDrop::spawn(monitor, &monitor_log).unwrap();

    let envs = [
        ("DISPLAY", display),
        ("PORTHOLE_CONFIG_DIR", config_dir.display().to_string()),
        ("PORTHOLE_CACHE_DIR", dir.join("desktop-cache").display().to_string()),
        ("PORTHOLE_BROWSER_CMD", browser.display().to_string()),
        ("PORTHOLE_TRAY", "0".into()),
    ];
    let mut app = spawn(&desktop_bin(), &[], &envs, &dir.join("desktop.log"));
    // The connection starts at launch; a client makes it log in.
    let _client = wait("the connection listens", || {
        assert!(app.running(), "the app exited:\n{}", app.log_tail());
        Ok(std::net::TcpStream::connect(("127.0.0.1", port)).ok())
    });
    let notify = wait("a Notify call with the login-required summary", || {
        let log = std::fs::read_to_string(&monitor_log).unwrap_or_default();
        Ok(log.split("method call").find(|call| call.contains("Porthole: login required")).map(str::to_owned))
    });
    println!("Notify call:{notify}");
    let strings: Vec<&str> =
        notify.lines().filter_map(|l| l.trim().strip_prefix("string \"")?.strip_suffix('"')).collect();
    // app_name, app_icon, summary, body, then the actions and hints.
    assert_eq!(strings[0], "Porthole", "app_name");
    let icon = Path::new(strings[1]);
    assert!(
        icon.is_absolute() && std::fs::read(icon).is_ok_and(|b| b.starts_with(b"\x89PNG")),
        "app_icon is a PNG: {icon:?}"
    );
    assert!(strings.contains(&"default"), "a default action: {strings:?}");
    assert!(strings.contains(&"image-path"), "the image-path hint: {strings:?}");

    let first = wait("the login page was opened once", || {
        let text = std::fs::read_to_string(&opened).unwrap_or_default();
        Ok((text.lines().count() == 1).then_some(text))
    });
    wait("dunst shows it", || {
        let out = Command::new("dunstctl").args(["count", "displayed"]).envs(x.iter().cloned()).output()?;
        Ok((String::from_utf8_lossy(&out.stdout).trim() != "0").then_some(()))
    });
    let status = Command::new("dunstctl").args(["action", "0"]).status().unwrap();
    assert!(status.success(), "dunstctl action");
    let both = wait("the notification's action opened the login page again", || {
        let text = std::fs::read_to_string(&opened).unwrap_or_default();
        Ok((text.lines().count() == 2).then_some(text))
    });
    let lines: Vec<&str> = both.lines().collect();
    assert_eq!(lines[1], first.trim(), "the same login URL");
}
