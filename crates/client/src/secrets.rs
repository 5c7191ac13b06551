//! Where client private keys live: the OS keychain (service [`KEY_SERVICE`], user = profile
//! id) or, in tests, memory. Keys never go into `connections.json`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{AppError, ErrorCode};

/// The keychain service client private keys are stored under.
pub const KEY_SERVICE: &str = "porthole-client-key";

/// Keeps one secret (a PEM private key) per profile id.
pub trait SecretStore: Send + Sync + 'static {
    /// The secret for `id`, if any.
    ///
    /// # Errors
    /// `keychain` when the backend fails.
    fn get(&self, id: &str) -> Result<Option<String>, AppError>;
    /// Stores (replaces) the secret for `id`.
    ///
    /// # Errors
    /// `keychain` when the backend fails.
    fn set(&self, id: &str, secret: &str) -> Result<(), AppError>;
    /// Deletes the secret for `id` (no error if there was none).
    ///
    /// # Errors
    /// `keychain` when the backend fails.
    fn delete(&self, id: &str) -> Result<(), AppError>;
}

/// The OS keychain through `keyring`.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyringSecrets;

fn keychain_error(id: &str, e: &keyring::Error) -> AppError {
    AppError::new(ErrorCode::Keychain, format!("the keychain failed for the key of connection {id}: {e}"))
}

impl SecretStore for KeyringSecrets {
    fn get(&self, id: &str) -> Result<Option<String>, AppError> {
        let entry = keyring::Entry::new(KEY_SERVICE, id).map_err(|e| keychain_error(id, &e))?;
        match entry.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(id, &e)),
        }
    }

    fn set(&self, id: &str, secret: &str) -> Result<(), AppError> {
        let entry = keyring::Entry::new(KEY_SERVICE, id).map_err(|e| keychain_error(id, &e))?;
        entry.set_password(secret).map_err(|e| keychain_error(id, &e))
    }

    fn delete(&self, id: &str) -> Result<(), AppError> {
        let entry = keyring::Entry::new(KEY_SERVICE, id).map_err(|e| keychain_error(id, &e))?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(id, &e)),
        }
    }
}

/// Secrets in memory (tests).
#[derive(Debug, Default)]
pub struct MemorySecrets {
    map: Mutex<HashMap<String, String>>,
}

impl MemorySecrets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, id: &str) -> Result<Option<String>, AppError> {
        Ok(self.lock().get(id).cloned())
    }

    fn set(&self, id: &str, secret: &str) -> Result<(), AppError> {
        self.lock().insert(id.to_owned(), secret.to_owned());
        Ok(())
    }

    fn delete(&self, id: &str) -> Result<(), AppError> {
        self.lock().remove(id);
        Ok(())
    }
}
