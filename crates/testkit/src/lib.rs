//! Test support for Porthole (dev-dependency only).
#![forbid(unsafe_code)]
