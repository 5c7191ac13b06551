//! Running one test again in a child process with an environment of its own (the code under
//! test reads `PORTHOLE_*`, `HOME`, XDG and D-Bus variables, and a test may not change its
//! own process's environment), optionally inside a private D-Bus session with an unlocked
//! `gnome-keyring-daemon` (the real Secret Service).
//!
//! The one helper for both the token-store tests and the desktop app's tests:
//!
//! ```ignore
//! if !in_child() {
//!     let home = tempfile::tempdir().unwrap();
//!     return run_in_child("my_test", Session::Keyring, home.path(), &[]);
//! }
//! // the test body, in the child
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in a child: the test body runs there instead of spawning again.
const CHILD_MARKER: &str = "PORTHOLE_TEST_CHILD";

/// The longest a child run may take (`timeout` ends it after that).
const CHILD_DEADLINE_SECS: &str = "600";

/// `true` in a child started by [`run_in_child`].
#[must_use]
pub fn in_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// The cache directory a child was given (`PORTHOLE_CACHE_DIR`).
///
/// # Panics
/// Outside a child.
#[must_use]
pub fn child_cache_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("PORTHOLE_CACHE_DIR").expect("a child always gets PORTHOLE_CACHE_DIR"))
}

/// Where a child runs: directly, or inside `dbus-run-session` with an unlocked keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// No session bus is started (the caller's `envs` decide where D-Bus points).
    Plain,
    /// `dbus-run-session` + `gnome-keyring-daemon --unlock --components=secrets`.
    Keyring,
}

/// Runs test `name` of this test binary again in a child with `envs`, HOME and the XDG
/// directories inside `home`, `PORTHOLE_CACHE_DIR=<home>/cache`, and no inherited
/// `PORTHOLE_TOKEN_STORE` or session bus; prints the child's output and panics unless the
/// child ran that one test and it passed.
///
/// # Panics
/// When a tool is missing or the child run fails (its output is in the message).
pub fn run_in_child(name: &str, session: Session, home: &Path, envs: &[(&str, OsString)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new("timeout");
    cmd.arg(CHILD_DEADLINE_SECS);
    match session {
        Session::Plain => {
            cmd.arg(&exe).args(["--exact", name, "--nocapture", "--test-threads=1"]);
        }
        Session::Keyring => {
            for tool in ["dbus-run-session", "gnome-keyring-daemon", "secret-tool"] {
                assert!(on_path(tool), "{tool} is needed for the Secret Service tests: `make deps` installs it");
            }
            // An empty password makes gnome-keyring prompt (there is no display): give one.
            let script = "printf porthole-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                          && exec \"$0\" --exact \"$1\" --nocapture --test-threads=1";
            cmd.args(["dbus-run-session", "--", "sh", "-c", script]).arg(&exe).arg(name);
        }
    }
    for dir in ["data", "config", "xdg-cache", "run", "cache"] {
        std::fs::create_dir_all(home.join(dir)).expect("child directories");
    }
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
    let out = cmd.output().expect("the child test process starts (`timeout` is in coreutils)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(name) && stdout.contains("test result: ok. 1 passed"),
        "the child run of {name} must run that test and pass ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    print!("{stdout}");
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}
