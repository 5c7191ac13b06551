//! `portholed` on its own, as the window process meets it, over its real socket: the folder and
//! socket are the user's only, a peer that never says hello is dropped, a second window is told
//! it is busy (and the first is shown), commands run with the UI's names and arguments, peers are
//! capped, a hostile line costs nothing, and without a tray the window leaving ends `portholed`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use porthole_desktop_core::ipc::{self, ToCore, ToWindow};
use porthole_testkit::child::{KilledOnDrop, bin};
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

const WAIT: Duration = Duration::from_secs(20);

struct Peer {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl Peer {
    async fn connect(socket: &Path) -> Self {
        let (r, w) = UnixStream::connect(socket).await.expect("portholed listens").into_split();
        Self { r: BufReader::new(r), w, buf: Vec::new() }
    }

    async fn send(&mut self, msg: &ToCore) {
        ipc::write(&mut self.w, msg).await.unwrap();
    }

    async fn next(&mut self) -> Option<ToWindow> {
        tokio::time::timeout(WAIT, ipc::read(&mut self.r, &mut self.buf)).await.expect("an answer in time").unwrap()
    }

    async fn call(
        &mut self,
        id: u64,
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        self.send(&ToCore::Call { id, cmd: cmd.into(), args }).await;
        loop {
            match self.next().await.expect("portholed answers") {
                ToWindow::Reply { id: got, result } if got == id => {
                    return result.map_err(|e| serde_json::to_value(e).unwrap());
                }
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portholed_serves_one_window_and_shrugs_off_hostile_peers() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child(
            "portholed_serves_one_window_and_shrugs_off_hostile_peers",
            Bus::Keyring,
            home.path(),
            &[],
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut cmd = Command::new(bin("portholed"));
    cmd.env("PORTHOLE_CONFIG_DIR", dir.path().join("config"))
        .env("PORTHOLE_CACHE_DIR", &cache)
        .env("PORTHOLE_TRAY", "0");
    let mut daemon = KilledOnDrop::spawn(cmd, &dir.path().join("portholed.log")).unwrap();
    let socket = ipc::socket_path_for(&cache, &dir.path().join("config"));
    poll_until_blocking("portholed listens on its socket", WAIT, || Ok(socket.exists().then_some(())))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", daemon.log()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "the socket is the user's only");
    assert_eq!(mode(&cache), 0o700, "so is its folder");

    // A peer that never says hello is dropped, and costs the window nothing.
    let mut mute = Peer::connect(&socket).await;
    let mut window = Peer::connect(&socket).await;
    window.send(&ToCore::Hello).await;
    assert_eq!(window.next().await, Some(ToWindow::Welcome { tray: false }));
    let mut byte = [0u8; 1];
    let dropped = tokio::time::timeout(WAIT, mute.r.read(&mut byte)).await.expect("the mute peer is dropped in time");
    assert!(matches!(dropped, Ok(0) | Err(_)), "the mute peer's stream ends: {dropped:?}");

    // Commands by the UI's names, with camelCase arguments and `{code, message, fields}` errors.
    assert_eq!(window.call(1, "list_connections", json!({})).await, Ok(json!([])));
    let draft = json!({
        "id": null, "name": "Redis", "destination": "redis.corp.example.com:6379", "listenAddr": null,
        "pomeriumUrl": "https://proxy.corp.example.com", "protocol": "tcp", "tags": [], "caFile": null,
        "disableTlsVerification": false, "clientCert": null, "autostart": false, "openWith": null
    });
    let saved = window.call(2, "save_connection", json!({ "draft": draft })).await.unwrap();
    assert_eq!(saved["name"], "Redis");
    let bad = window.call(3, "close_session", json!({ "id": saved["id"], "sessionId": "seven" })).await.unwrap_err();
    assert_eq!(bad["code"], "invalid", "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("sessionId"), "names the argument: {bad}");
    let unknown = window.call(4, "format_disk", json!({})).await.unwrap_err();
    assert_eq!(unknown["code"], "not_found", "{unknown}");

    // A second window (a second launch) is told it is busy, and the first is brought forward.
    let mut second = Peer::connect(&socket).await;
    second.send(&ToCore::Hello).await;
    assert_eq!(second.next().await, Some(ToWindow::Busy));
    assert_eq!(window.next().await, Some(ToWindow::Show { route: None }));

    // Peers are capped: with the cap's worth of mute peers connected, one more is closed at
    // once (not after the hello timeout), and the window is still served.
    let mut mutes = Vec::new();
    for _ in 1..porthole_desktop_core::daemon::PEERS_AT_ONCE {
        mutes.push(Peer::connect(&socket).await);
    }
    let mut extra = Peer::connect(&socket).await;
    let closed = tokio::time::timeout(Duration::from_secs(2), extra.r.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "the peer over the cap is closed at once: {closed:?}");
    assert_eq!(window.call(5, "list_connections", json!({})).await.map(|l| l.as_array().map(Vec::len)), Ok(Some(1)));
    drop(mutes);

    // A line over the limit, or garbage, from a peer that is not the window changes nothing.
    let mut hostile = Peer::connect(&socket).await;
    let _ = hostile.w.write_all(&vec![b'x'; ipc::MAX_LINE + 2]).await;
    let mut garbage = Peer::connect(&socket).await;
    garbage.w.write_all(b"{\"call\": nonsense}\n").await.unwrap();
    let list = window.call(6, "list_connections", json!({})).await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "the window is still served: {list}");

    // No tray: the window leaving is the app closing.
    drop(window);
    poll_until_blocking("portholed ends with its window (no tray)", WAIT, || Ok(daemon.try_wait()))
        .unwrap_or_else(|e| panic!("{e:#}\n{}", daemon.log()));
    assert!(!socket.exists(), "its socket goes with it");
}

/// `portholed` is what stays when the window closes: it must not load GTK or WebKit (tens of
/// MiB of relocated library pages before it does anything), so it links only the C runtime.
#[test]
fn portholed_links_no_gui_library() {
    let out = Command::new("ldd").arg(bin("portholed")).output().expect("ldd (libc-bin)");
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && libs.contains("libc.so"), "ldd lists the libraries:\n{libs}");
    for gui in ["gtk", "gdk", "webkit", "javascriptcore", "soup", "ayatana"] {
        assert!(!libs.contains(gui), "portholed links {gui}:\n{libs}");
    }
}
