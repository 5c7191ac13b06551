//! porthole-io: the data plane both ends share. The client engine (`porthole-tunnel`) and the
//! server (`porthole-gateway`) each depend on it, and on nothing of each other's: it holds no
//! login, no policy, no configuration, only the bytes.
//!
//! # Layout
//!
//! A tunnel's bytes flow down this list:
//!
//! - [`accept`]: the accept loop both servers run (error backoff, stop on cancel), each with
//!   its own admission policy.
//! - [`tls`]: the TLS stream both ends use (rustls through tokio-rustls: handshake, records,
//!   alerts, close_notify) and the crypto provider both configurations are built on.
//! - [`stream`]: the streams a tunnel relays ([`stream::Stream`]) and [`stream::Abort`], how an
//!   abort is noticed on one side and passed on to the other as a reset.
//! - [`relay`]: bidirectional copy with 64 KiB buffers, half-close kept, bytes counted, idle and
//!   shutdown ends; [`copy`] lends the buffers from a [`pool`] only while bytes move, and
//!   notices a reset side while blocked writing the other.
//! - [`connect`]: the CONNECT client (the request head, the exchange) the engine opens tunnels
//!   with and the gateway chains through upstream proxies with; [`head`] reads the answer's
//!   head, bounded.
//! - [`h3_stream`]: an HTTP/3 CONNECT stream (h3 over quinn) as a relay stream: FIN on
//!   shutdown, reset on abort.
//! - [`capsule`]: the capsule protocol CONNECT-UDP over HTTP/1.1 carries datagrams in
//!   (RFC 9297/9298); [`datagram`]: what both ends count about a UDP tunnel.
#![forbid(unsafe_code)]

pub mod accept;
pub mod capsule;
pub mod connect;
pub mod copy;
pub mod datagram;
pub mod h3_stream;
pub mod head;
pub mod pool;
pub mod relay;
pub mod stream;
pub mod tls;
