//! porthole-tunnel: the engine. Pomerium's "TCP over HTTP" client: destination grammar, TLS,
//! HTTP/1.1 CONNECT, login, local listeners. No Tauri, no clap; nothing here prints. The data
//! plane under it (relay, TLS stream, CONNECT wire format, accept loop) is `porthole_io`, which
//! the gateway shares.
//!
//! # Layout
//!
//! A local connection flows down this list:
//!
//! - [`target`]: the destination grammar (pomerium-cli's), → [`target::Target`].
//! - [`tls`]: the client TLS configuration: roots, extra CA, client identity (PEM or store);
//!   the handshake and records are `porthole_io::tls` (rustls through tokio-rustls).
//! - [`connect`]: HTTP/1.1 CONNECT to the proxy (`porthole_io::connect` writes the request and
//!   reads the answer), → a tunnel stream or a [`connect::ConnectError`].
//! - [`auth`]: tokens, the [`auth::TokenStore`] trait, the login flow, one login per proxy.
//! - [`handle`]: [`handle::TunnelHandle`] (listener, peers, stop on drop) and stdio mode; the
//!   bytes move through `porthole_io::relay` (64 KiB buffers, half-close kept, aborts passed on).
//! - [`udp`]: UDP tunnels (`porthole udp`): one local socket, a tunnel per peer, datagrams
//!   over a pluggable transport (HTTP/1.1 capsules now).
//! - [`events`]: [`events::TunnelEvent`], every state change, on a broadcast channel; a failure
//!   carries its [`code::ErrorCode`], the class the application layer shares.
#![forbid(unsafe_code)]

pub mod auth;
pub mod code;
pub mod connect;
pub mod events;
pub mod handle;
pub mod target;
pub mod tls;
pub mod udp;
