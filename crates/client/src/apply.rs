//! Live edits: saving a running connection applies the change. A change the tunnel does not
//! use (name, tags, "Open with") needs nothing; one it does (destination, proxy, TLS, client
//! certificate, local address) restarts the listener on the same address when no session is
//! live, and otherwise leaves the sessions alone and marks the connection "Reconnect to apply".

use crate::app::{App, AppEvent};
use crate::error::AppError;
use crate::logs;
use crate::model::{ClientCertDraft, LogLevel, Profile, ProfileDraft};

/// What saving did to a running connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Not running, or nothing the tunnel uses changed.
    Nothing,
    /// The listener restarted with the new settings (on the same address when it was kept).
    Restarted,
    /// Live sessions kept it from restarting: "Reconnect to apply".
    ReconnectToApply,
}

/// `true` when the tunnel built from `after` differs from the one built from `before`.
/// `draft` tells whether a new client key was given (the profile only says one is stored).
#[must_use]
pub fn affects_tunnel(before: &Profile, after: &Profile, draft: &ProfileDraft) -> bool {
    let new_key = matches!(&draft.client_cert, Some(ClientCertDraft::Files { key_file: Some(_), .. }));
    new_key
        || before.destination != after.destination
        || before.listen_addr != after.listen_addr
        || before.pomerium_url != after.pomerium_url
        || before.protocol != after.protocol
        || before.ca_file != after.ca_file
        || before.disable_tls_verification != after.disable_tls_verification
        || before.client_cert != after.client_cert
}

impl App {
    /// Saves a draft and applies it to the running tunnel, if any (see the module doc).
    ///
    /// # Errors
    /// Those of [`App::save_connection`]; a restart that fails leaves the connection in its
    /// `error` state (the profile is saved either way).
    pub async fn save_and_apply(&self, draft: &ProfileDraft) -> Result<(Profile, Applied), AppError> {
        let before = draft.id.as_deref().and_then(|id| self.profile(id).ok());
        let saved = self.save_connection(draft)?;
        let Some(before) = before else { return Ok((saved, Applied::Nothing)) };
        let id = saved.id.clone();
        if !self.state.connections.is_live(&id) || !affects_tunnel(&before, &saved, draft) {
            return Ok((saved, Applied::Nothing));
        }
        let sessions = self.state.connections.with_tunnel(&id, |h| h.peers().len()).unwrap_or(0);
        if sessions > 0 {
            self.state.connections.set_stale(&id);
            let n =
                if sessions == 1 { "1 live session uses".to_owned() } else { format!("{sessions} live sessions use") };
            let line = format!("saved; {n} the old settings: reconnect to apply the change");
            self.log(&id, logs::entry(LogLevel::Info, line, None));
            self.emit(AppEvent::ConnectionsChanged);
            return Ok((saved, Applied::ReconnectToApply));
        }
        self.restart(&id, before.listen_addr == saved.listen_addr).await?;
        self.log(&id, logs::entry(LogLevel::Info, "saved and applied: the listener restarted", None));
        Ok((saved, Applied::Restarted))
    }

    /// Stops and starts a connection's tunnel with its saved settings, on the address it was
    /// bound to (even a random port) when the profile's local address did not change.
    ///
    /// # Errors
    /// Those of [`App::connect`].
    pub async fn reconnect(&self, id: &str) -> Result<(), AppError> {
        self.restart(id, true).await
    }

    async fn restart(&self, id: &str, same_address: bool) -> Result<(), AppError> {
        let bound = self.state.connections.with_tunnel(id, |h| h.local_addr().to_string());
        self.disconnect(id).await?;
        self.connect_at(id, bound.filter(|_| same_address)).await.map(drop)
    }
}
