//! Turning a tunnel's events into its [`ConnectionStatus`]: listening → connecting (a session
//! is opening) → loginRequired (waiting for the browser) → connected{n} → listening at n = 0,
//! or failing (the last attempt failed, or the proxy ended the sessions and said why) until a
//! session gets through again. Also what the tray shows at a glance: [`Aggregate`].

use std::collections::HashSet;

use porthole_tunnel::cause::Cause;
use porthole_tunnel::code::ErrorCode;
use porthole_tunnel::events::{PeerId, TunnelEvent};
use serde::Serialize;
use ts_rs::TS;

use crate::model::{ConnectionStatus, Fix};
use crate::wording::{self, Context};

/// The state of one running tunnel, fed its events in order.
#[derive(Debug, Default, Clone)]
pub struct StatusTracker {
    addr: String,
    ctx: Context,
    opening: HashSet<PeerId>,
    live: HashSet<PeerId>,
    login_url: Option<String>,
    /// Why the last attempt failed (or the proxy ended a session), until one gets through.
    failing: Option<Failure>,
    /// A failure was announced since the last success: retries that fail again stay quiet.
    told: bool,
    /// A failure to announce, taken by [`StatusTracker::take_alert`].
    alert: bool,
    closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    message: String,
    code: ErrorCode,
    cause: Cause,
    action: Option<Fix>,
}

impl StatusTracker {
    /// A tracker for a tunnel listening on `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into(), ..Self::default() }
    }

    /// A tracker whose sentences can name what the profile was given (its CA file).
    #[must_use]
    pub fn with_context(mut self, ctx: Context) -> Self {
        self.ctx = ctx;
        self
    }

    /// What the profile was given, for sentences.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.ctx
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
        } else if let Some(f) = &self.failing {
            ConnectionStatus::Failing {
                addr,
                label: failing_label(&f.cause),
                message: f.message.clone(),
                code: f.code,
                cause: f.cause.clone(),
                action: f.action,
            }
        } else {
            ConnectionStatus::Listening { addr }
        }
    }

    /// `true` once per new failure after a success (or after the start): the moment to
    /// notify. Reading it resets it.
    pub fn take_alert(&mut self) -> bool {
        std::mem::take(&mut self.alert)
    }

    fn fail(&mut self, cause: &Cause, code: ErrorCode) {
        let (message, action) = wording::describe(cause, &self.ctx);
        self.failing = Some(Failure { message, code, cause: cause.clone(), action });
        if !self.told {
            self.told = true;
            self.alert = true;
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
            TunnelEvent::LoginPending { url, .. } => self.login_url.clone_from(url),
            TunnelEvent::LoginCompleted { .. } | TunnelEvent::LoginFailed { .. } => self.login_url = None,
            TunnelEvent::Connected { peer, .. } => {
                self.opening.remove(peer);
                self.live.insert(*peer);
                self.failing = None;
                self.told = false;
            }
            TunnelEvent::Revoked { cause, code, .. } => self.fail(cause, *code),
            TunnelEvent::Disconnected { peer, cause, code, .. } => {
                // Only an attempt that never got through is a failed attempt; a live session
                // that ends is explained by `Revoked` when the proxy says why.
                if self.opening.remove(peer)
                    && let Some(cause) = cause
                {
                    self.fail(cause, code.unwrap_or(ErrorCode::Tunnel));
                }
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

/// Every connection at a glance, for the tray's icon and tooltip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum Aggregate {
    /// Nothing is running.
    Idle,
    /// Something runs and nothing needs the person.
    Connected,
    /// A connection needs a login, is failing, or could not start.
    Attention,
}

impl ConnectionStatus {
    /// `true` while a listener is up (or coming up): the states that Disconnect ends.
    #[must_use]
    pub fn is_active(&self) -> bool {
        !matches!(self, Self::Idle | Self::Error { .. })
    }

    /// `true` when the person has something to do: log in, fix a failure, or a failed start.
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        matches!(self, Self::LoginRequired { .. } | Self::Failing { .. } | Self::Error { .. })
    }

    /// A short state, the same words the window's badge starts with: `idle`, `listening`,
    /// `connecting…`, `login required`, `2 sessions`, `access denied for alice@example.com`, …
    #[must_use]
    pub fn short_label(&self) -> String {
        match self {
            Self::Idle => "idle".into(),
            Self::Listening { .. } => "listening".into(),
            Self::Connecting { .. } => "connecting…".into(),
            Self::LoginRequired { .. } => "login required".into(),
            Self::Connected { sessions, .. } => format!("{sessions} session{}", if *sessions == 1 { "" } else { "s" }),
            Self::Failing { label, .. } => label.clone(),
            Self::Error { code: ErrorCode::PortInUse, .. } => "port in use".into(),
            Self::Error { .. } => "error".into(),
        }
    }
}

/// The few words of a failing state (the badge; the sentence goes below it).
fn failing_label(cause: &Cause) -> String {
    match cause {
        Cause::Unreachable { .. } | Cause::BadAnswer { .. } => "proxy unreachable".into(),
        Cause::UntrustedCertificate { .. } | Cause::Tls { .. } => "TLS: certificate not trusted".into(),
        Cause::HandshakeRefused { .. } | Cause::CertificateRequired { .. } => "client certificate needed".into(),
        Cause::LoginRequired { .. } | Cause::LoginFailed { .. } => "login failed".into(),
        Cause::Denied { user: Some(user), .. } => format!("access denied for {user}"),
        Cause::Denied { user: None, .. } => "access denied".into(),
        Cause::NoRoute { .. } => "no route".into(),
        Cause::Unavailable { .. } => "upstream down".into(),
        Cause::Status { status, .. } => format!("proxy error {status}"),
        Cause::Revoked { user: Some(user), .. } => format!("access revoked for {user}"),
        Cause::Revoked { user: None, .. } => "access revoked".into(),
        Cause::SessionExpired => "session expired".into(),
        Cause::RouteRemoved { .. } => "route removed".into(),
    }
}

/// What the tray shows, as data: a test hook (the desktop's `tray_menu_model` command) and
/// the one shape the tray's menu is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MenuModel {
    /// The icon's state.
    pub aggregate: Aggregate,
    /// The tooltip.
    pub tooltip: String,
    /// Each connection's item label.
    pub items: Vec<String>,
}

/// What the tray's icon shows for these statuses.
pub fn aggregate<'a>(statuses: impl IntoIterator<Item = &'a ConnectionStatus>) -> Aggregate {
    let mut out = Aggregate::Idle;
    for s in statuses {
        if s.needs_attention() {
            return Aggregate::Attention;
        }
        if s.is_active() {
            out = Aggregate::Connected;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 50000);
    const ADDR: &str = "127.0.0.1:1";

    fn disconnected(peer: PeerId, failed: Option<(Cause, ErrorCode)>) -> TunnelEvent {
        let (cause, code) = failed.map_or((None, None), |(c, k)| (Some(c), Some(k)));
        TunnelEvent::Disconnected {
            peer,
            peer_addr: PEER,
            bytes_up: 0,
            bytes_down: 0,
            error: None,
            code,
            cause,
            datagrams: None,
        }
    }

    fn attempt(t: &mut StatusTracker, peer: PeerId, failed: Option<(Cause, ErrorCode)>) -> Option<ConnectionStatus> {
        t.apply(&TunnelEvent::Connecting { peer, peer_addr: PEER });
        if failed.is_none() {
            t.apply(&TunnelEvent::Connected { peer, peer_addr: PEER, transport: Default::default() });
        }
        t.apply(&disconnected(peer, failed))
    }

    fn denied() -> (Cause, ErrorCode) {
        (Cause::Denied { destination: "db:5432".into(), user: Some("bob@example.com".into()) }, ErrorCode::Denied)
    }

    fn listening() -> ConnectionStatus {
        ConnectionStatus::Listening { addr: ADDR.into() }
    }

    /// A refused attempt turns listening into failing with the desktop's sentence, the cause
    /// and the fix; the first failure alerts, a retry refused again does not; a session that
    /// gets through clears it; the next failure alerts again.
    #[test]
    fn a_failed_attempt_is_failing_until_one_gets_through() {
        let mut t = StatusTracker::new(ADDR);
        let failing = attempt(&mut t, 1, Some(denied())).expect("changed");
        let ConnectionStatus::Failing { message, code, cause, action, addr, .. } = &failing else {
            panic!("not failing: {failing:?}")
        };
        assert_eq!((addr.as_str(), *code, *action), (ADDR, ErrorCode::Denied, Some(Fix::LogInAsSomeoneElse)));
        assert_eq!(cause, &denied().0);
        assert!(message.contains("denied for bob@example.com"), "{message}");
        assert_eq!(failing.short_label(), "access denied for bob@example.com");
        assert!(t.take_alert(), "a new failure alerts");
        assert!(!t.take_alert(), "once");
        assert_eq!(attempt(&mut t, 2, Some(denied())), Some(failing.clone()), "a refused retry stays failing");
        assert!(!t.take_alert(), "a refused retry does not alert again");
        assert_eq!(attempt(&mut t, 3, None), Some(listening()), "success clears it");
        assert!(!t.take_alert());
        assert_eq!(attempt(&mut t, 4, Some(denied())), Some(failing), "a failure after a success");
        assert!(t.take_alert(), "alerts again");
    }

    /// A live session that ends with an error (the upstream reset it) is not a failed attempt:
    /// the connection stays listening, and nothing alerts.
    #[test]
    fn a_session_that_ends_badly_is_not_a_failed_attempt() {
        let mut t = StatusTracker::new(ADDR);
        t.apply(&TunnelEvent::Connecting { peer: 1, peer_addr: PEER });
        t.apply(&TunnelEvent::Connected { peer: 1, peer_addr: PEER, transport: Default::default() });
        let reset = TunnelEvent::Disconnected {
            peer: 1,
            peer_addr: PEER,
            bytes_up: 1,
            bytes_down: 1,
            error: Some("the upstream reset the connection after 1 bytes".into()),
            code: Some(ErrorCode::Reset),
            cause: None,
            datagrams: None,
        };
        assert_eq!(t.apply(&reset), Some(listening()));
        assert!(!t.take_alert());
    }

    /// The proxy ending sessions and saying why (revoked) also fails the connection, even when
    /// the reason comes while the local client still holds the session open.
    #[test]
    fn a_revoked_session_fails_once_it_ends() {
        let mut t = StatusTracker::new(ADDR);
        t.apply(&TunnelEvent::Connecting { peer: 1, peer_addr: PEER });
        t.apply(&TunnelEvent::Connected { peer: 1, peer_addr: PEER, transport: Default::default() });
        let cause = Cause::Revoked { destination: "db:5432".into(), user: Some("alice@example.com".into()) };
        let message = "access to db:5432 was revoked for alice@example.com (403)".to_owned();
        let revoked =
            TunnelEvent::Revoked { peer: 1, peer_addr: PEER, message, code: ErrorCode::Revoked, cause: cause.clone() };
        assert_eq!(t.apply(&revoked), None, "the session counts until it ends");
        let after = t.apply(&disconnected(1, None)).expect("changed");
        assert!(matches!(&after, ConnectionStatus::Failing { code: ErrorCode::Revoked, cause: c, .. } if *c == cause));
        assert_eq!(after.short_label(), "access revoked for alice@example.com");
        assert!(t.take_alert());
    }

    /// The tray's icon: idle with nothing running, connected with something running, attention
    /// as soon as one needs the person.
    #[test]
    fn aggregate_picks_the_most_urgent() {
        let idle = ConnectionStatus::Idle;
        let login = ConnectionStatus::LoginRequired { addr: ADDR.into(), url: "https://x".into() };
        assert_eq!(aggregate([&idle, &idle]), Aggregate::Idle);
        assert_eq!(aggregate([&idle, &listening()]), Aggregate::Connected);
        assert_eq!(aggregate([&listening(), &login, &idle]), Aggregate::Attention);
        let mut t = StatusTracker::new(ADDR);
        let failing = attempt(&mut t, 1, Some(denied())).expect("changed");
        assert_eq!(aggregate([&listening(), &failing]), Aggregate::Attention);
    }
}
