//! UDP tunnels (`porthole udp`, docs/protocol.md §2.4–2.6): one local UDP socket, one tunnel
//! per local peer (source address), each a [`channel::DatagramChannel`] opened through a
//! [`channel::DatagramConnector`].
//!
//! - [`channel`]: the transport abstraction: a channel that sends one datagram, receives one
//!   datagram and ends with a reason, and the connector that opens one for a destination.
//! - [`h1`]: the HTTP/1.1 transport: CONNECT-UDP via `Upgrade: connect-udp`, datagrams in
//!   capsules (`porthole_io::capsule`), byte-compatible with pomerium-cli.
//! - [`h3`]: the HTTP/3 transport (extended CONNECT, HTTP Datagrams in QUIC DATAGRAM frames)
//!   and [`h3::UdpConnector`], which tries it first and falls back to [`h1`].
//! - [`session`]: the session model: the local socket, peers keyed by source address, login
//!   once per proxy, idle expiry, the size cap, counts and events.
//!
//! # Plugging in another transport ([`h3`] is one)
//!
//! The session model knows only [`channel::DatagramConnector`]. A second transport:
//!
//! 1. implements [`channel::DatagramConnector::open`]: dial, send the request with the token
//!    (`Authorization: Pomerium <jwt>` when `Some`), map a refusal through
//!    [`crate::connect::ConnectError::from_status`] so login / retry / error codes work as for
//!    TCP, and on `200` call [`channel::DatagramChannel::pair`] with its largest payload;
//! 2. spawns one task that owns the returned [`channel::TransportSide`]: datagrams from
//!    `to_proxy` go out one per HTTP datagram, each one received (context id 0) goes into
//!    `to_local`, others are counted as dropped; it stops when `cancel` fires or `to_proxy`
//!    closes, and reports why with [`channel::TransportSide::end`];
//! 3. is chosen by whoever builds the [`session::UdpConfig`] (e.g. a fallback connector that
//!    tries HTTP/3 first and HTTP/1.1 next holds both and implements the trait itself).
//!
//! Nothing in the session model changes for it.

pub mod channel;
pub mod h1;
pub mod h3;
pub mod session;
