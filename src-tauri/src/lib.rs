//! Porthole Desktop's shell: Tauri plugins, one managed [`porthole_client::app::App`], thin
//! commands ([`commands`]), the tray ([`tray`]), and a task that forwards the app's events to
//! the window, the tray and OS notifications ([`forward`]). Everything else lives in
//! `porthole-client`, which the CLI shares.
#![forbid(unsafe_code)]

pub mod autostart;
pub mod commands;
pub mod forward;
pub mod tray;

use porthole_client::app::{App, AppOptions};
use porthole_client::tunnel_options;
use tauri::Manager;

/// The window's label.
pub const MAIN_WINDOW: &str = "main";

/// Adds every command to a builder; `run` and the tests (on Tauri's mock runtime) share it.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(commands::handler())
}

/// The app's options from the environment; `PORTHOLE_BROWSER_CMD` names a program to open login
/// URLs with instead of the system browser (chosen as the CLI chooses for `--browser-cmd`).
/// Every tunnel is then built by [`porthole_client::TunnelOptions`], as `porthole tcp` builds its.
pub fn options() -> AppOptions {
    let command = std::env::var("PORTHOLE_BROWSER_CMD").ok();
    AppOptions { browser: tunnel_options::browser(command.as_deref(), false), ..AppOptions::from_env() }
}

/// Shows and focuses the main window.
pub fn show_main<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Runs the desktop app.
///
/// # Panics
/// When the window system cannot start (Tauri's own failure mode).
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| show_main(app)))
        .plugin(autostart::plugin())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let core = App::open(options())?;
            app.manage(core.clone());
            let has_tray = tray::create(app.handle(), &core).is_ok();
            forward::spawn(app.handle().clone(), core.clone(), has_tray);
            tray::close_hides_when(app.handle(), has_tray);
            let started = core.clone();
            tauri::async_runtime::spawn(async move { started.autostart_all().await });
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("error while running Porthole");
}
