//! porthole-tunnel: the engine. Pomerium's "TCP over HTTP" client: destination grammar, TLS,
//! HTTP/1.1 CONNECT, login, relay, local listeners. No Tauri, no clap; nothing here prints.
//!
//! # Layout
//!
//! A local connection flows down this list:
//!
//! - [`target`]: the destination grammar (pomerium-cli's), → [`target::Target`].
//! - [`tls`]: the client TLS configuration: roots, extra CA, client identity (PEM or store);
//!   [`tls::stream`] is rustls through tokio-rustls: handshake, records, alerts, close_notify.
//! - [`connect`]: HTTP/1.1 CONNECT to the proxy, → a tunnel stream or a [`connect::ConnectError`].
//! - [`auth`]: tokens, the [`auth::TokenStore`] trait, the login flow, one login per proxy.
//! - [`relay`]: bidirectional copy with 64 KiB buffers, half-close kept, bytes counted, an abort
//!   on one side passed on as a reset ([`io::Abort`]); [`copy`] lends the buffers from a
//!   [`pool`] only while bytes move, and notices a reset side while blocked writing the other.
//! - [`handle`]: [`handle::TunnelHandle`] (listener, peers, stop on drop) and stdio mode.
//! - [`events`]: [`events::TunnelEvent`], every state change, on a broadcast channel; a failure
//!   carries its [`code::ErrorCode`], the class the application layer shares.
#![forbid(unsafe_code)]

pub mod auth;
pub mod code;
pub mod connect;
pub mod copy;
pub mod events;
pub mod handle;
pub mod io;
pub mod pool;
pub mod relay;
pub mod target;
pub mod tls;
