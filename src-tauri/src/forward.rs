//! Forwards the app's events one way: [`porthole_client::app::AppEvent`] → the window (`status`,
//! `log`, `connections-changed`), the tray (rebuilt), and an OS notification when a connection
//! needs a login, or once when it starts failing (see `porthole_client::status::StatusTracker`).

use porthole_client::app::{App, AppEvent};
use porthole_client::model::ConnectionStatus;
use tauri::{AppHandle, Emitter, Runtime};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::broadcast::error::RecvError;

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
                        ConnectionStatus::LoginRequired { .. } => notify_login(&app, &core, &s.id),
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
                let views = core.list_connections();
                crate::tray::refresh(&app, &views);
            }
        }
    });
}

fn notify_login<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    notify(app, "Porthole: login required", format!("{name} needs you to log in; your browser has been opened."));
}

/// A connection's attempt failed, or the proxy ended its sessions; `message` says why and what
/// to do (once per failure after a success: the status tracker decides).
fn notify_failing<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str, message: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    notify(app, &format!("Porthole: {name} is failing"), message.to_owned());
}

fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: String) {
    let shown = app.notification().builder().title(title).body(body).show();
    if let Err(e) = shown {
        tracing::debug!(error = %e, "notification not shown");
    }
}

/// Asks the window to open "Load from server…" (the tray's entry).
pub fn open_load_from_server<R: Runtime>(app: &AppHandle<R>) {
    let _ = app.emit("load-from-server", ());
}
