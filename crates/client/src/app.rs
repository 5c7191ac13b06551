//! [`App`]: the one API the desktop shell and the CLI call — saved connections, running
//! tunnels with their status and logs, import/export, sign-in state and settings — and the
//! [`AppEvent`]s it publishes.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use porthole_tunnel::auth::{Authenticator, Browser, TokenStore};
use tokio::sync::broadcast;

use crate::connections::Connections;
use crate::error::{AppError, ErrorCode};
use crate::model::{
    ConnectionStatus, ConnectionView, ImportReport, LogEntry, LogEvent, Profile, ProfileDraft, Settings, StatusEvent,
};
use crate::profiles::ProfileStore;
use crate::secrets::{KeyringSecrets, SecretStore};
use crate::{import_export, settings, tokens, tunnel_options, validate};

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
    /// system browser, five-minute logins, and the certificate store the CLI uses too
    /// ([`tunnel_options::cert_store_dir`]).
    pub fn from_env() -> Self {
        Self {
            config_dir: crate::profiles::config_dir(),
            cache_dir: tokens::cache_location(),
            tokens: tokens::default_store().0,
            secrets: Arc::new(KeyringSecrets),
            browser: Browser::System,
            login_timeout: tunnel_options::DEFAULT_LOGIN_TIMEOUT,
            cert_store_dir: tunnel_options::cert_store_dir(),
        }
    }
}

impl AppOptions {
    /// An app that keeps everything under `dir` (config, token cache, certificate store), its
    /// tokens and keys in memory, shows login URLs without opening them and gives a login five
    /// seconds: it touches nothing else of the machine (tests, tools). Change a field with
    /// `AppOptions { tokens, ..AppOptions::isolated(dir) }`.
    #[must_use]
    pub fn isolated(dir: &std::path::Path) -> Self {
        Self {
            config_dir: dir.join("config"),
            cache_dir: dir.join("cache"),
            tokens: Arc::new(tokens::MemoryStore::default()),
            secrets: Arc::new(crate::secrets::MemorySecrets::default()),
            browser: Browser::Print,
            login_timeout: Duration::from_secs(5),
            cert_store_dir: dir.join("certs"),
        }
    }
}

/// What every clone of one [`App`] shares.
pub(crate) struct AppState {
    pub(crate) profiles: Mutex<ProfileStore>,
    /// One login per proxy origin across every tunnel of this app.
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) tokens: Arc<dyn TokenStore>,
    pub(crate) cache_dir: PathBuf,
    pub(crate) browser: Browser,
    pub(crate) login_timeout: Duration,
    pub(crate) cert_store_dir: PathBuf,
    /// Held while a tunnel is started or taken out, so a profile is started at most once.
    pub(crate) transitions: tokio::sync::Mutex<()>,
    /// Status, log and live tunnel of each connection.
    pub(crate) connections: Connections,
    /// Origins logged in to during this run (the origins index may not list them yet).
    pub(crate) origins: Mutex<HashSet<String>>,
    pub(crate) events: broadcast::Sender<AppEvent>,
    /// The last routes-portal preview of each server, until it is accepted.
    pub(crate) portal_previews: Mutex<HashMap<String, crate::portal::PortalPreview>>,
}

/// Locks a std mutex, shrugging off poisoning (the data stays consistent per call).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The application: one per process, cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) state: Arc<AppState>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("profiles", &*lock(&self.state.profiles)).finish_non_exhaustive()
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
            state: Arc::new(AppState {
                profiles: Mutex::new(profiles),
                auth: Arc::new(Authenticator::new(options.tokens.clone(), None)),
                tokens: options.tokens,
                cache_dir: options.cache_dir,
                browser: options.browser,
                login_timeout: options.login_timeout,
                cert_store_dir: options.cert_store_dir,
                transitions: tokio::sync::Mutex::new(()),
                connections: Connections::default(),
                origins: Mutex::new(HashSet::new()),
                events,
                portal_previews: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// A new subscription to the app's events.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.state.events.subscribe()
    }

    /// Every saved connection with its status, sorted by name (case-insensitively).
    pub fn list_connections(&self) -> Vec<ConnectionView> {
        let profiles: Vec<Profile> = lock(&self.state.profiles).list().to_vec();
        let status = self.state.connections.statuses();
        let mut views: Vec<ConnectionView> = profiles
            .into_iter()
            .map(|profile| {
                let status = status.get(&profile.id).cloned().unwrap_or_default();
                let idle = matches!(status, ConnectionStatus::Idle | ConnectionStatus::Error { .. });
                let port_in_use =
                    idle && validate::fixed_listen_addr(profile.listen_addr.as_deref()).is_some_and(port_taken);
                let reconnect_to_apply = self.state.connections.is_stale(&profile.id);
                let proxy_origin =
                    porthole_tunnel::target::parse(&profile.destination, profile.pomerium_url.as_deref())
                        .ok()
                        .map(|t| t.proxy.origin());
                ConnectionView { profile, status, port_in_use, reconnect_to_apply, proxy_origin }
            })
            .collect();
        views.sort_by_key(|v| v.profile.name.to_lowercase());
        views
    }

    /// Opens `url` (a login page) the way logins do: `PORTHOLE_BROWSER_CMD`'s program when the
    /// app was given one, else the system browser.
    ///
    /// # Errors
    /// `io` with a sentence when no browser could be started (the UI then shows the URL).
    pub fn open_url(&self, url: &str) -> Result<(), AppError> {
        self.state.browser.open(url).map_err(|e| {
            let why = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .map_or_else(|| e.to_string(), crate::error::io_words);
            AppError::new(ErrorCode::Io, format!("No browser could be opened ({why}). Open the address yourself."))
        })
    }

    /// What saving `draft` would reject, and whether its fixed local address is taken right
    /// now by something other than this connection's own listener. Saves nothing.
    pub fn check_connection(&self, draft: &ProfileDraft) -> DraftCheck {
        let (fields, saved) = {
            let store = lock(&self.state.profiles);
            let saved = draft.id.as_deref().and_then(|id| store.get(id)).cloned();
            (store.validate(draft), saved)
        };
        let addr = validate::fixed_listen_addr(draft.listen_addr.as_deref());
        let own = saved.is_some_and(|p| {
            let running = !matches!(self.status(&p.id), ConnectionStatus::Idle | ConnectionStatus::Error { .. });
            running && validate::fixed_listen_addr(p.listen_addr.as_deref()) == addr
        });
        DraftCheck { fields, port_in_use: !own && addr.is_some_and(port_taken) }
    }

    /// One saved profile.
    ///
    /// # Errors
    /// `not_found`.
    pub fn profile(&self, id: &str) -> Result<Profile, AppError> {
        lock(&self.state.profiles).get(id).cloned().ok_or_else(|| AppError::no_profile(id))
    }

    /// Validates and saves a draft (new id when `draft.id` is null).
    ///
    /// # Errors
    /// `invalid` with every field problem; `not_found`; `io`; `keychain`.
    pub fn save_connection(&self, draft: &ProfileDraft) -> Result<Profile, AppError> {
        let profile = lock(&self.state.profiles).save(draft)?;
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
        lock(&self.state.profiles).delete(id)?;
        self.state.connections.remove(id);
        self.emit(AppEvent::ConnectionsChanged);
        Ok(())
    }

    /// Copies a profile (name + " (copy)", listen address cleared).
    ///
    /// # Errors
    /// `not_found`; `io`; `keychain`.
    pub fn duplicate_connection(&self, id: &str) -> Result<Profile, AppError> {
        let copy = lock(&self.state.profiles).duplicate(id)?;
        self.emit(AppEvent::ConnectionsChanged);
        Ok(copy)
    }

    /// A connection's log, oldest first (at most 500 lines).
    pub fn logs(&self, id: &str) -> Vec<LogEntry> {
        self.state.connections.logs(id)
    }

    /// A connection's status.
    pub fn status(&self, id: &str) -> ConnectionStatus {
        self.state.connections.status(id)
    }

    /// Imports Pomerium Desktop JSON, de-duplicating.
    ///
    /// # Errors
    /// `import`; `io`; `keychain`.
    pub fn import_connections(&self, json: &str) -> Result<ImportReport, AppError> {
        let report = import_export::import(&mut lock(&self.state.profiles), json)?;
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
        porthole_fields: bool,
    ) -> Result<String, AppError> {
        import_export::export(&lock(&self.state.profiles), ids, include_tags, include_private_keys, porthole_fields)
    }

    /// Signs out of `origin`: its token is deleted everywhere.
    ///
    /// # Errors
    /// `keychain` when the token store fails.
    pub async fn sign_out(&self, origin: &str) -> Result<(), AppError> {
        // First the engine's copy (a token an unwritable store refused lives only there), so a
        // store that fails below still leaves this process signed out.
        self.state.auth.forget(origin).await;
        let (store, dir, o) = (self.state.tokens.clone(), self.state.cache_dir.clone(), origin.to_owned());
        tokio::task::spawn_blocking(move || tokens::logout(store.as_ref(), &dir, &o))
            .await
            .map_err(|e| AppError::new(ErrorCode::Keychain, e.to_string()))?
            .map_err(|e| AppError::new(ErrorCode::Keychain, e.to_string()))?;
        lock(&self.state.origins).remove(origin);
        Ok(())
    }

    fn config_dir(&self) -> PathBuf {
        lock(&self.state.profiles).dir().to_owned()
    }

    /// The settings (defaults when none were saved).
    ///
    /// # Errors
    /// `io` when settings.json is unreadable or corrupt.
    pub fn get_settings(&self) -> Result<Settings, AppError> {
        settings::load(&self.config_dir())
    }

    /// Saves the settings (atomically: a failed save leaves the old file).
    ///
    /// # Errors
    /// `io`.
    pub fn set_settings(&self, settings: &Settings) -> Result<Settings, AppError> {
        settings::save(&self.config_dir(), settings)?;
        Ok(settings.clone())
    }

    pub(crate) fn emit(&self, event: AppEvent) {
        let _ = self.state.events.send(event);
    }
}

/// The answer of [`App::check_connection`]: what saving would reject, and whether the local
/// address is taken now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct DraftCheck {
    /// The problems saving would report, each with its field.
    pub fields: Vec<crate::model::FieldError>,
    /// The fixed local address is held by another program or connection.
    pub port_in_use: bool,
}

/// `true` when binding `addr` fails because something else holds it.
pub(crate) fn port_taken(addr: std::net::SocketAddr) -> bool {
    matches!(std::net::TcpListener::bind(addr), Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
}
