//! What a tunnel reports: one typed event per state change, on a broadcast channel. Front ends
//! (the CLI's lines, the desktop app's log and tray) render these; the engine never prints.
//! A tunnel the proxy ended is followed by [`TunnelEvent::Revoked`] when a probe learns why.

use std::net::SocketAddr;

use serde::Serialize;

use crate::cause::Cause;
use crate::code::ErrorCode;

/// A local connection's id within one tunnel (1, 2, 3, …).
pub type PeerId = u64;

/// What carries a tunnel to the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Transport {
    /// HTTP/1.1 CONNECT over TCP (and TLS).
    Http1 {
        /// Why not HTTP/3, when the proxy offered it (QUIC failed now or recently).
        #[serde(skip_serializing_if = "Option::is_none")]
        h3_unavailable: Option<String>,
    },
    /// HTTP/3 CONNECT over QUIC.
    Http3,
}

impl Default for Transport {
    fn default() -> Self {
        Self::Http1 { h3_unavailable: None }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Http3 => f.write_str("HTTP/3"),
            Self::Http1 { h3_unavailable: None } => f.write_str("HTTP/1.1"),
            Self::Http1 { h3_unavailable: Some(why) } => write!(f, "HTTP/1.1 (HTTP/3 unavailable: {why})"),
        }
    }
}

/// Datagrams a UDP peer's tunnel carried, and dropped (over the maximum, for another context
/// id, or while the queue was full). A datagram is never split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DatagramCounts {
    /// Datagrams local → remote.
    pub up: u64,
    /// Datagrams remote → local.
    pub down: u64,
    /// Datagrams dropped.
    pub dropped: u64,
}

/// A state change of a tunnel or of one of its connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TunnelEvent {
    /// The local listener is up.
    Listening {
        /// The bound address (the real port when `:0` was asked for).
        addr: SocketAddr,
    },
    /// A local client connected; the tunnel to the proxy is being opened.
    Connecting {
        /// Its id.
        peer: PeerId,
        /// The local client's address.
        peer_addr: SocketAddr,
    },
    /// A login is needed for `origin`: open `url` in a browser (it was opened for you unless
    /// the browser is "print").
    AuthRequired {
        /// The proxy origin (`https://host:port`).
        origin: String,
        /// The URL to open.
        url: String,
    },
    /// A connection waits for the login another connection started for `origin` (one login at
    /// a time per proxy): `Some(url)` is that login's page, `None` says the wait is over. A
    /// front end that shows a state per connection shows "login required" for these too; the
    /// `AuthRequired` of the login itself was already sent.
    LoginPending {
        /// The proxy origin.
        origin: String,
        /// The login page, or `None` when the wait ended.
        url: Option<String>,
    },
    /// The login for `origin` finished; waiting connections proceed.
    LoginCompleted {
        /// The proxy origin.
        origin: String,
    },
    /// The login for `origin` failed; the sentence says why and what to do.
    LoginFailed {
        /// The proxy origin.
        origin: String,
        /// What went wrong.
        message: String,
    },
    /// The tunnel for a local connection is up.
    Connected {
        /// Its id.
        peer: PeerId,
        /// The local client's address.
        peer_addr: SocketAddr,
        /// HTTP/3 or HTTP/1.1 (and why not HTTP/3).
        transport: Transport,
    },
    /// A local connection ended, cleanly (`error: None`) or not.
    Disconnected {
        /// Its id.
        peer: PeerId,
        /// The local client's address.
        peer_addr: SocketAddr,
        /// Bytes local → remote.
        bytes_up: u64,
        /// Bytes remote → local.
        bytes_down: u64,
        /// Why it failed, as a sentence a person can act on.
        error: Option<String>,
        /// The class of the failure (`denied`, `no_route`, `auth`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
        /// For a UDP peer: its datagram counts (the bytes above are payload bytes).
        #[serde(skip_serializing_if = "Option::is_none")]
        datagrams: Option<DatagramCounts>,
        /// The facts, when the tunnel could not be opened, for a front end's own words.
        #[serde(skip_serializing_if = "Option::is_none")]
        cause: Option<Cause>,
    },
    /// The proxy had ended a connection's tunnel (after its `Disconnected`), and one probe
    /// CONNECT for the same target says why: access revoked (403), session expired (401 or an
    /// expired token), or the route removed (404). Not sent when the probe is let through, cannot
    /// reach the proxy, or the local client ended the connection first.
    Revoked {
        /// The connection whose tunnel the proxy ended.
        peer: PeerId,
        /// The local client's address.
        peer_addr: SocketAddr,
        /// Why, as a sentence: `access to db.corp:5432 was revoked for alice@example.com (403)`.
        message: String,
        /// `revoked`, `session_expired` or `no_route`.
        code: ErrorCode,
        /// The facts (destination, user), for a front end's own words.
        cause: Cause,
    },
    /// The listener stopped (disconnect, shutdown); no more connections.
    Closed,
}
