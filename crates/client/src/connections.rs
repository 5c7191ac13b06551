//! The state an [`App`](crate::App) keeps per saved connection — its status, its log and its
//! live tunnel — in one map keyed by profile id, so the three cannot drift apart: a tunnel is
//! installed together with its `listening` status, and a stale tunnel's events cannot change
//! the status of the run that replaced it.

use std::collections::HashMap;
use std::sync::Mutex;

use porthole_tunnel::handle::TunnelHandle;

use crate::app::lock;
use crate::logs::LogRing;
use crate::model::{ConnectionStatus, LogEntry};

/// A started tunnel: the handle that owns its tasks (and stops them on drop), and the run
/// number its event watcher presents before changing the connection's status.
pub(crate) struct LiveTunnel {
    /// Distinguishes this start from earlier and later ones of the same profile.
    pub(crate) run: u64,
    /// The engine's handle.
    pub(crate) handle: TunnelHandle,
}

/// One connection's state.
#[derive(Default)]
struct ConnectionState {
    status: ConnectionStatus,
    logs: LogRing,
    tunnel: Option<LiveTunnel>,
    /// The live tunnel runs on settings older than the saved profile.
    stale: bool,
}

/// Every connection's state, by profile id. Connections with no state yet read as idle with
/// an empty log.
#[derive(Default)]
pub(crate) struct Connections {
    map: Mutex<HashMap<String, ConnectionState>>,
}

impl Connections {
    /// The status of `id`.
    pub(crate) fn status(&self, id: &str) -> ConnectionStatus {
        lock(&self.map).get(id).map(|c| c.status.clone()).unwrap_or_default()
    }

    /// Every status that is set, by id.
    pub(crate) fn statuses(&self) -> HashMap<String, ConnectionStatus> {
        lock(&self.map).iter().map(|(id, c)| (id.clone(), c.status.clone())).collect()
    }

    /// The log of `id`, oldest first.
    pub(crate) fn logs(&self, id: &str) -> Vec<LogEntry> {
        lock(&self.map).get(id).map(|c| c.logs.to_vec()).unwrap_or_default()
    }

    /// Sets the status of `id`.
    pub(crate) fn set_status(&self, id: &str, status: ConnectionStatus) {
        lock(&self.map).entry(id.to_owned()).or_default().status = status;
    }

    /// Sets the status of `id` when `run` is its live tunnel's run; `false` otherwise.
    pub(crate) fn set_status_if_current(&self, id: &str, run: u64, status: ConnectionStatus) -> bool {
        let mut map = lock(&self.map);
        match map.get_mut(id) {
            Some(c) if c.tunnel.as_ref().is_some_and(|t| t.run == run) => {
                c.status = status;
                true
            }
            _ => false,
        }
    }

    /// Appends a line to the log of `id`.
    pub(crate) fn push_log(&self, id: &str, entry: LogEntry) {
        lock(&self.map).entry(id.to_owned()).or_default().logs.push(entry);
    }

    /// `true` while `id` has a live tunnel.
    pub(crate) fn is_live(&self, id: &str) -> bool {
        lock(&self.map).get(id).is_some_and(|c| c.tunnel.is_some())
    }

    /// Installs the live tunnel of `id` together with its status.
    pub(crate) fn go_live(&self, id: &str, tunnel: LiveTunnel, status: ConnectionStatus) {
        let mut map = lock(&self.map);
        let c = map.entry(id.to_owned()).or_default();
        c.tunnel = Some(tunnel);
        c.status = status;
        c.stale = false;
    }

    /// Marks the live tunnel of `id` as running on older settings than the saved ones.
    pub(crate) fn set_stale(&self, id: &str) {
        if let Some(c) = lock(&self.map).get_mut(id).filter(|c| c.tunnel.is_some()) {
            c.stale = true;
        }
    }

    /// `true` when `id` runs on older settings than the saved ones ("Reconnect to apply").
    pub(crate) fn is_stale(&self, id: &str) -> bool {
        lock(&self.map).get(id).is_some_and(|c| c.stale && c.tunnel.is_some())
    }

    /// Takes the live tunnel of `id` out (to stop it), leaving its status and log.
    pub(crate) fn take_tunnel(&self, id: &str) -> Option<LiveTunnel> {
        lock(&self.map).get_mut(id).and_then(|c| {
            c.stale = false;
            c.tunnel.take()
        })
    }

    /// Calls `f` with the live tunnel of `id`, if there is one.
    pub(crate) fn with_tunnel<R>(&self, id: &str, f: impl FnOnce(&TunnelHandle) -> R) -> Option<R> {
        lock(&self.map).get(id).and_then(|c| c.tunnel.as_ref()).map(|t| f(&t.handle))
    }

    /// Forgets everything about `id` (a deleted profile).
    pub(crate) fn remove(&self, id: &str) {
        lock(&self.map).remove(id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use porthole_tunnel::auth::{Authenticator, MemoryStore};

    use super::*;
    use crate::TunnelOptions;

    async fn tunnel() -> TunnelHandle {
        let config = TunnelOptions::new("tcp+http://127.0.0.1:9/db.internal:5432").build().expect("builds");
        let auth = Arc::new(Authenticator::new(Arc::new(MemoryStore::default()), None));
        TunnelHandle::start("127.0.0.1:0", config, auth).await.expect("listens")
    }

    #[tokio::test]
    async fn only_the_live_run_changes_the_status() {
        let connections = Connections::default();
        let listening = ConnectionStatus::Listening { addr: "127.0.0.1:1".into() };
        connections.go_live("p", LiveTunnel { run: 7, handle: tunnel().await }, listening.clone());
        assert!(connections.is_live("p"));
        assert_eq!(connections.status("p"), listening, "installed together with its status");
        let error = ConnectionStatus::Error { message: "x".into(), code: porthole_tunnel::code::ErrorCode::Tunnel };
        assert!(!connections.set_status_if_current("p", 6, error.clone()), "an earlier run's event is ignored");
        assert_eq!(connections.status("p"), listening);
        assert!(connections.set_status_if_current("p", 7, error.clone()));
        assert_eq!(connections.status("p"), error);
        let taken = connections.take_tunnel("p").expect("live");
        assert_eq!(taken.run, 7);
        assert!(!connections.set_status_if_current("p", 7, listening), "a stopped run's event is ignored");
        assert_eq!(connections.status("p"), error, "taking the tunnel out leaves the status");
        connections.push_log("p", crate::logs::entry(crate::model::LogLevel::Info, "kept", None));
        assert_eq!(connections.logs("p").len(), 1);
        connections.remove("p");
        assert_eq!(
            (connections.status("p"), connections.logs("p").len()),
            (ConnectionStatus::Idle, 0),
            "a deleted profile leaves nothing"
        );
    }
}
