//! "Launch at login" on Linux, through the same IPC path as the Settings page: turning it on
//! writes the XDG autostart entry `~/.config/autostart/Porthole.desktop` that runs this very
//! binary; turning it off removes it. Runs in a child process with a temporary HOME.

use porthole_client::app::{App, AppOptions};
use porthole_testkit::session::{Session, in_child, run_in_child};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Value {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|b| b.deserialize::<Value>().expect("json")).expect("the command succeeds")
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
    let core = App::open(AppOptions::isolated(dir.path())).expect("app opens");
    let mut context = mock_context(noop_assets());
    for cmd in porthole_desktop::commands::COMMANDS {
        context.runtime_authority_mut().__allow_command((*cmd).to_owned(), tauri::utils::acl::ExecutionContext::Local);
    }
    let app = porthole_desktop::with_commands(mock_builder())
        .plugin(porthole_desktop::autostart::plugin())
        .build(context)
        .expect("builds");
    app.manage(core);
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");

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
