//! Tauri's tray, for the one-process app (macOS, Windows): [`porthole_client::tray_menu`]'s
//! model drawn with Tauri's tray icon ([`native`]), its clicks carried out by
//! `porthole_desktop_core::tray::run_action`. On Linux `portholed` draws the tray instead (a
//! StatusNotifierItem); this module still compiles there so it does not rot unseen.

use porthole_client::app::App;
use porthole_desktop_core::Cx;
use porthole_desktop_core::tray::wanted;
use tauri::{AppHandle, Runtime};

mod native;

/// Creates the tray; `false` when the desktop has none (or `PORTHOLE_TRAY=0`).
pub fn create<R: Runtime>(app: &AppHandle<R>, cx: &Cx) -> bool {
    if wanted() == Some(false) {
        return false;
    }
    match native::create(app, cx) {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(error = %e, "no system tray: the window stays the way in and out");
            false
        }
    }
}

/// Redraws the tray from the current connections.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, core: &App) {
    native::refresh(app, &porthole_client::tray_menu::tray_menu(&core.list_connections()));
}
