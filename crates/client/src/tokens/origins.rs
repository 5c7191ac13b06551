//! The origins index: `origins.json` in the cache directory, the list of proxy origins that
//! have a stored token. It holds no secrets. Keychains cannot be listed by service in every OS,
//! so `cache clear` and "log out of everything" read this list to find the entries to delete.

use std::path::{Path, PathBuf};

use porthole_tunnel::auth::StoreError;

use super::disk;

/// The index file's name inside the cache directory.
pub const INDEX_FILE: &str = "origins.json";

/// The list of origins with a stored token, kept in `<cache dir>/origins.json` as a sorted
/// JSON array of strings, written atomically with mode 0600.
///
/// Two processes that update it at the same instant may lose one addition (last rename wins);
/// the file itself is never torn. A lost entry only means `clear` misses that keychain entry.
#[derive(Debug, Clone)]
pub struct OriginIndex {
    path: PathBuf,
}

impl OriginIndex {
    /// The index in `cache_dir` (nothing is read or created yet).
    pub fn new(cache_dir: &Path) -> Self {
        Self { path: cache_dir.join(INDEX_FILE) }
    }

    /// Where the index file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The origins in the index, sorted. A missing file is an empty list; an unreadable or
    /// malformed one is reported (`tracing` warning) and treated as empty, so that a damaged
    /// index never blocks a login.
    pub fn list(&self) -> Vec<String> {
        match disk::read_if_exists(&self.path) {
            Ok(None) => Vec::new(),
            Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(path = %self.path.display(), error = %e, "origins index is malformed; ignoring it");
                Vec::new()
            }),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "origins index is unreadable; ignoring it");
                Vec::new()
            }
        }
    }

    /// Adds `origin` (no change when it is already listed).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be written.
    pub fn add(&self, origin: &str) -> Result<(), StoreError> {
        let mut origins = self.list();
        if origins.iter().any(|o| o == origin) {
            return Ok(());
        }
        origins.push(origin.to_owned());
        self.write(origins)
    }

    /// Removes `origin` (no change when it is not listed).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be written.
    pub fn remove(&self, origin: &str) -> Result<(), StoreError> {
        let mut origins = self.list();
        let before = origins.len();
        origins.retain(|o| o != origin);
        if origins.len() == before {
            return Ok(());
        }
        self.write(origins)
    }

    /// Deletes the index file.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file exists and cannot be removed.
    pub fn clear(&self) -> Result<(), StoreError> {
        disk::remove_if_exists(&self.path).map_err(|e| self.error("remove", &e))
    }

    fn write(&self, mut origins: Vec<String>) -> Result<(), StoreError> {
        origins.sort();
        origins.dedup();
        let json = serde_json::to_vec_pretty(&origins).map_err(|e| self.error("encode", &e))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        disk::ensure_private_dir(dir).map_err(|e| self.error("create the directory of", &e))?;
        disk::write_private(&self.path, &json).map_err(|e| self.error("write", &e))
    }

    fn error(&self, action: &str, e: &dyn std::fmt::Display) -> StoreError {
        StoreError::Backend(format!("cannot {action} the origins index {}: {e}", self.path.display()))
    }
}
