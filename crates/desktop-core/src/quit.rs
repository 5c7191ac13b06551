//! Asking before live tunnels are dropped: without a tray, closing the window quits the app,
//! so a close with connections up is held and the window asks (`quit-requested`, sent by the
//! window's process); the `quit` command then exits. With a tray the window closes and the
//! tunnels keep running; the tray's Quit asks by opening the window on `#/quit`.

use porthole_client::model::ConnectionView;

use crate::Cx;

/// How many connections are up (listening, connected, waiting for a login): what Disconnect
/// would end ([`porthole_client::model::ConnectionStatus::is_active`]).
pub fn live_count(views: &[ConnectionView]) -> usize {
    views.iter().filter(|v| v.status.is_active()).count()
}

/// Shows the window on `#/quit` (its "Quit Porthole?" question, counting the live rows itself)
/// when tunnels are live; `false` (nothing asked) when none are, so the caller may quit at once.
/// A route, not an event: a window opened just to ask would miss an event sent before its page
/// listens.
pub fn ask_before_quit(cx: &Cx) -> bool {
    if live_count(&cx.core.list_connections()) == 0 {
        return false;
    }
    cx.shell.show(Some("#/quit"));
    true
}
