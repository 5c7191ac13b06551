//! [`FileStore`]: tokens as files in the cache directory, the fallback for machines with no
//! keychain service (a headless Linux box). One file per origin under `<cache dir>/tokens/`,
//! named by the hex SHA-256 of the origin, holding the raw token; the directory is 0700, each
//! file 0600 and written atomically.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use porthole_tunnel::auth::{StoreError, Token, TokenStore};
use sha2::{Digest as _, Sha256};

use super::disk;
use super::origins::OriginIndex;

/// The subdirectory of the cache directory that holds token files.
pub const TOKENS_DIR: &str = "tokens";

/// Tokens kept as private files: `<cache dir>/tokens/<hex sha256(origin)>`, mode 0600, in a
/// 0700 directory. Each stored origin is also listed in the cache directory's
/// [`OriginIndex`]. Errors name the origin and the path, never the token.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    index: OriginIndex,
}

impl FileStore {
    /// A store in `<cache_dir>/tokens/` (created on the first [`TokenStore::store`]).
    pub fn new(cache_dir: &Path) -> Self {
        Self { dir: cache_dir.join(TOKENS_DIR), index: OriginIndex::new(cache_dir) }
    }

    /// The directory that holds the token files.
    pub fn location(&self) -> &Path {
        &self.dir
    }

    /// The file that holds (or would hold) the token for `origin`.
    pub fn path_for(&self, origin: &str) -> PathBuf {
        self.dir.join(file_name(origin))
    }

    /// Deletes every token file (and any temporary file a crashed write left), without
    /// needing the origins index, then the directory itself when nothing else is in it.
    /// Returns how many token files were deleted.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the directory cannot be read or a file cannot be removed.
    pub fn clear(&self) -> Result<usize, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.dir_error("read", &e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| self.dir_error("read", &e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_token = is_token_name(&name);
            let is_temp = name.starts_with('.') && name.ends_with(disk::TEMP_SUFFIX);
            if is_token || is_temp {
                disk::remove_if_exists(&entry.path()).map_err(|e| {
                    StoreError::Backend(format!("file token store: cannot remove {}: {e}", entry.path().display()))
                })?;
                removed += usize::from(is_token);
            }
        }
        // Fails harmlessly when someone left a file of their own there.
        let _ = fs::remove_dir(&self.dir);
        Ok(removed)
    }

    fn error(&self, action: &str, origin: &str, e: &io::Error) -> StoreError {
        StoreError::Backend(format!(
            "file token store: cannot {action} the token for {origin} ({}): {e}",
            self.path_for(origin).display()
        ))
    }

    fn dir_error(&self, action: &str, e: &io::Error) -> StoreError {
        StoreError::Backend(format!("file token store: cannot {action} {}: {e}", self.dir.display()))
    }
}

impl TokenStore for FileStore {
    fn load(&self, origin: &str) -> Result<Option<Token>, StoreError> {
        let text = disk::read_if_exists(&self.path_for(origin)).map_err(|e| self.error("read", origin, &e))?;
        Ok(text.map(Token::new).filter(|t| !t.expose().is_empty()))
    }

    fn store(&self, origin: &str, token: &Token) -> Result<(), StoreError> {
        disk::ensure_private_dir(&self.dir).map_err(|e| self.dir_error("create", &e))?;
        disk::write_private(&self.path_for(origin), token.expose().as_bytes())
            .map_err(|e| self.error("write", origin, &e))?;
        self.index.add(origin)
    }

    fn delete(&self, origin: &str) -> Result<(), StoreError> {
        disk::remove_if_exists(&self.path_for(origin)).map_err(|e| self.error("delete", origin, &e))?;
        self.index.remove(origin)
    }
}

/// The token file's name for `origin`: the lowercase hex SHA-256 of the origin's bytes, so
/// file names reveal nothing about the proxies and need no escaping.
pub fn file_name(origin: &str) -> String {
    Sha256::digest(origin.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn is_token_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
