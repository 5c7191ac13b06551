//! Helpers for the token-store tests: running one test again in a child process with an
//! environment of its own (the library reads `PORTHOLE_*` and D-Bus variables, and a test may
//! not change its own process's environment), optionally inside a private D-Bus session with
//! a real Secret Service (`gnome-keyring-daemon`).

#![allow(dead_code, reason = "each test file uses a part of these helpers")]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in a child: the test body runs there instead of spawning again.
const CHILD_MARKER: &str = "PORTHOLE_TEST_CHILD";

/// `true` in a child started by [`run_in_child`].
pub fn in_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// The cache directory a child was given.
pub fn child_cache_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("PORTHOLE_CACHE_DIR").expect("a child always gets PORTHOLE_CACHE_DIR"))
}

/// Where a child runs: directly, or inside `dbus-run-session` with an unlocked keyring.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// No session bus is started (the caller's `envs` decide where D-Bus points).
    Plain,
    /// `dbus-run-session` + `gnome-keyring-daemon --unlock --components=secrets`.
    Keyring,
}

/// Runs test `name` of this test binary again in a child with `envs`, HOME and the XDG
/// directories inside `home`, `PORTHOLE_CACHE_DIR=<home>/cache`, and no inherited
/// `PORTHOLE_TOKEN_STORE` or session bus; panics unless the child ran that test and it passed.
pub fn run_in_child(name: &str, session: Session, home: &Path, envs: &[(&str, OsString)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match session {
        Session::Plain => {
            let mut c = Command::new(&exe);
            c.args(["--exact", name, "--nocapture", "--test-threads=1"]);
            c
        }
        Session::Keyring => {
            for tool in ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"] {
                assert!(on_path(tool), "{tool} is needed for the Secret Service tests: `make deps` installs it");
            }
            // An empty password makes gnome-keyring prompt (there is no display): give one.
            let script = "printf porthole-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                          && exec \"$0\" --exact \"$1\" --nocapture --test-threads=1";
            let mut c = Command::new("timeout");
            c.args(["120", "dbus-run-session", "--", "sh", "-c", script]).arg(&exe).arg(name);
            c
        }
    };
    for dir in ["data", "config", "xdg-cache", "run", "cache"] {
        std::fs::create_dir_all(home.join(dir)).expect("child directories");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(home.join("run"), std::fs::Permissions::from_mode(0o700)).expect("runtime dir mode");
    }
    cmd.env(CHILD_MARKER, "1")
        .env_remove("PORTHOLE_TOKEN_STORE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("PORTHOLE_CACHE_DIR", home.join("cache"));
    for (key, value) in envs {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("the child test process starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("test {name} ... ok")),
        "the child run of {name} must run that test and pass ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}
