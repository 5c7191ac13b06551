//! [`App`]: the one API the desktop shell and the CLI call — saved connections, running
//! tunnels with their status and logs, import/export, sign-in state and settings — and the
//! [`AppEvent`]s it publishes.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use porthole_tunnel::auth::{Authenticator, Browser, TokenStore};
use tokio::sync::broadcast;

use crate::error::{AppError, ErrorCode};
use crate::logs::LogRing;
use crate::model::{
    ConnectionStatus, ConnectionView, ImportReport, LogEntry, LogEvent, Profile, ProfileDraft, Settings, StatusEvent,
};
use crate::profiles::{ProfileStore, write_atomic};
use crate::running::Running;
use crate::secrets::{KeyringSecrets, SecretStore};
use crate::{import_export, tokens, validate};

/// The settings file, beside `connections.json`.
pub const SETTINGS_FILE: &str = "settings.json";

/// What the UI hears: `status`, `log` and `connections-changed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// A connection's status changed.
    Status(StatusEvent),
    /// A connection logged a line.
    Log(LogEvent),
    /// Profiles were saved, deleted or imported: reload the list.
    ConnectionsChanged,
}

impl AppEvent {
    /// The event name (`status`, `log`, `connections-changed`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::Log(_) => "log",
            Self::ConnectionsChanged => "connections-changed",
        }
    }

    /// The JSON payload (`null` for `connections-changed`).
    pub fn payload(&self) -> serde_json::Value {
        match self {
            Self::Status(e) => serde_json::to_value(e).unwrap_or_default(),
            Self::Log(e) => serde_json::to_value(e).unwrap_or_default(),
            Self::ConnectionsChanged => serde_json::Value::Null,
        }
    }
}

/// How an [`App`] is put together; [`AppOptions::from_env`] for the real thing.
pub struct AppOptions {
    /// Where `connections.json`, `settings.json` and imported certificates live.
    pub config_dir: PathBuf,
    /// The token cache directory (origins index, file tokens).
    pub cache_dir: PathBuf,
    /// Where session tokens are kept.
    pub tokens: Arc<dyn TokenStore>,
    /// Where client private keys are kept.
    pub secrets: Arc<dyn SecretStore>,
    /// How login URLs are opened.
    pub browser: Browser,
    /// How long a login may take.
    pub login_timeout: Duration,
    /// The certificate store directory for `clientCert.kind = "store"` (Linux).
    pub cert_store_dir: PathBuf,
}

impl AppOptions {
    /// The config dir from `PORTHOLE_CONFIG_DIR` or the OS, the token store from
    /// [`tokens::default_store`] (blocks for the keychain probe), keys in the keychain, the
    /// system browser, five-minute logins.
    pub fn from_env() -> Self {
        let config_dir = crate::profiles::config_dir();
        let cert_store_dir =
            std::env::var_os("PORTHOLE_CERT_DIR").map_or_else(|| config_dir.join("certs"), PathBuf::from);
        Self {
            cache_dir: tokens::cache_location(),
            tokens: tokens::default_store().0,
            secrets: Arc::new(KeyringSecrets),
            browser: Browser::System,
            login_timeout: Duration::from_secs(300),
            cert_store_dir,
            config_dir,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) profiles: Mutex<ProfileStore>,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) tokens: Arc<dyn TokenStore>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) browser: Browser,
    pub(crate) login_timeout: Duration,
    pub(crate) cert_store_dir: PathBuf,
    pub(crate) running: tokio::sync::Mutex<HashMap<String, Running>>,
    pub(crate) status: Mutex<HashMap<String, ConnectionStatus>>,
    pub(crate) logs: Mutex<HashMap<String, LogRing>>,
    pub(crate) origins: Mutex<HashSet<String>>,
    pub(crate) runs: Mutex<HashMap<String, u64>>,
    pub(crate) events: broadcast::Sender<AppEvent>,
}

/// Locks a std mutex, shrugging off poisoning (the data stays consistent per call).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The application: one per process, cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("profiles", &*lock(&self.shared.profiles)).finish_non_exhaustive()
    }
}

impl App {
    /// Opens the profile store and sets up the tunnels' shared login state.
    ///
    /// # Errors
    /// `io` when `connections.json` cannot be read (corrupt: path and line in the message).
    pub fn open(options: AppOptions) -> Result<Self, AppError> {
        let profiles = ProfileStore::open(&options.config_dir, options.secrets)?;
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            shared: Arc::new(Shared {
                profiles: Mutex::new(profiles),
                auth: Arc::new(Authenticator::new(options.tokens.clone(), None)),
                tokens: options.tokens,
                cache_dir: options.cache_dir,
                browser: options.browser,
                login_timeout: options.login_timeout,
                cert_store_dir: options.cert_store_dir,
                running: tokio::sync::Mutex::new(HashMap::new()),
                status: Mutex::new(HashMap::new()),
                logs: Mutex::new(HashMap::new()),
                origins: Mutex::new(HashSet::new()),
                runs: Mutex::new(HashMap::new()),
                events,
            }),
        })
    }

    /// A new subscription to the app's events.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.shared.events.subscribe()
    }

    /// Every saved connection with its status, sorted by name (case-insensitively).
    pub fn list_connections(&self) -> Vec<ConnectionView> {
        let profiles: Vec<Profile> = lock(&self.shared.profiles).list().to_vec();
        let status = lock(&self.shared.status).clone();
        let mut views: Vec<ConnectionView> = profiles
            .into_iter()
            .map(|profile| {
                let status = status.get(&profile.id).cloned().unwrap_or_default();
                let idle = matches!(status, ConnectionStatus::Idle | ConnectionStatus::Error { .. });
                let port_in_use =
                    idle && validate::fixed_listen_addr(profile.listen_addr.as_deref()).is_some_and(port_taken);
                ConnectionView { profile, status, port_in_use }
            })
            .collect();
        views.sort_by_key(|v| v.profile.name.to_lowercase());
        views
    }

    /// One saved profile.
    ///
    /// # Errors
    /// `not_found`.
    pub fn profile(&self, id: &str) -> Result<Profile, AppError> {
        lock(&self.shared.profiles).get(id).cloned().ok_or_else(|| AppError::no_profile(id))
    }

    /// Validates and saves a draft (new id when `draft.id` is null).
    ///
    /// # Errors
    /// `invalid` with every field problem; `not_found`; `io`; `keychain`.
    pub fn save_connection(&self, draft: &ProfileDraft) -> Result<Profile, AppError> {
        let profile = lock(&self.shared.profiles).save(draft)?;
        self.emit(AppEvent::ConnectionsChanged);
        Ok(profile)
    }

    /// Disconnects, then deletes a profile and its key.
    ///
    /// # Errors
    /// `not_found`; `io`; `keychain`.
    pub async fn delete_connection(&self, id: &str) -> Result<(), AppError> {
        self.profile(id)?;
        self.disconnect(id).await?;
        lock(&self.shared.profiles).delete(id)?;
        lock(&self.shared.status).remove(id);
        lock(&self.shared.logs).remove(id);
        self.emit(AppEvent::ConnectionsChanged);
        Ok(())
    }

    /// Copies a profile (name + " (copy)", listen address cleared).
    ///
    /// # Errors
    /// `not_found`; `io`; `keychain`.
    pub fn duplicate_connection(&self, id: &str) -> Result<Profile, AppError> {
        let copy = lock(&self.shared.profiles).duplicate(id)?;
        self.emit(AppEvent::ConnectionsChanged);
        Ok(copy)
    }

    /// A connection's log, oldest first (at most 500 lines).
    pub fn logs(&self, id: &str) -> Vec<LogEntry> {
        lock(&self.shared.logs).get(id).map(LogRing::to_vec).unwrap_or_default()
    }

    /// A connection's status.
    pub fn status(&self, id: &str) -> ConnectionStatus {
        lock(&self.shared.status).get(id).cloned().unwrap_or_default()
    }

    /// Imports Pomerium Desktop JSON, de-duplicating.
    ///
    /// # Errors
    /// `import`; `io`; `keychain`.
    pub fn import_connections(&self, json: &str) -> Result<ImportReport, AppError> {
        let report = import_export::import(&mut lock(&self.shared.profiles), json)?;
        self.emit(AppEvent::ConnectionsChanged);
        Ok(report)
    }

    /// Exports profiles as Pomerium Desktop JSON (all when `ids` is `None`).
    ///
    /// # Errors
    /// `not_found`; `io`; `keychain`.
    pub fn export_connections(
        &self,
        ids: Option<&[String]>,
        include_tags: bool,
        include_private_keys: bool,
    ) -> Result<String, AppError> {
        import_export::export(&lock(&self.shared.profiles), ids, include_tags, include_private_keys)
    }

    /// Proxy origins that have a stored token.
    pub async fn signed_in(&self) -> Vec<String> {
        let mut origins: HashSet<String> =
            tokens::OriginIndex::new(&self.shared.cache_dir).list().into_iter().collect();
        origins.extend(lock(&self.shared.origins).iter().cloned());
        let store = self.shared.tokens.clone();
        let mut list = tokio::task::spawn_blocking(move || {
            origins.into_iter().filter(|o| matches!(store.load(o), Ok(Some(_)))).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        list.sort();
        list
    }

    /// Signs out of `origin`: its token is deleted everywhere.
    ///
    /// # Errors
    /// `keychain` when the token store fails.
    pub async fn sign_out(&self, origin: &str) -> Result<(), AppError> {
        // First the engine's copy (a token an unwritable store refused lives only there), so a
        // store that fails below still leaves this process signed out.
        self.shared.auth.forget(origin).await;
        let (store, dir, o) = (self.shared.tokens.clone(), self.shared.cache_dir.clone(), origin.to_owned());
        tokio::task::spawn_blocking(move || tokens::logout(store.as_ref(), &dir, &o))
            .await
            .map_err(|e| AppError::new(ErrorCode::Keychain, e.to_string()))?
            .map_err(|e| AppError::new(ErrorCode::Keychain, e.to_string()))?;
        lock(&self.shared.origins).remove(origin);
        Ok(())
    }

    fn settings_path(&self) -> PathBuf {
        lock(&self.shared.profiles).dir().join(SETTINGS_FILE)
    }

    /// The settings (defaults when none were saved).
    ///
    /// # Errors
    /// `io` when settings.json is unreadable or corrupt.
    pub fn get_settings(&self) -> Result<Settings, AppError> {
        let path = self.settings_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                AppError::new(ErrorCode::Io, format!("{} is corrupt at line {}: {e}", path.display(), e.line()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(AppError::io("read", &path, &e)),
        }
    }

    /// Saves the settings.
    ///
    /// # Errors
    /// `io`.
    pub fn set_settings(&self, settings: &Settings) -> Result<Settings, AppError> {
        let path = self.settings_path();
        let json = serde_json::to_vec_pretty(settings).map_err(|e| AppError::new(ErrorCode::Io, e.to_string()))?;
        write_atomic(&path, &json).map_err(|e| AppError::io("save", &path, &e))?;
        Ok(settings.clone())
    }

    pub(crate) fn emit(&self, event: AppEvent) {
        let _ = self.shared.events.send(event);
    }
}

/// `true` when binding `addr` fails because something else holds it.
pub(crate) fn port_taken(addr: std::net::SocketAddr) -> bool {
    matches!(std::net::TcpListener::bind(addr), Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
}
