//! Turning a tunnel's events into its [`ConnectionStatus`]: listening → connecting (a session
//! is opening) → loginRequired (waiting for the browser) → connected{n} → listening at n = 0.

use std::collections::HashSet;

use porthole_tunnel::events::{PeerId, TunnelEvent};

use crate::model::ConnectionStatus;

/// The state of one running tunnel, fed its events in order.
#[derive(Debug, Default, Clone)]
pub struct StatusTracker {
    addr: String,
    opening: HashSet<PeerId>,
    live: HashSet<PeerId>,
    login_url: Option<String>,
    closed: bool,
}

impl StatusTracker {
    /// A tracker for a tunnel listening on `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into(), ..Self::default() }
    }

    /// The status now.
    pub fn status(&self) -> ConnectionStatus {
        let addr = self.addr.clone();
        if self.closed {
            ConnectionStatus::Idle
        } else if let (Some(url), false) = (&self.login_url, self.opening.is_empty()) {
            ConnectionStatus::LoginRequired { addr, url: url.clone() }
        } else if !self.live.is_empty() {
            ConnectionStatus::Connected { addr, sessions: u32::try_from(self.live.len()).unwrap_or(u32::MAX) }
        } else if !self.opening.is_empty() {
            ConnectionStatus::Connecting { addr }
        } else {
            ConnectionStatus::Listening { addr }
        }
    }

    /// Applies `event`; returns the new status when it changed.
    pub fn apply(&mut self, event: &TunnelEvent) -> Option<ConnectionStatus> {
        let before = self.status();
        match event {
            TunnelEvent::Listening { addr } => self.addr = addr.to_string(),
            TunnelEvent::Connecting { peer, .. } => {
                self.opening.insert(*peer);
            }
            TunnelEvent::AuthRequired { url, .. } => self.login_url = Some(url.clone()),
            TunnelEvent::LoginCompleted { .. } | TunnelEvent::LoginFailed { .. } => self.login_url = None,
            TunnelEvent::Connected { peer, .. } => {
                self.opening.remove(peer);
                self.live.insert(*peer);
            }
            TunnelEvent::Disconnected { peer, .. } => {
                self.opening.remove(peer);
                self.live.remove(peer);
                if self.opening.is_empty() {
                    self.login_url = None;
                }
            }
            TunnelEvent::Closed => self.closed = true,
        }
        let after = self.status();
        (after != before).then_some(after)
    }
}
