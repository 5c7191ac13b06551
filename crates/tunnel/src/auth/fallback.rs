//! [`MemoryFallback`]: a layer in front of a [`TokenStore`] that keeps a token in memory for
//! the life of the process when the store cannot keep it (an unwritable cache directory, a
//! read-only or full file system, a keychain that refuses writes), so one login per proxy
//! still holds: the next connection finds the token here instead of opening another login.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{StoreError, Token, TokenStore};

/// Wraps a store: [`TokenStore::store`] that fails keeps the token in memory instead (and
/// says so once per instance, that is once per process: the [`Authenticator`] of a process
/// owns the only one); [`TokenStore::load`] answers from memory first, so a token kept there
/// is found even while the store's own `load` fails too.
///
/// [`Authenticator`]: super::Authenticator
pub struct MemoryFallback {
    inner: Arc<dyn TokenStore>,
    /// Tokens the inner store refused, by origin. Bounded by the number of proxies the
    /// process logs in to (one entry per origin, replaced on each login).
    kept: Mutex<HashMap<String, Token>>,
    warned: AtomicBool,
}

impl std::fmt::Debug for MemoryFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("MemoryFallback").field("kept", &kept).finish_non_exhaustive()
    }
}

impl MemoryFallback {
    /// A layer in front of `inner` with nothing kept yet.
    pub fn new(inner: Arc<dyn TokenStore>) -> Self {
        Self { inner, kept: Mutex::new(HashMap::new()), warned: AtomicBool::new(false) }
    }

    /// `true` when the token for `origin` lives only in this process's memory.
    pub fn kept_in_memory(&self, origin: &str) -> bool {
        self.kept().contains_key(origin)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, Token>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryFallback {
    fn load(&self, origin: &str) -> Result<Option<Token>, StoreError> {
        if let Some(t) = self.kept().get(origin) {
            return Ok(Some(t.clone()));
        }
        self.inner.load(origin)
    }

    /// Never fails: what the inner store refuses is kept in memory.
    fn store(&self, origin: &str, token: &Token) -> Result<(), StoreError> {
        match self.inner.store(origin, token) {
            Ok(()) => {
                self.kept().remove(origin);
            }
            Err(e) => {
                self.kept().insert(origin.to_owned(), token.clone());
                if self.warned.swap(true, Ordering::Relaxed) {
                    tracing::debug!(origin, error = %e, "could not store the token; kept in memory");
                } else {
                    tracing::warn!(
                        origin,
                        error = %e,
                        "could not store the token; it is kept in memory until this process exits (this warning is shown once)"
                    );
                }
            }
        }
        Ok(())
    }

    fn delete(&self, origin: &str) -> Result<(), StoreError> {
        self.kept().remove(origin);
        self.inner.delete(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose every call fails, like a file store under a regular file.
    struct Broken;

    impl TokenStore for Broken {
        fn load(&self, _: &str) -> Result<Option<Token>, StoreError> {
            Err(StoreError::Backend("read-only".into()))
        }
        fn store(&self, _: &str, _: &Token) -> Result<(), StoreError> {
            Err(StoreError::Backend("read-only".into()))
        }
        fn delete(&self, _: &str) -> Result<(), StoreError> {
            Err(StoreError::Backend("read-only".into()))
        }
    }

    #[test]
    fn a_refused_token_is_found_in_memory_while_load_still_fails() {
        let store = MemoryFallback::new(Arc::new(Broken));
        assert!(store.load("https://a").is_err(), "nothing kept yet: the inner error shows");
        store.store("https://a", &Token::new("t1")).expect("a refused store is kept in memory");
        assert_eq!(store.load("https://a").unwrap(), Some(Token::new("t1")), "found although the inner load fails");
        assert!(store.kept_in_memory("https://a"));
        assert!(store.load("https://b").is_err(), "other origins are not affected");
        let _ = store.delete("https://a");
        assert!(!store.kept_in_memory("https://a"), "delete (a refused token) forgets the memory copy too");
    }

    #[test]
    fn a_working_store_keeps_nothing_in_memory() {
        let inner = Arc::new(super::super::MemoryStore::default());
        let store = MemoryFallback::new(inner.clone());
        store.store("https://a", &Token::new("t1")).unwrap();
        assert!(!store.kept_in_memory("https://a"));
        assert_eq!(inner.load("https://a").unwrap(), Some(Token::new("t1")), "written through to the store");
    }
}
