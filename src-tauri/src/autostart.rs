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

use tauri::Runtime;
use tauri::plugin::TauriPlugin;

/// The autostart plugin with this platform's launcher.
pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    let builder = tauri_plugin_autostart::Builder::new().app_name("Porthole");
    #[cfg(target_os = "macos")]
    let builder = builder.macos_launcher(tauri_plugin_autostart::MacosLauncher::LaunchAgent);
    builder.build()
}
