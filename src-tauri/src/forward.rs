//! Forwards the app's events one way: [`porthole_client::app::AppEvent`] → the window (`status`,
//! `log`, `connections-changed`), the tray (rebuilt), and an OS notification ([`crate::notify`])
//! when a connection needs a login, or once when it starts failing (see
//! `porthole_client::status::StatusTracker`).

use porthole_client::app::{App, AppEvent};
use porthole_client::model::ConnectionStatus;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::error::RecvError;

use crate::notify::Target;

/// Starts the forwarding task.
pub fn spawn<R: Runtime>(app: AppHandle<R>, core: App, has_tray: bool) {
    let mut rx = core.subscribe();
    tauri::async_runtime::spawn(async move {
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
                        // The tracker sets `alert` once per new failure after a success.
                        ConnectionStatus::Failing { message, .. } if s.alert => {
                            notify_failing(&app, &core, &s.id, message)
                        }
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

fn notify_login<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str, url: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    let body = format!("{name} needs you to log in; your browser has been opened. Click to open the login page again.");
    let target = Target::Login { id: id.to_owned(), url: url.to_owned() };
    crate::notify::send(app, "Porthole: login required", &body, target);
}

/// A connection's attempt failed, or the proxy ended its sessions; `message` says why and what
/// to do (once per failure after a success: the status tracker decides). A click opens it.
fn notify_failing<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str, message: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    crate::notify::send(app, &format!("Porthole: {name} is failing"), message, Target::Connection(id.to_owned()));
}
