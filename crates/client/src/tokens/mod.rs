//! Where session tokens live on this machine: the engine's [`TokenStore`] implemented over the
//! OS keychain ([`KeychainStore`]) and over private files ([`FileStore`], the fallback when no
//! keychain service answers), the choice between them ([`default_store`]), and what
//! `cache location`, `cache clear` and `logout` need.
//!
//! # Layout
//!
//! - `keychain`: [`KeychainStore`], service `porthole`, user = proxy origin.
//! - `file`: [`FileStore`], `<cache dir>/tokens/<hex sha256(origin)>`, 0600 files in a 0700 dir.
//! - `origins`: [`OriginIndex`], `<cache dir>/origins.json`, the origins that have a token.
//! - `select`: [`default_store`], [`StoreKind`] and its once-only warning, [`STORE_ENV`].
//! - `disk`: private directories and atomic private files.
//!
//! The cache directory is [`cache_location`]: `PORTHOLE_CACHE_DIR` when set, else the OS cache
//! directory for `porthole`. Tokens never appear in errors, logs or `Debug` output: errors name
//! the origin, the backend and the path.

mod disk;
mod file;
mod keychain;
mod origins;
mod select;

use std::path::{Path, PathBuf};

pub use file::{FileStore, TOKENS_DIR, file_name};
pub use keychain::{KeychainStore, SERVICE, backend};
pub use origins::{INDEX_FILE, OriginIndex};
pub use porthole_tunnel::auth::{MemoryStore, StoreError, Token, TokenStore};
pub use select::{STORE_ENV, StoreChoice, StoreKind, default_store, store_in};

/// The environment variable that overrides the cache directory (tests set it).
pub const CACHE_DIR_ENV: &str = "PORTHOLE_CACHE_DIR";

/// The cache directory: [`CACHE_DIR_ENV`] when set and not empty, else the OS cache directory
/// for `porthole` (`~/.cache/porthole` on Linux, `~/Library/Caches/porthole` on macOS,
/// `%LOCALAPPDATA%\porthole\cache` on Windows), else `porthole` in the temporary directory
/// when the OS names no home directory. `porthole cache location` prints it.
pub fn cache_location() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "porthole")
        .map(|dirs| dirs.cache_dir().to_owned())
        .unwrap_or_else(|| std::env::temp_dir().join("porthole"))
}

/// Logs out of `origin`: deletes its token from `store`, any token file a past fallback left
/// for it in `cache_dir`, and its line in the origins index.
///
/// # Errors
/// [`StoreError::Backend`] from the store or the file system, naming the origin.
pub fn logout(store: &dyn TokenStore, cache_dir: &Path, origin: &str) -> Result<(), StoreError> {
    store.delete(origin)?;
    FileStore::new(cache_dir).delete(origin)?;
    OriginIndex::new(cache_dir).remove(origin)
}

/// Empties the token cache (`porthole cache clear`, "log out of everything"): deletes the
/// token of every origin in the index from `store` (the only way to find keychain entries),
/// every token file in `cache_dir` (indexed or not), then the index. Returns the origins
/// whose tokens were deleted from `store`.
///
/// # Errors
/// The first [`StoreError::Backend`] met; what was deleted before it stays deleted, and the
/// index keeps the origins that still have a token, so the command can be run again.
pub fn clear_all(store: &dyn TokenStore, cache_dir: &Path) -> Result<Vec<String>, StoreError> {
    let index = OriginIndex::new(cache_dir);
    let origins = index.list();
    for origin in &origins {
        store.delete(origin)?;
        index.remove(origin)?;
    }
    FileStore::new(cache_dir).clear()?;
    index.clear()?;
    Ok(origins)
}
