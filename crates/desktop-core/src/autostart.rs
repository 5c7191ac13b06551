//! "Launch at login" per platform, with the `auto-launch` crate; Settings turns it on and off
//! (`commands::set_settings`).
//!
//! - macOS: a LaunchAgent, `~/Library/LaunchAgents/Porthole.plist`, that runs the binary inside
//!   the `.app` (the AppleScript login item would ask for Automation permission first).
//! - Windows: the current user's `Run` registry key, with the installed `.exe`'s path.
//! - Linux: an XDG autostart entry, `~/.config/autostart/Porthole.desktop`, whose `Exec` is the
//!   window's binary (`/usr/bin/porthole-desktop` from the `.deb`, `$APPIMAGE` from an AppImage),
//!   which starts `portholed` when it is not running.
//!
//! The entry is named after the product, so every platform shows "Porthole".

use std::path::PathBuf;

/// The entry's name.
const APP_NAME: &str = "Porthole";

/// What the entry runs: the AppImage, else the window's binary (`portholed` runs it from its
/// own folder), else this binary.
pub fn launcher_path() -> Option<PathBuf> {
    if cfg!(target_os = "linux")
        && let Some(appimage) = std::env::var_os("APPIMAGE")
    {
        return Some(PathBuf::from(appimage));
    }
    let exe = std::env::current_exe().ok()?;
    if exe.file_stem().is_some_and(|s| s == crate::DAEMON_BINARY)
        && let Ok(window) = crate::sibling_binary(crate::WINDOW_BINARY)
        && window.is_file()
    {
        return Some(window);
    }
    Some(exe)
}

/// Turns launch at login on or off; `Err` is a sentence for the person who asked.
///
/// On Linux `auto-launch` creates `~/.config/autostart` but not `~/.config` (a fresh account may
/// have none), so the folder is made first.
pub fn apply(on: bool) -> Result<(), String> {
    let what = if on { "on" } else { "off" };
    let path = launcher_path()
        .ok_or_else(|| format!("Could not turn {what} launch at login: this program's path is unknown"))?;
    #[cfg(target_os = "linux")]
    if on && let Some(home) = std::env::home_dir() {
        let dir = home.join(".config").join("autostart");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return Err(format!("Could not turn on launch at login: cannot create {}: {e}", dir.display()));
        }
    }
    let mut builder = auto_launch::AutoLaunchBuilder::new();
    builder.set_app_name(APP_NAME).set_app_path(&path.display().to_string());
    #[cfg(target_os = "macos")]
    builder.set_use_launch_agent(true);
    let launcher = builder.build().map_err(|e| format!("Could not turn {what} launch at login: {e}"))?;
    let applied = if on { launcher.enable() } else { launcher.disable() };
    applied.map_err(|e| format!("Could not turn {what} launch at login: {e}"))
}
