//! "Launch at login" on Linux, through the same IPC path as the Settings page: turning it on
//! writes the XDG autostart entry `~/.config/autostart/Porthole.desktop` that runs this very
//! binary; turning it off removes it. Runs in a child process with a temporary HOME.

use porthole_testkit::session::{Session, in_child, run_in_child};
use serde_json::{Value, json};
use tauri::WebviewWindow;
use tauri::test::MockRuntime;

mod support;

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Value {
    support::invoke(window, cmd, args).expect("the command succeeds")
}

#[cfg(target_os = "linux")]
#[test]
fn launch_at_login_writes_and_removes_the_xdg_autostart_entry() {
    if !in_child() {
        let home = tempfile::tempdir().unwrap();
        return run_in_child(
            "launch_at_login_writes_and_removes_the_xdg_autostart_entry",
            Session::Plain,
            home.path(),
            &[],
        );
    }
    let home = std::path::PathBuf::from(std::env::var_os("HOME").expect("the child has a HOME"));
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = support::mock_app(dir.path(), |b| b);

    // This HOME has no ~/.config, as a fresh account: auto-launch 0.5 creates only the last
    // directory level (docs/platforms.md), so the app makes the folder first.
    assert!(!home.join(".config").exists());
    let entry = home.join(".config/autostart/Porthole.desktop");
    assert!(!entry.exists(), "a fresh HOME has no autostart entry");
    let mut settings = invoke(&window, "get_settings", json!({}));
    settings["launchAtLogin"] = json!(true);
    assert_eq!(invoke(&window, "set_settings", json!({ "settings": settings }))["launchAtLogin"], true);
    let text = std::fs::read_to_string(&entry).unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
    let exe = std::env::current_exe().unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("Exec=") && l.contains(&*exe.to_string_lossy())),
        "the entry runs this binary ({}):\n{text}",
        exe.display()
    );
    assert!(text.lines().any(|l| l == "Name=Porthole"), "{text}");

    settings["launchAtLogin"] = json!(false);
    invoke(&window, "set_settings", json!({ "settings": settings }));
    assert!(!entry.exists(), "turning it off removes {}", entry.display());
}
