//! Running the real desktop app for tests: `Xvfb` (the real window), and `tauri-driver` +
//! `WebKitWebDriver` to drive it. The tests run inside a private session bus with an unlocked
//! `gnome-keyring-daemon` (the real keychain) through [`porthole_testkit::session`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use porthole_testkit::child::{KilledOnDrop, bin};

/// Starts `Xvfb` on a display it picks itself (`-displayfd`, so parallel tests never race for
/// one); returns it and the `DISPLAY` value.
///
/// # Errors
/// When Xvfb is missing or does not report its display.
pub fn xvfb() -> anyhow::Result<(KilledOnDrop, String)> {
    use std::io::BufRead as _;
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("Xvfb (make test installs xvfb)")?;
    let stdout = child.stdout.take().context("Xvfb stdout")?;
    let proc = KilledOnDrop::adopt(child);
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
pub fn tauri_driver(envs: &[(&str, String)], log: &Path) -> anyhow::Result<(KilledOnDrop, String)> {
    let port = porthole_testkit::process::free_port();
    let native = porthole_testkit::process::free_port();
    let driver = which("tauri-driver").context("tauri-driver (make test installs it with cargo install)")?;
    let mut cmd = Command::new(driver);
    cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let proc = KilledOnDrop::spawn(cmd, log)?;
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

/// The `portholed` serving the app whose cache folder is `cache_dir` (its socket lives there),
/// found by its name and its `PORTHOLE_CACHE_DIR`: the window starts it in a process group of
/// its own, and it outlives the window, so it is not under the driver's tree for long.
#[must_use]
pub fn portholed(cache_dir: &Path) -> Option<u32> {
    let wanted = format!("PORTHOLE_CACHE_DIR={}", cache_dir.display());
    find_pid(|pid| {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        comm.trim() == "portholed" && env.split(|b| *b == 0).any(|v| v == wanted.as_bytes())
    })
}

/// The first running process (from `/proc`) that `matches`.
#[must_use]
pub fn find_pid(matches: impl Fn(u32) -> bool) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
        matches(pid).then_some(pid)
    })
}

/// Ends the `portholed` of `cache_dir` when dropped (with a tray it outlives the window, and
/// so the test).
pub struct PortholedGuard(pub PathBuf);

impl Drop for PortholedGuard {
    fn drop(&mut self) {
        if let Some(pid) = portholed(&self.0) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The pid of the running `porthole-desktop` started by this test's driver.
#[must_use]
pub fn app_pid(driver_pid_root: u32) -> Option<u32> {
    tree_rss_kib(driver_pid_root).1.into_iter().find(|(_, name, _)| name.starts_with("porthole-deskto")).map(|p| p.0)
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

/// A tray on the test's session bus: Debian's `status-notifier-watcher` and the
/// `gtk-sni-tray-standalone` host on `display`, both registered when this returns (logs in `dir`).
///
/// # Errors
/// When either is missing or does not register within 30 s.
pub fn tray_host(display: &str, dir: &Path) -> anyhow::Result<[KilledOnDrop; 2]> {
    crate::sni::off_runtime(|| tray_host_here(display, dir))
}

fn tray_host_here(display: &str, dir: &Path) -> anyhow::Result<[KilledOnDrop; 2]> {
    let bus = zbus::blocking::Connection::session().context("the session bus")?;
    let spawn = |program: &str| {
        let mut cmd = Command::new(program);
        cmd.env("DISPLAY", display);
        KilledOnDrop::spawn(cmd, &dir.join(format!("{program}.log")))
            .with_context(|| format!("{program} (make deps installs it)"))
    };
    let within = Duration::from_secs(30);
    let watcher = spawn("status-notifier-watcher")?;
    porthole_testkit::eventually::poll_until_blocking("the StatusNotifierWatcher is on the bus", within, || {
        Ok(crate::sni::has_owner(&bus, "org.kde.StatusNotifierWatcher")?.then_some(()))
    })?;
    let host = spawn("gtk-sni-tray-standalone")?;
    porthole_testkit::eventually::poll_until_blocking("the tray host registers", within, || {
        Ok(crate::sni::host_registered(&bus).unwrap_or(false).then_some(()))
    })?;
    Ok([watcher, host])
}

/// Where a process's PSS is (KiB), largest first: each mapped file by its name, anonymous memory
/// (heap, stacks) as `[anon]`; from `/proc/<pid>/smaps`.
#[must_use]
pub fn pss_by_mapping(pid: u32) -> Vec<(String, u64)> {
    let mut by: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut current = String::from("[anon]");
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or_default();
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let name = parts.nth(4).unwrap_or("[anon]");
            let name = if name.starts_with('/') {
                name.rsplit('/').next().unwrap_or(name).split(".so").next().unwrap_or(name).to_owned()
            } else {
                "[anon]".to_owned()
            };
            current = name;
        } else if first == "Pss:" {
            *by.entry(current.clone()).or_default() += parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    let mut out: Vec<(String, u64)> = by.into_iter().collect();
    out.sort_by_key(|e| std::cmp::Reverse(e.1));
    out
}
