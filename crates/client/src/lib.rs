//! porthole-client: the application layer the CLI and the desktop app share.
//!
//! # Layout
//!
//! - [`tokens`]: where session tokens live (OS keychain, or private files as a fallback), the
//!   choice between them, and `cache location` / `cache clear` / `logout`.
#![forbid(unsafe_code)]

pub mod tokens;
