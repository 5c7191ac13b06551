//! The desktop app's Debian package, as a user gets it: `make package-debug` bundles the debug
//! binary with the Tauri bundler into `target/debug/bundle/deb/` (`PORTHOLE_DEB` names another
//! `.deb`). The tests read its control fields and contents, check that its Depends cover every
//! library the binary loads, let apt decide whether it installs, and start the app extracted
//! from it under Xvfb until its window is mapped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use porthole_e2e::desktop::{find_pid, xvfb};
use porthole_testkit::child::KilledOnDrop;
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::session::{Session as Bus, in_child, run_in_child};

/// What the package must depend on by name: WebKitGTK and GTK (the window), and the tray
/// library, which the app loads with `dlopen` (no linker check would notice it missing).
const REQUIRED_DEPENDS: [&str; 3] = ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libayatana-appindicator3-1"];

/// The `.deb` under test: `PORTHOLE_DEB`, else the one `make package-debug` writes.
fn deb() -> PathBuf {
    let path = std::env::var_os("PORTHOLE_DEB").map_or_else(
        || {
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
            let arch = run("dpkg", &["--print-architecture"]);
            let name = format!("Porthole_{}_{}.deb", env!("CARGO_PKG_VERSION"), arch.trim());
            profile_dir.join("bundle/deb").join(name)
        },
        PathBuf::from,
    );
    assert!(path.is_file(), "{} is missing: run `make package-debug` (make test does) first", path.display());
    path
}

/// Runs a program to completion and returns its stdout; panics with its stderr when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One control field of the package.
fn field(deb: &Path, name: &str) -> String {
    run("dpkg-deb", &["-f", &deb.to_string_lossy(), name]).trim().to_owned()
}

/// The package names of a Depends value (`a, b (>= 1) | c` gives a, b and c).
fn depends_names(depends: &str) -> Vec<String> {
    depends
        .split([',', '|'])
        .filter_map(|d| d.split_whitespace().next())
        .map(|d| d.split(':').next().unwrap_or(d).to_owned())
        .collect()
}

/// The package unpacked into a new temporary directory.
fn extracted(deb: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    run("dpkg-deb", &["-x", &deb.to_string_lossy(), &root.path().to_string_lossy()]);
    root
}

#[test]
fn deb_has_its_control_fields_binary_desktop_entry_and_icons() {
    let deb = deb();
    assert_eq!(field(&deb, "Package"), "porthole");
    assert_eq!(field(&deb, "Version"), env!("CARGO_PKG_VERSION"), "tauri.conf.json's version is the workspace's");
    assert_eq!(field(&deb, "Architecture"), run("dpkg", &["--print-architecture"]).trim());
    assert_eq!(field(&deb, "Section"), "net");
    assert!(field(&deb, "Description").starts_with("Saved Pomerium TCP tunnels"), "the short description");
    let depends = depends_names(&field(&deb, "Depends"));
    for name in REQUIRED_DEPENDS {
        assert!(depends.iter().any(|d| d == name), "Depends must name {name}: {depends:?}");
    }

    let root = extracted(&deb);
    let bin = root.path().join("usr/bin/porthole-desktop");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&bin).expect("usr/bin/porthole-desktop").permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "the binary is executable by everyone");
    let core = root.path().join("usr/bin/portholed");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&core).expect("usr/bin/portholed (the app with its window closed)").permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "portholed is executable by everyone");
    let entry = std::fs::read_to_string(root.path().join("usr/share/applications/Porthole.desktop"))
        .expect("a desktop entry in usr/share/applications");
    for line in ["Name=Porthole", "Exec=porthole-desktop", "Icon=porthole-desktop", "Type=Application"] {
        assert!(entry.lines().any(|l| l == line), "the desktop entry lacks {line:?}:\n{entry}");
    }
    assert!(entry.lines().any(|l| l.starts_with("Categories=") && l.contains("Development")), "{entry}");
    for size in ["32x32", "128x128", "512x512"] {
        let icon = root.path().join(format!("usr/share/icons/hicolor/{size}/apps/porthole-desktop.png"));
        let bytes = std::fs::read(&icon).unwrap_or_else(|e| panic!("{}: {e}", icon.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", icon.display());
    }
}

/// Every shared library the packaged binary links must come from a package that the Depends
/// bring in (directly or through their own dependencies), so a machine without the build's
/// `-dev` packages can run it.
#[test]
fn deb_depends_cover_every_linked_library() {
    let deb = deb();
    let root = extracted(&deb);
    let ldd = run("ldd", &[&root.path().join("usr/bin/porthole-desktop").to_string_lossy()]);
    assert!(!ldd.contains("not found"), "every linked library resolves on this machine:\n{ldd}");
    let libs: BTreeSet<String> = ldd
        .lines()
        .filter_map(|l| l.split_once("=> ")?.1.split_whitespace().next())
        .map(|lib| std::fs::canonicalize(lib).unwrap_or_else(|e| panic!("{lib}: {e}")).to_string_lossy().into_owned())
        .collect();
    // Debian's merged /usr: dpkg may know a file under /lib rather than /usr/lib.
    let mut owners = owning_packages(&libs);
    let unowned: BTreeSet<String> = libs
        .iter()
        .filter(|l| !owners.contains_key(*l))
        .map(|l| l.strip_prefix("/usr").unwrap_or(l).to_owned())
        .collect();
    owners.extend(owning_packages(&unowned));
    let orphans: Vec<&String> = unowned.iter().filter(|l| !owners.contains_key(*l)).collect();
    assert!(orphans.is_empty(), "no package owns {orphans:?}");
    let needed: BTreeSet<String> = owners.into_values().collect();
    let depends = depends_names(&field(&deb, "Depends"));
    let mut args = vec!["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks"];
    args.extend(["--no-replaces", "--no-enhances"]);
    args.extend(depends.iter().map(String::as_str));
    let closure: BTreeSet<String> = run("apt-cache", &args)
        .lines()
        .map(|l| l.trim().trim_start_matches("|Depends:").trim_start_matches("Depends:").trim())
        .map(|l| l.trim_matches(['<', '>']).split(':').next().unwrap_or_default().to_owned())
        .collect();
    let missing: Vec<&String> = needed.iter().filter(|p| !closure.contains(*p)).collect();
    assert!(missing.is_empty(), "linked but not brought in by Depends {depends:?}: {missing:?}");
    assert!(needed.len() > 20, "ldd listed the WebKit stack: {needed:?}");
}

/// The owning package of each of `files` that dpkg knows (one `dpkg -S` call: one per file
/// takes a second each on a slow machine).
fn owning_packages(files: &BTreeSet<String>) -> BTreeMap<String, String> {
    if files.is_empty() {
        return BTreeMap::new();
    }
    // dpkg -S exits 1 when one file is unknown but still prints the others: read its stdout.
    let out = Command::new("dpkg").arg("-S").args(files).output().expect("dpkg -S");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.rsplit_once(": "))
        .filter(|(_, file)| files.contains(*file))
        .map(|(pkgs, file)| (file.to_owned(), pkgs.split([',', ':']).next().unwrap_or_default().trim().to_owned()))
        .collect()
}

/// apt resolves the package's dependencies against this machine's package lists and would
/// install it (a simulation: nothing changes on the machine).
#[test]
fn deb_installs_with_apt() {
    let deb = std::fs::canonicalize(deb()).expect("absolute path");
    let out = run("apt-get", &["install", "--simulate", "--no-install-recommends", &deb.to_string_lossy()]);
    assert!(
        out.lines().any(|l| l.starts_with("Inst porthole ")) || out.contains("porthole is already the newest version"),
        "apt would install porthole:\n{out}"
    );
}

/// The binary from the package (not the build tree) starts under Xvfb and maps its main window
/// titled "Porthole" at its configured size, then stops on SIGTERM.
#[test]
fn app_from_deb_starts_and_maps_its_window() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child("app_from_deb_starts_and_maps_its_window", Bus::Keyring, home.path(), &[]);
    }
    let root = extracted(&deb());
    let (_xvfb, display) = xvfb().expect("Xvfb");
    let dir = tempfile::tempdir().unwrap();
    let bin = root.path().join("usr/bin/porthole-desktop");
    let mut cmd = Command::new(&bin);
    cmd.env("DISPLAY", &display).env("PORTHOLE_CONFIG_DIR", dir.path().join("config"));
    let mut app = KilledOnDrop::spawn(cmd, &dir.path().join("app.log")).expect("the packaged binary starts");
    let window = poll_until_blocking("map the Porthole window", Duration::from_secs(60), || {
        anyhow::ensure!(app.running(), "the app exited: {:?}\n{}", app.try_wait(), app.log_tail());
        let tree = run("xwininfo", &["-root", "-tree", "-display", &display]);
        Ok(tree.lines().find(|l| l.contains("\"Porthole\": (\"porthole-desktop\"")).map(str::to_owned))
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    println!("window: {}", window.trim());
    let size = window.split_whitespace().find_map(|w| w.split_once('+').map(|(s, _)| s.to_owned())).unwrap_or_default();
    let (w, h) = size.split_once('x').map(|(w, h)| (w.parse().unwrap_or(0), h.parse().unwrap_or(0))).unwrap_or((0, 0));
    assert!(w >= 640 && h >= 480, "the window has at least its minimum size (640x480): {window}");
    let exe = std::fs::read_link(format!("/proc/{}/exe", app.id())).expect("the app's executable");
    assert_eq!(exe, bin, "the running app is the packaged binary");
    // The window started the packaged portholed, which holds the tunnels.
    let core = root.path().join("usr/bin/portholed");
    let running_core = || find_pid(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == core));
    assert!(running_core().is_some(), "the packaged portholed runs next to the window");
    app.terminate(Duration::from_secs(20)).expect("the app stops on SIGTERM");
    // No tray on this display: the window was the way in, so portholed ends with it.
    poll_until_blocking("portholed ends with the window (no tray)", Duration::from_secs(20), || {
        Ok(running_core().is_none().then_some(()))
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
}
