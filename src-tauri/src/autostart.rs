//! "Launch at login" per platform, through tauri-plugin-autostart ([`plugin`]); Settings turns
//! it on and off through the plugin's `AutoLaunchManager` (`commands::set_settings`).
//!
//! - macOS: a LaunchAgent, `~/Library/LaunchAgents/Porthole.plist`, that runs the binary inside
//!   the `.app` (the AppleScript login item would ask for Automation permission first).
//! - Windows: the current user's `Run` registry key, with the installed `.exe`'s path.
//! - Linux: an XDG autostart entry, `~/.config/autostart/Porthole.desktop`, whose `Exec` is the
//!   running binary (`/usr/bin/porthole-desktop` from the `.deb`, `$APPIMAGE` from an AppImage).
//!
//! The entry is named after the product name (tauri.conf.json), so every platform shows
//! "Porthole".

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager as _, Runtime};

/// The autostart plugin with this platform's launcher.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    let builder = tauri_plugin_autostart::Builder::new().app_name("Porthole");
    #[cfg(target_os = "macos")]
    let builder = builder.macos_launcher(tauri_plugin_autostart::MacosLauncher::LaunchAgent);
    builder.build()
}

/// Turns launch at login on or off; `Err` is a sentence for the person who asked.
///
/// On Linux the plugin's launcher creates `~/.config/autostart` but not `~/.config` (a fresh
/// account may have none), so the folder is made first.
pub fn apply<R: Runtime>(app: &AppHandle<R>, on: bool) -> Result<(), String> {
    let Some(launcher) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return Ok(());
    };
    #[cfg(target_os = "linux")]
    if on && let Some(home) = std::env::home_dir() {
        let dir = home.join(".config").join("autostart");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(format!("Could not turn on launch at login: cannot create {}: {e}", dir.display()));
        }
    }
    let applied = if on { launcher.enable() } else { launcher.disable() };
    applied.map_err(|e| format!("Could not turn {} launch at login: {e}", if on { "on" } else { "off" }))
}
