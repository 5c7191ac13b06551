//! porthole-tunnel: the engine. Pomerium's "TCP over HTTP" client: destination grammar, TLS,
//! HTTP/1.1 CONNECT, login, relay, local listeners. No Tauri, no clap; nothing here prints.
//!
//! # Layout
//!
//! - [`target`]: the destination grammar (pomerium-cli's), → [`target::Target`].
//! - [`auth`]: tokens, the [`auth::TokenStore`] trait, the login flow.
//! - [`tls`]: the client TLS configuration: roots, extra CA, client identity (PEM or store).
//! - [`connect`]: HTTP/1.1 CONNECT to the proxy, → a tunnel stream or a [`connect::ConnectError`].
//! - [`relay`]: bidirectional copy with 64 KiB buffers, half-close kept, bytes counted.
#![forbid(unsafe_code)]

pub mod auth;
pub mod connect;
pub mod relay;
pub mod target;
pub mod tls;
