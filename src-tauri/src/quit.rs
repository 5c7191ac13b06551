//! Asking before live tunnels are dropped: without a tray, closing the window quits the app,
//! so a close with connections up is held and the window asks (`quit-requested`); the `quit`
//! command then exits. With a tray the window closes and the tunnels keep running
//! ([`crate::window`]); the tray's Quit asks the same way.

use porthole_client::app::App;
use porthole_client::model::ConnectionStatus;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// How many connections are up (listening, connected, waiting for a login).
pub fn live_count(core: &App) -> usize {
    core.list_connections()
        .iter()
        .filter(|v| !matches!(v.status, ConnectionStatus::Idle | ConnectionStatus::Error { .. }))
        .count()
}

/// Shows the window and asks it to confirm quitting when tunnels are live; `false` (nothing
/// asked) when none are, so the caller may quit at once. The tray's Quit can use it too.
pub fn ask_before_quit<R: Runtime>(app: &AppHandle<R>) -> bool {
    let live = app.try_state::<App>().map_or(0, |core| live_count(&core));
    if live == 0 {
        return false;
    }
    crate::window::show(app, None);
    // The window answers with its "Quit Porthole?" dialog, counting the live rows itself.
    app.emit("quit-requested", ()).is_ok()
}
