//! porthole-gateway: the server side of Pomerium's "TCP over HTTP" protocol.
//!
//! # Layout
//!
//! - [`config`]: YAML in Pomerium's key names → a validated [`config::Config`].
//! - [`policy`]: Pomerium Policy Language (the subset TCP routes use).
#![forbid(unsafe_code)]

pub mod config;
pub mod policy;
