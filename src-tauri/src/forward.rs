//! Forwards the app's events one way: [`porthole_client::app::AppEvent`] → the window (`status`,
//! `log`, `connections-changed`), the tray (rebuilt), and an OS notification ([`crate::notify`])
//! when a connection needs a login or the proxy ended its sessions and said why (access revoked,
//! session expired). Also the window's one request from the shell, `close-requested`.

use std::collections::HashMap;

use porthole_client::app::{App, AppEvent};
use porthole_client::model::ConnectionStatus;

use crate::notify::Target;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

/// Starts the forwarding task.
pub fn spawn<R: Runtime>(app: AppHandle<R>, core: App, has_tray: bool) {
    let mut rx = core.subscribe();
    tauri::async_runtime::spawn(async move {
        let mut told = Told::default();
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => AppEvent::ConnectionsChanged,
                Err(RecvError::Closed) => return,
            };
            match &event {
                AppEvent::Status(s) => {
                    let _ = app.emit("status", s);
                    match &s.status {
                        ConnectionStatus::LoginRequired { url, .. } => notify_login(&app, &core, &s.id, url),
                        ConnectionStatus::Revoked { message, .. } if told.first_time(&s.id, message) => {
                            notify_revoked(&app, &core, &s.id, message)
                        }
                        ConnectionStatus::Connected { .. } | ConnectionStatus::Idle => told.forget(&s.id),
                        _ => {}
                    }
                }
                AppEvent::Log(l) => {
                    let _ = app.emit("log", l);
                }
                AppEvent::ConnectionsChanged => {
                    let _ = app.emit("connections-changed", ());
                }
            }
            if has_tray && !matches!(event, AppEvent::Log(_)) {
                crate::tray::refresh(&app, &core);
            }
        }
    });
}

/// The reason each connection was last notified of, so a retry the proxy refuses for the same
/// reason (revoked → connecting → revoked) does not notify again; a session that gets through,
/// or a disconnect, forgets it.
#[derive(Debug, Default)]
struct Told(HashMap<String, String>);

impl Told {
    /// `true` when `id` was not told `message` last.
    fn first_time(&mut self, id: &str, message: &str) -> bool {
        self.0.insert(id.to_owned(), message.to_owned()).as_deref() != Some(message)
    }

    fn forget(&mut self, id: &str) {
        self.0.remove(id);
    }
}

fn notify_login<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str, url: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    let body = format!("{name} needs you to log in; your browser has been opened. Click to open the login page again.");
    let target = Target::Login { id: id.to_owned(), url: url.to_owned() };
    crate::notify::send(app, "Porthole: login required", &body, target);
}

/// The proxy ended a connection's sessions; `message` says why (once per reason, see [`Told`]).
fn notify_revoked<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str, message: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    crate::notify::send(app, &format!("Porthole: {name} was cut off"), message, Target::Connection(id.to_owned()));
}

/// Asks the window to confirm a close that would end live tunnels (no tray keeps them); the UI
/// answers with `quit_app`, or does nothing to stay open.
pub fn ask_before_closing<R: Runtime>(app: &AppHandle<R>) {
    let _ = app.emit("close-requested", ());
}

#[cfg(test)]
mod tests {
    use super::Told;

    /// One notification per reason: a refused retry with the same reason is not told again; a
    /// new reason, or the same one after a session got through, is.
    #[test]
    fn each_reason_is_told_once() {
        let mut told = Told::default();
        assert!(told.first_time("db", "access revoked"));
        assert!(!told.first_time("db", "access revoked"), "a refused retry");
        assert!(told.first_time("other", "access revoked"), "another connection");
        assert!(told.first_time("db", "your session expired: log in again"), "a new reason");
        told.forget("db");
        assert!(told.first_time("db", "your session expired: log in again"), "after a session got through");
    }
}
