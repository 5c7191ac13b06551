//! Turning a tunnel's events into its [`ConnectionStatus`]: listening → connecting (a session
//! is opening) → loginRequired (waiting for the browser) → connected{n} → listening at n = 0,
//! or revoked (the proxy ended the sessions and said why) until a session gets through again.

use std::collections::HashSet;

use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::events::{PeerId, TunnelEvent};

use crate::model::ConnectionStatus;

/// The state of one running tunnel, fed its events in order.
#[derive(Debug, Default, Clone)]
pub struct StatusTracker {
    addr: String,
    opening: HashSet<PeerId>,
    live: HashSet<PeerId>,
    login_url: Option<String>,
    /// Why the proxy last ended a session, until one gets through again.
    revoked: Option<(String, ErrorCode)>,
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
        } else if let Some((message, code)) = &self.revoked {
            ConnectionStatus::Revoked { addr, message: message.clone(), code: *code }
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
                self.revoked = None;
            }
            TunnelEvent::Revoked { message, code, .. } => self.revoked = Some((message.clone(), *code)),
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50000);

    fn disconnected(peer: PeerId) -> TunnelEvent {
        TunnelEvent::Disconnected {
            peer,
            peer_addr: PEER,
            bytes_up: 0,
            bytes_down: 0,
            error: None,
            code: None,
            datagrams: None,
        }
    }

    /// A session the proxy ended with a reason turns the connection from green "listening" to
    /// revoked, and the next session that gets through clears it.
    #[test]
    fn a_revoked_session_does_not_leave_it_listening() {
        let mut t = StatusTracker::new("127.0.0.1:1");
        t.apply(&TunnelEvent::Connecting { peer: 1, peer_addr: PEER });
        t.apply(&TunnelEvent::Connected { peer: 1, peer_addr: PEER, transport: Default::default() });
        assert_eq!(t.apply(&disconnected(1)), Some(ConnectionStatus::Listening { addr: "127.0.0.1:1".into() }));
        let message = "access to db.corp:5432 was revoked for alice@example.com (403)".to_owned();
        let revoked =
            TunnelEvent::Revoked { peer: 1, peer_addr: PEER, message: message.clone(), code: ErrorCode::Revoked };
        let want = ConnectionStatus::Revoked { addr: "127.0.0.1:1".into(), message, code: ErrorCode::Revoked };
        assert_eq!(t.apply(&revoked), Some(want.clone()), "the reason replaces listening");
        t.apply(&TunnelEvent::Connecting { peer: 2, peer_addr: PEER });
        assert_eq!(t.apply(&disconnected(2)), Some(want), "a refused retry keeps the reason");
        t.apply(&TunnelEvent::Connecting { peer: 3, peer_addr: PEER });
        t.apply(&TunnelEvent::Connected { peer: 3, peer_addr: PEER, transport: Default::default() });
        assert_eq!(t.apply(&disconnected(3)), Some(ConnectionStatus::Listening { addr: "127.0.0.1:1".into() }));
    }

    /// The reason may come while the local client still holds the session open (the engine
    /// asks as soon as the proxy's side ends): the session counts until it ends, then the
    /// reason shows.
    #[test]
    fn a_reason_before_the_disconnect_shows_once_the_session_ends() {
        let mut t = StatusTracker::new("127.0.0.1:1");
        t.apply(&TunnelEvent::Connecting { peer: 1, peer_addr: PEER });
        t.apply(&TunnelEvent::Connected { peer: 1, peer_addr: PEER, transport: Default::default() });
        let message = "your session expired: log in again".to_owned();
        let code = ErrorCode::SessionExpired;
        assert_eq!(t.apply(&TunnelEvent::Revoked { peer: 1, peer_addr: PEER, message: message.clone(), code }), None);
        assert_eq!(
            t.apply(&disconnected(1)),
            Some(ConnectionStatus::Revoked { addr: "127.0.0.1:1".into(), message, code }),
            "not green listening"
        );
    }
}
