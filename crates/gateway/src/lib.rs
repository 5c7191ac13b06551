//! porthole-gateway: the server side of Pomerium's "TCP over HTTP" protocol.
//!
//! # Layout
//!
//! A request flows down this list:
//!
//! - [`config`]: YAML in Pomerium's key names → a validated [`config::Config`] (every problem
//!   with its line), checked before any socket is bound.
//! - [`server`]: [`server::Gateway`] builds TLS and routes, binds, and runs the accept loop; one
//!   task per connection, HTTP/1.1 or HTTP/2 on it, graceful shutdown with a bounded drain.
//!   [`quic`]: HTTP/3 on the same port (UDP) with `codec_type: http3`, the same CONNECT path.
//! - [`limits`]: connection caps below the file-descriptor limit, unauthenticated connections
//!   per client IP, HTTP head caps (the accept loop and its backoff are `porthole_io::accept`);
//!   [`idle`]: `timeout_idle` per connection.
//! - [`tls`]: server certificates by SNI; client certificates requested, checked, or required.
//!   [`self_signed`]: the certificate generated and kept beside the config when none is set.
//! - [`connect`]: a CONNECT → [`route`] by authority → client certificate → [`token`] →
//!   [`policy`] → [`upstream`] (dial, or chain through a forward proxy) → `porthole_io::relay`.
//!   [`connect_udp`]: CONNECT-UDP over HTTP/1.1 (`udp+` routes), admitted the same way, its
//!   datagram capsules relayed to a UDP socket.
//! - [`login`]: the login API, the OpenID Connect sign-in and callback; state in a [`seal`]ed
//!   cookie so replicas need no shared memory. [`oidc`]: the provider's discovery and keys,
//!   refreshed hourly and when an ID token's key is unknown (key rotation needs no restart).
//! - [`reply`]: the HTTP answers.
//!
//! Live access (what changes while tunnels run):
//!
//! - [`snapshot`]: the routes, policies, certificates and timeouts in force, swapped whole.
//! - [`reload`]: SIGHUP or a file change ([`watch`]) → validate → swap → re-check tunnels.
//! - [`tunnels`]: the registry of live tunnels; revocation (policy changed, session expired).
//! - [`drain`]: graceful shutdown with a bounded drain and its counts.
#![forbid(unsafe_code)]

pub mod config;
pub mod connect;
pub mod connect_udp;
pub mod drain;
pub mod idle;
pub mod limits;
pub mod login;
pub mod oidc;
pub mod policy;
pub mod quic;
pub mod reload;
pub mod reply;
pub mod route;
pub mod seal;
pub mod self_signed;
pub mod server;
pub mod snapshot;
pub mod tls;
pub mod token;
pub mod tunnels;
pub mod upstream;
pub mod watch;

pub use server::{Gateway, GatewayError, Running};
