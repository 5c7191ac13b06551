//! Porthole Desktop's shell: Tauri plugins, one managed [`porthole_client::app::App`], thin
//! commands ([`commands`]), the tray ([`tray`]), the window's life ([`window`]: closed to the
//! tray, it is destroyed and built again on demand), notifications ([`notify`]), and a task that
//! forwards the app's events to the window, the tray and notifications ([`forward`]). Everything
//! else lives in `porthole-client`, which the CLI shares.
#![forbid(unsafe_code)]

pub mod autostart;
pub mod commands;
pub mod forward;
pub mod notify;
pub mod quit;
pub mod tray;
pub mod window;

use porthole_client::app::{App, AppOptions};
use porthole_client::tunnel_options;
use porthole_tunnel::auth::Browser;
use tauri::Manager;

pub use window::MAIN_WINDOW;

/// Adds every command to a builder; `run` and the tests (on Tauri's mock runtime) share it.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(commands::handler())
}

/// The app's options from the environment; `PORTHOLE_BROWSER_CMD` names a program to open login
/// URLs with instead of the system browser (chosen as the CLI chooses for `--browser-cmd`).
/// Every tunnel is then built by [`porthole_client::TunnelOptions`], as `porthole tcp` builds its.
pub fn options() -> AppOptions {
    AppOptions { browser: browser(), ..AppOptions::from_env() }
}

/// How login URLs are opened: `PORTHOLE_BROWSER_CMD`, else the system browser.
pub fn browser() -> Browser {
    let command = std::env::var("PORTHOLE_BROWSER_CMD").ok();
    tunnel_options::browser(command.as_deref(), false)
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
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| window::show(app, None)))
        .plugin(autostart::plugin())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(window::Lifecycle::default())
        .on_window_event(window::on_window_event)
        .setup(|app| {
            let core = App::open(options())?;
            app.manage(core.clone());
            let has_tray = tray::create(app.handle(), &core);
            window::set_tray(app.handle(), has_tray);
            forward::spawn(app.handle().clone(), core.clone(), has_tray);
            let started = core.clone();
            tauri::async_runtime::spawn(async move { started.autostart_all().await });
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("error while starting Porthole")
        .run(window::on_run_event);
}
