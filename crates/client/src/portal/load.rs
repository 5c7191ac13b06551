//! [`App::load_portal`] and [`App::accept_portal`]: "Load from server…" as two steps, a
//! preview that saves nothing, then accepting exactly that preview.

use porthole_tunnel::events::TunnelEvent;
use tokio::sync::broadcast;

use super::diff::{new_profile, updated_profile};
use super::{FetchSettings, PortalPreview, PortalReport, PortalSource, fetch_routes, preview};
use crate::app::{App, AppEvent, lock};
use crate::error::{AppError, ErrorCode};

/// How many servers' previews are kept waiting for an accept (older ones are dropped: load
/// them again).
const MAX_PREVIEWS: usize = 16;

impl App {
    /// Reads the routes portal of `source` (logging in through the browser if needed, one
    /// login per proxy with every tunnel of this app) and compares it with the saved
    /// connections. Nothing is saved; the preview is kept for [`App::accept_portal`].
    ///
    /// # Errors
    /// As [`fetch_routes`](super::fetch_routes): `invalid`, `io`, `proxy`, `auth`, `denied`,
    /// `no_route`, `status`.
    pub async fn load_portal(&self, source: &PortalSource) -> Result<PortalPreview, AppError> {
        let settings = FetchSettings {
            browser: self.state.browser.clone(),
            login_timeout: self.state.login_timeout,
            cert_store_dir: self.state.cert_store_dir.clone(),
        };
        let (events, mut rx) = broadcast::channel(16);
        let list = fetch_routes(source, &self.state.auth, &settings, &events).await;
        while let Ok(event) = rx.try_recv() {
            if let TunnelEvent::LoginCompleted { origin } = event {
                lock(&self.state.origins).insert(origin);
            }
        }
        let list = list?;
        let saved = lock(&self.state.profiles).list().to_vec();
        let preview = preview(&list.server, &list.routes, source, &saved);
        let mut previews = lock(&self.state.portal_previews);
        if previews.len() >= MAX_PREVIEWS && !previews.contains_key(&list.server) {
            previews.clear();
        }
        previews.insert(list.server.clone(), preview.clone());
        Ok(preview)
    }

    /// Saves the last preview of `server`: adds the new connections, updates the changed ones
    /// (keeping the user's listen address, tags, certificate and autostart), and removes the
    /// "gone" ones listed in `remove` (others are left alone). A connection deleted since the
    /// preview is not brought back.
    ///
    /// # Errors
    /// `not_found` when there is no preview of `server` (load it again) or `remove` names a
    /// connection that is not "gone" in it; `io`, `keychain` while saving.
    pub async fn accept_portal(&self, server: &str, remove: &[String]) -> Result<PortalReport, AppError> {
        let preview = lock(&self.state.portal_previews).get(server).cloned().ok_or_else(|| {
            AppError::new(ErrorCode::NotFound, format!("no routes were loaded from {server}; load them again"))
        })?;
        if let Some(id) = remove.iter().find(|id| !preview.gone.iter().any(|p| &&p.id == id)) {
            return Err(AppError::new(
                ErrorCode::NotFound,
                format!("connection {id} is not one the routes of {server} no longer list"),
            ));
        }
        let mut report = PortalReport::default();
        {
            let mut store = lock(&self.state.profiles);
            for entry in &preview.new {
                store.put(new_profile(entry))?;
                report.added += 1;
            }
            for changed in &preview.changed {
                if let Some(saved) = store.get(&changed.id).cloned() {
                    store.put(updated_profile(&saved, &changed.entry))?;
                    report.updated += 1;
                }
            }
        }
        for id in remove {
            if self.profile(id).is_ok() {
                self.delete_connection(id).await?;
                report.removed += 1;
            }
        }
        lock(&self.state.portal_previews).remove(server);
        self.emit(AppEvent::ConnectionsChanged);
        Ok(report)
    }
}
