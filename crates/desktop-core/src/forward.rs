//! Forwards the app's events one way: [`porthole_client::app::AppEvent`] → the window (`status`,
//! `log`, `connections-changed`), the tray (rebuilt), and an OS notification ([`crate::notify`])
//! when a connection needs a login (once per login: the rows that wait on the same login share
//! its notification), or once when it starts failing (see `porthole_client::status::StatusTracker`).

use porthole_client::app::{App, AppEvent};
use porthole_client::model::ConnectionStatus;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::Cx;
use crate::notify::Target;

/// Sends `name` with `payload` to the window.
fn emit(cx: &Cx, name: &str, payload: impl Serialize) {
    match serde_json::to_value(payload) {
        Ok(v) => cx.shell.emit(name, v),
        Err(e) => tracing::warn!(error = %e, event = name, "event not sent"),
    }
}

/// Starts the forwarding task.
pub fn spawn(cx: Cx) {
    let mut rx = cx.core.subscribe();
    tokio::spawn(async move {
        let core = &cx.core;
        let mut notified = Notified::default();
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => AppEvent::ConnectionsChanged,
                Err(RecvError::Closed) => return,
            };
            match &event {
                AppEvent::Status(s) => {
                    emit(&cx, "status", s);
                    match &s.status {
                        ConnectionStatus::LoginRequired { url, .. } if notified.first_time(url) => {
                            notify_login(&cx, core, &s.id, url)
                        }
                        // The tracker sets `alert` once per new failure after a success.
                        ConnectionStatus::Failing { message, .. } if s.alert => {
                            notify_failing(&cx, core, &s.id, message)
                        }
                        _ => {}
                    }
                }
                AppEvent::Log(l) => emit(&cx, "log", l),
                AppEvent::ConnectionsChanged => emit(&cx, "connections-changed", ()),
            }
            if !matches!(event, AppEvent::Log(_)) {
                cx.shell.refresh_tray();
            }
        }
    });
}

/// The login pages already notified: the last few (one login runs per proxy at a time), so the
/// rows waiting on one login share its notification.
#[derive(Default)]
struct Notified(std::collections::VecDeque<String>);

impl Notified {
    const KEPT: usize = 8;

    /// `true` the first time `url` is seen (among the last [`Self::KEPT`]).
    fn first_time(&mut self, url: &str) -> bool {
        if self.0.iter().any(|u| u == url) {
            return false;
        }
        if self.0.len() == Self::KEPT {
            self.0.pop_front();
        }
        self.0.push_back(url.to_owned());
        true
    }
}

fn notify_login(cx: &Cx, core: &App, id: &str, url: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    let body = format!("{name} needs you to log in; your browser has been opened. Click to open the login page again.");
    let target = Target::Login { id: id.to_owned(), url: url.to_owned() };
    crate::notify::send(cx, "Porthole: login required", &body, target);
}

/// A connection's attempt failed, or the proxy ended its sessions; `message` says why and what
/// to do (once per failure after a success: the status tracker decides). A click opens it.
fn notify_failing(cx: &Cx, core: &App, id: &str, message: &str) {
    let name = core.profile(id).map(|p| p.name).unwrap_or_else(|_| "A connection".into());
    crate::notify::send(cx, &format!("Porthole: {name} is failing"), message, Target::Connection(id.to_owned()));
}

#[cfg(test)]
mod tests {
    use super::Notified;

    #[test]
    fn one_notification_per_login_page() {
        let mut n = Notified::default();
        assert!(n.first_time("https://proxy/a"));
        assert!(!n.first_time("https://proxy/a"), "a second row waiting on the same login");
        assert!(n.first_time("https://proxy/b"), "a new login");
        for i in 0..Notified::KEPT {
            n.first_time(&format!("https://other/{i}"));
        }
        assert!(n.first_time("https://proxy/a"), "only the last few are kept");
    }
}
