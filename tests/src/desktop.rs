//! Running the real desktop app for tests: a private session bus with an unlocked
//! `gnome-keyring-daemon` (the real keychain), `Xvfb` (the real window), and `tauri-driver` +
//! `WebKitWebDriver` to drive it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::bin;

/// Env marker: set inside the private session bus.
const INNER: &str = "PORTHOLE_DESKTOP_E2E_INNER";

/// Runs the current test again inside `dbus-run-session` with an unlocked gnome-keyring and a
/// private `HOME`, and returns `true` in the outer process once the inner run passed (the
/// caller then returns). Returns `false` inside, where the test body runs.
///
/// # Panics
/// When the inner run fails (its output is in the message).
#[must_use]
pub fn in_private_session(test_name: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return false;
    }
    let home = tempfile::tempdir().expect("temp HOME");
    let exe = std::env::current_exe().expect("test executable");
    let out = Command::new("timeout")
        .arg("600")
        .arg("dbus-run-session")
        .arg("--")
        .arg("sh")
        .arg("-c")
        .arg("printf porthole-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$0\" --exact \"$1\" --nocapture --test-threads 1")
        .arg(&exe)
        .arg(test_name)
        .env(INNER, "1")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("dbus-run-session (make test installs dbus-daemon and gnome-keyring)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(test_name) && stdout.contains("test result: ok. 1 passed"),
        "the test inside the private session failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    print!("{stdout}");
    true
}

/// A child killed on drop.
pub struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `Xvfb` on a display it picks itself (`-displayfd`, so parallel tests never race for
/// one); returns it and the `DISPLAY` value.
///
/// # Errors
/// When Xvfb is missing or does not report its display.
pub fn xvfb() -> anyhow::Result<(Proc, String)> {
    use std::io::BufRead as _;
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("Xvfb (make test installs xvfb)")?;
    let stdout = child.stdout.take().context("Xvfb stdout")?;
    let proc = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).context("Xvfb did not report a display")?;
    let n: u32 = line.trim().parse().with_context(|| format!("Xvfb said {line:?}"))?;
    Ok((proc, format!(":{n}")))
}

/// Starts `tauri-driver` on a free port with `envs` for the app; returns it and its URL.
///
/// # Errors
/// When tauri-driver is missing or does not listen.
pub fn tauri_driver(envs: &[(&str, String)], log: &Path) -> anyhow::Result<(Proc, String)> {
    let port = porthole_testkit::process::free_port();
    let native = porthole_testkit::process::free_port();
    let driver = which("tauri-driver").context("tauri-driver (make test installs it with cargo install)")?;
    let mut cmd = Command::new(driver);
    cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let file = std::fs::File::create(log)?;
    let child = cmd.stdin(Stdio::null()).stdout(file.try_clone()?).stderr(file).spawn()?;
    let proc = Proc(child);
    // tauri-driver forwards to the WebKitWebDriver it starts on `native`: wait for both, or the
    // first session request can reach a driver that is not listening yet.
    for p in [port, native] {
        porthole_testkit::eventually::poll_until_blocking(&format!("listen on {p}"), Duration::from_secs(20), || {
            Ok(std::net::TcpStream::connect(("127.0.0.1", p)).is_ok().then_some(()))
        })
        .context("tauri-driver (or its WebKitWebDriver)")?;
    }
    Ok((proc, format!("http://127.0.0.1:{port}")))
}

fn which(name: &str) -> Option<PathBuf> {
    let home_bin =
        std::env::var_os("CARGO_HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root/.cargo")).join("bin");
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([home_bin])
        .map(|d| d.join(name))
        .find(|p| p.exists())
}

/// WebDriver capabilities that launch the built `porthole-desktop` (`PORTHOLE_DESKTOP_BIN`
/// names another build, e.g. the release one for measurements).
#[must_use]
pub fn capabilities() -> serde_json::Value {
    let app = std::env::var_os("PORTHOLE_DESKTOP_BIN").map_or_else(|| bin("porthole-desktop"), PathBuf::from);
    serde_json::json!({ "browserName": "wry", "tauri:options": { "application": app } })
}

/// Resident memory (KiB) of `root` and all its descendants (the app and its WebKit processes).
#[must_use]
pub fn tree_rss_kib(root: u32) -> (u64, Vec<(u32, String, u64)>) {
    let mut parents = std::collections::HashMap::new();
    let mut info = std::collections::HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
            let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_owned());
            let ppid: u32 = field("PPid:").and_then(|v| v.parse().ok()).unwrap_or(0);
            let rss: u64 =
                field("VmRSS:").and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok())).unwrap_or(0);
            parents.insert(pid, ppid);
            info.insert(pid, (field("Name:").unwrap_or_default(), rss));
        }
    }
    let mut procs = Vec::new();
    for (&pid, (name, rss)) in &info {
        let mut p = pid;
        while p != 0 && p != root {
            p = parents.get(&p).copied().unwrap_or(0);
        }
        if p == root {
            procs.push((pid, name.clone(), *rss));
        }
    }
    (procs.iter().map(|p| p.2).sum(), procs)
}

/// Proportional set size (KiB) of a process: its private pages plus its share of pages it
/// shares (libraries mapped by several WebKit processes count once overall, unlike RSS).
#[must_use]
pub fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| l.strip_prefix("Pss:").and_then(|v| v.split_whitespace().next()?.parse().ok()))
        })
        .unwrap_or(0)
}

/// The pid of the running `porthole-desktop` started by this test's driver.
#[must_use]
pub fn app_pid(driver_pid_root: u32) -> Option<u32> {
    tree_rss_kib(driver_pid_root).1.into_iter().find(|(_, name, _)| name.starts_with("porthole-deskto")).map(|p| p.0)
}

impl Proc {
    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

/// Checks a PNG is a real rendering: decodes, is at least 400×300, and has many colours.
///
/// # Errors
/// When it is not a PNG or looks blank.
pub fn check_rendered(png_bytes: &[u8]) -> anyhow::Result<(u32, u32, usize)> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("png size")?];
    let frame = reader.next_frame(&mut buf)?;
    let bytes = &buf[..frame.buffer_size()];
    let step = frame.color_type.samples();
    let mut colours = std::collections::HashSet::new();
    for px in bytes.chunks(step).step_by(97) {
        colours.insert(px.to_vec());
    }
    anyhow::ensure!(frame.width >= 400 && frame.height >= 300, "too small: {}x{}", frame.width, frame.height);
    anyhow::ensure!(colours.len() >= 8, "looks blank: {} colours", colours.len());
    Ok((frame.width, frame.height, colours.len()))
}
