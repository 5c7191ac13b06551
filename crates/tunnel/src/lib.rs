//! porthole-tunnel: the engine. Pomerium's "TCP over HTTP" client: destination grammar, TLS,
//! HTTP/1.1 CONNECT, login, relay, local listeners. No Tauri, no clap; nothing here prints.
//!
//! # Layout
//!
//! - [`target`]: the destination grammar (pomerium-cli's), → [`target::Target`].
//! - [`auth`]: tokens, the [`auth::TokenStore`] trait, the login flow.
//! - [`relay`]: bidirectional copy with 64 KiB buffers, half-close kept, bytes counted.
#![forbid(unsafe_code)]

pub mod auth;
pub mod relay;
pub mod target;
