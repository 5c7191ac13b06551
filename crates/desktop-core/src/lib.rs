//! Porthole Desktop without its window. On Linux the app is two processes: `portholed` (this
//! crate: the tunnels, the tray, notifications) and the Tauri window (`porthole-desktop`), a
//! client that comes and goes. Closed to the tray, the app is only `portholed`: no GTK, no
//! WebKit. The window talks to it over a local socket ([`ipc`]) with the same commands the UI
//! invokes ([`commands`]).
//!
//! Everything here acts on the window through a [`Shell`]: `portholed`'s ([`daemon`]) pushes
//! over the socket and starts the window process; the Tauri app's (macOS, Windows, where the
//! window and the core share one process) calls Tauri directly.
#![forbid(unsafe_code)]

pub mod autostart;
pub mod commands;
#[cfg(target_os = "linux")]
pub mod daemon;
pub mod forward;
#[cfg(unix)]
pub mod ipc;
pub mod notify;
pub mod quit;
pub mod tray;

use std::sync::Arc;

use porthole_client::app::{App, AppOptions};
use porthole_client::tunnel_options;
use porthole_tunnel::auth::Browser;

pub use notify::Target;

/// The window's binary (Tauri), next to `portholed`.
pub const WINDOW_BINARY: &str = "porthole-desktop";
/// The core's binary (no window).
pub const DAEMON_BINARY: &str = "portholed";

/// The binary `name` (`WINDOW_BINARY`, `DAEMON_BINARY`) next to this one: the two are installed
/// side by side.
///
/// # Errors
/// When this program's path is unknown.
pub fn sibling_binary(name: &str) -> std::io::Result<std::path::PathBuf> {
    Ok(std::env::current_exe()?.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// What the core asks of the window, wherever it lives.
pub trait Shell: Send + Sync + 'static {
    /// Shows the window (opening it when it is closed), on `route` (`#/connection/<id>`,
    /// `#/new`) when given.
    fn show(&self, route: Option<&str>);
    /// Sends `name` with `payload` to the window's page, when a window is open.
    fn emit(&self, name: &str, payload: serde_json::Value);
    /// Ends the app: the window and every tunnel.
    fn exit(&self);
    /// `true` when a tray keeps the app reachable with the window closed.
    fn has_tray(&self) -> bool;
    /// Redraws the tray from the connections (nothing without a tray).
    fn refresh_tray(&self);
    /// Shows a notification whose click opens `target` where [`notify::send`] does not (not
    /// Linux); a courtesy: failures are logged.
    fn notify(&self, title: &str, body: &str, target: Target) {
        let _ = (title, body, target);
    }
}

/// The core and its shell: what every command and tray click needs.
#[derive(Clone)]
pub struct Cx {
    /// The connections, their tunnels and settings.
    pub core: App,
    /// The window, the tray and notifications.
    pub shell: Arc<dyn Shell>,
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

/// Logs to stderr at `LOG_LEVEL` (default `info`).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
