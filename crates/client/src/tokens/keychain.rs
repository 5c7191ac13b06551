//! [`KeychainStore`]: tokens in the OS keychain through the `keyring` crate (the Secret
//! Service on Linux and the BSDs, the login Keychain on macOS, the Credential Manager on
//! Windows), under service `porthole` and user = the proxy origin. The CLI and the desktop app
//! use the same entries, so a login in one is a login in the other.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use porthole_tunnel::auth::{StoreError, Token, TokenStore};

use super::origins::OriginIndex;

/// The keychain service name every Porthole entry is filed under.
pub const SERVICE: &str = "porthole";

/// The user name of the entry [`KeychainStore::probe`] looks up (and never creates).
const PROBE_USER: &str = "porthole-keychain-probe";

/// How long [`KeychainStore::probe`] waits for the keychain service to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Tokens in the OS keychain: service [`SERVICE`], user = origin. Each stored origin is also
/// listed in the cache directory's [`OriginIndex`], so that `cache clear` can find it.
///
/// Calls block on the keychain service (on Linux, a D-Bus round trip): call them from a
/// blocking context (`spawn_blocking`), as the engine does.
#[derive(Debug, Clone)]
pub struct KeychainStore {
    service: String,
    index: OriginIndex,
}

impl KeychainStore {
    /// A store under service [`SERVICE`], with its origins index in `cache_dir`.
    pub fn new(cache_dir: &Path) -> Self {
        Self { service: SERVICE.to_owned(), index: OriginIndex::new(cache_dir) }
    }

    /// Whether a keychain service answers, without storing anything: looks up an entry that
    /// is never created. "No such entry" means the service is there; a missing service, a
    /// locked keyring that would need a prompt, or no answer within a few seconds means it is
    /// not.
    ///
    /// # Errors
    /// A sentence saying why the keychain is unreachable, for the fallback warning.
    pub fn probe() -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        // A thread of its own: a hung D-Bus peer must not hang the caller, and the Linux
        // backend must not be driven from an async worker thread.
        std::thread::Builder::new()
            .name("porthole-keychain-probe".into())
            .spawn(move || {
                let outcome = keyring::Entry::new(SERVICE, PROBE_USER).and_then(|e| e.get_password());
                let _ = tx.send(match outcome {
                    Ok(_) | Err(keyring::Error::NoEntry | keyring::Error::Ambiguous(_)) => Ok(()),
                    Err(e) => Err(describe(&e)),
                });
            })
            .map_err(|e| format!("cannot start the keychain probe: {e}"))?;
        rx.recv_timeout(PROBE_TIMEOUT)
            .unwrap_or_else(|_| Err(format!("the keychain service did not answer within {PROBE_TIMEOUT:?}")))
    }

    fn entry(&self, origin: &str) -> Result<keyring::Entry, StoreError> {
        keyring::Entry::new(&self.service, origin).map_err(|e| error("open", origin, &e))
    }
}

impl TokenStore for KeychainStore {
    fn load(&self, origin: &str) -> Result<Option<Token>, StoreError> {
        match self.entry(origin)?.get_password() {
            Ok(raw) => Ok(Some(Token::new(raw)).filter(|t| !t.expose().is_empty())),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(error("read", origin, &e)),
        }
    }

    fn store(&self, origin: &str, token: &Token) -> Result<(), StoreError> {
        self.entry(origin)?.set_password(token.expose()).map_err(|e| error("store", origin, &e))?;
        self.index.add(origin)
    }

    fn delete(&self, origin: &str) -> Result<(), StoreError> {
        match self.entry(origin)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => {}
            Err(e) => return Err(error("delete", origin, &e)),
        }
        self.index.remove(origin)
    }
}

/// A keychain error as a [`StoreError`] naming the origin and the backend.
fn error(action: &str, origin: &str, e: &keyring::Error) -> StoreError {
    StoreError::Backend(format!("keychain ({}): cannot {action} the token for {origin}: {}", backend(), describe(e)))
}

/// Says what went wrong without ever printing stored data: `keyring`'s `BadEncoding` carries
/// the stored bytes and `Ambiguous` the matching entries, so neither is formatted.
fn describe(e: &keyring::Error) -> String {
    match e {
        keyring::Error::PlatformFailure(inner) => format!("the keychain service failed: {inner}"),
        keyring::Error::NoStorageAccess(inner) => {
            format!("the keychain cannot be used (locked or missing): {inner}")
        }
        keyring::Error::NoEntry => "no such entry".to_owned(),
        keyring::Error::BadEncoding(_) => "the stored value is not UTF-8".to_owned(),
        keyring::Error::Ambiguous(items) => format!("{} entries match; delete them and log in again", items.len()),
        keyring::Error::TooLong(attr, limit) => {
            format!("{attr} is longer than the keychain allows ({limit})")
        }
        keyring::Error::Invalid(attr, reason) => format!("{attr} is invalid: {reason}"),
        _ => "unknown keychain error".to_owned(),
    }
}

/// The keychain this build talks to, for messages.
pub fn backend() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service"
    }
}
