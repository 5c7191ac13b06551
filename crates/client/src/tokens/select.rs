//! Choosing the token store: the keychain when a keychain service answers, else the file
//! store with a reason the front end shows once; `PORTHOLE_TOKEN_STORE` forces a choice.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use porthole_tunnel::auth::{MemoryStore, TokenStore};

use super::file::FileStore;
use super::keychain::{self, KeychainStore};

/// The environment variable that forces a store: `keychain`, `file` or `memory`.
pub const STORE_ENV: &str = "PORTHOLE_TOKEN_STORE";

/// A store a user (or a test) can ask for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The OS keychain, without probing it first.
    Keychain,
    /// Private files in the cache directory.
    File,
    /// Memory only: nothing outlives the process.
    Memory,
}

impl FromStr for StoreChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keychain" => Ok(Self::Keychain),
            "file" => Ok(Self::File),
            "memory" => Ok(Self::Memory),
            other => Err(format!("{STORE_ENV}={other:?} is not one of keychain, file, memory")),
        }
    }
}

/// Which store was chosen, and why when it is not the keychain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// The OS keychain.
    Keychain,
    /// Private files in `path` (the tokens directory), because of `reason`.
    File {
        /// The directory that holds the token files.
        path: PathBuf,
        /// Why the keychain is not used, e.g. `no keychain service reachable (…)`.
        reason: String,
    },
    /// Memory only (asked for with [`STORE_ENV`]`=memory`).
    Memory,
}

impl StoreKind {
    /// The sentence a front end shows once, loudly, when tokens are not in the keychain;
    /// `None` for the keychain.
    pub fn warning(&self) -> Option<String> {
        match self {
            Self::Keychain => None,
            Self::File { path, reason } => Some(format!("{reason}; tokens are kept in {} (mode 0600)", path.display())),
            Self::Memory => Some(format!("{STORE_ENV}=memory: tokens are kept in memory and forgotten on exit")),
        }
    }
}

/// The store for this machine, in [`cache_location`](super::cache_location): the keychain when
/// its service answers [`KeychainStore::probe`], else [`FileStore`] with the reason. A valid
/// [`STORE_ENV`] forces the choice; an unknown value is logged as a warning and the choice is
/// made automatically.
///
/// Blocks for the probe (a few seconds at most when the keychain service hangs).
pub fn default_store() -> (Arc<dyn TokenStore>, StoreKind) {
    let cache_dir = super::cache_location();
    match std::env::var(STORE_ENV) {
        Ok(value) if !value.trim().is_empty() => match value.parse::<StoreChoice>() {
            Ok(choice) => store_in(&cache_dir, Some(choice)),
            Err(e) => {
                tracing::warn!("{e}; choosing automatically");
                store_in(&cache_dir, None)
            }
        },
        _ => store_in(&cache_dir, None),
    }
}

/// The store in `cache_dir`: `choice` when given, else the keychain if [`KeychainStore::probe`]
/// succeeds and the file store otherwise. [`default_store`] without the environment.
pub fn store_in(cache_dir: &Path, choice: Option<StoreChoice>) -> (Arc<dyn TokenStore>, StoreKind) {
    let file = |reason: String| -> (Arc<dyn TokenStore>, StoreKind) {
        let store = FileStore::new(cache_dir);
        let kind = StoreKind::File { path: store.location().to_owned(), reason };
        (Arc::new(store), kind)
    };
    match choice {
        Some(StoreChoice::Keychain) => (Arc::new(KeychainStore::new(cache_dir)), StoreKind::Keychain),
        Some(StoreChoice::File) => file(format!("the file store was chosen with {STORE_ENV}=file")),
        Some(StoreChoice::Memory) => (Arc::new(MemoryStore::default()), StoreKind::Memory),
        None => match KeychainStore::probe() {
            Ok(()) => (Arc::new(KeychainStore::new(cache_dir)), StoreKind::Keychain),
            Err(why) => {
                tracing::debug!(backend = keychain::backend(), reason = %why, "keychain unreachable");
                file(format!("no keychain service reachable ({}: {why})", keychain::backend()))
            }
        },
    }
}
