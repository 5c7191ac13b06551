//! [`ProfileStore`]: saved connections in `connections.json` (`{ "version": 1, "profiles": [...] }`)
//! in the OS config directory, written atomically; client private keys in a [`SecretStore`].
//!
//! A file that cannot be read is an error naming its path and line; it is copied to
//! `connections.json.bak` and never overwritten silently.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};
use crate::model::{ClientCert, ClientCertDraft, Profile, ProfileDraft};
use crate::secrets::SecretStore;
use crate::validate::{self, non_empty};

/// The schema version this build writes and reads.
pub const VERSION: u32 = 1;
/// The profile file's name.
pub const FILE: &str = "connections.json";
/// The environment variable that overrides the config directory (tests set it).
pub const CONFIG_DIR_ENV: &str = "PORTHOLE_CONFIG_DIR";

/// The config directory: [`CONFIG_DIR_ENV`] when set, else the OS config dir for `porthole`.
pub fn config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "porthole")
        .map(|d| d.config_dir().to_owned())
        .unwrap_or_else(|| std::env::temp_dir().join("porthole-config"))
}

#[derive(Serialize, Deserialize)]
struct FileBody {
    version: u32,
    #[serde(default)]
    profiles: Vec<Profile>,
}

/// The saved connections and their keys.
pub struct ProfileStore {
    dir: PathBuf,
    profiles: Vec<Profile>,
    secrets: Arc<dyn SecretStore>,
}

impl std::fmt::Debug for ProfileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileStore").field("dir", &self.dir).field("profiles", &self.profiles.len()).finish()
    }
}

impl ProfileStore {
    /// Loads `dir/connections.json` (a missing file is an empty store).
    ///
    /// # Errors
    /// `io` when the file is unreadable or corrupt (the message names the path and line; the
    /// file is copied to `.bak`), or written by a newer version.
    pub fn open(dir: &Path, secrets: Arc<dyn SecretStore>) -> Result<Self, AppError> {
        let path = dir.join(FILE);
        let profiles = match fs::read_to_string(&path) {
            Ok(text) => parse(&path, &text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(AppError::io("read", &path, &e)),
        };
        Ok(Self { dir: dir.to_owned(), profiles, secrets })
    }

    /// The directory holding `connections.json` (and imported certificate files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The profile file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The key store.
    pub fn secrets(&self) -> &Arc<dyn SecretStore> {
        &self.secrets
    }

    /// Every profile, in file order.
    pub fn list(&self) -> &[Profile] {
        &self.profiles
    }

    /// One profile.
    pub fn get(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// Every problem with `draft`, each with its field.
    pub fn validate(&self, draft: &ProfileDraft) -> Vec<crate::model::FieldError> {
        let has_key = draft.id.as_deref().is_some_and(|id| {
            matches!(self.get(id).and_then(|p| p.client_cert.as_ref()), Some(ClientCert::Files { has_key: true, .. }))
        });
        validate::validate(draft, has_key)
    }

    /// Validates and saves `draft` (a new id when it has none); a key file is read into the
    /// key store, never into the profile file.
    ///
    /// # Errors
    /// `invalid` with every field problem; `not_found` for an unknown id; `keychain`; `io`.
    pub fn save(&mut self, draft: &ProfileDraft) -> Result<Profile, AppError> {
        let errors = self.validate(draft);
        if !errors.is_empty() {
            return Err(AppError::invalid(errors));
        }
        let id = match &draft.id {
            Some(id) if self.get(id).is_none() => return Err(AppError::no_profile(id)),
            Some(id) => id.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let client_cert = match &draft.client_cert {
            None => None,
            Some(ClientCertDraft::Store { issuer, subject }) => Some(ClientCert::Store {
                issuer: non_empty(issuer.as_deref()).map(str::to_owned),
                subject: non_empty(subject.as_deref()).map(str::to_owned),
            }),
            Some(ClientCertDraft::Files { cert_file, key_file }) => {
                if let Some(key) = non_empty(key_file.as_deref()) {
                    let pem = validate::pem_file(key, "PRIVATE KEY").map_err(|m| AppError::new(ErrorCode::Io, m))?;
                    self.secrets.set(&id, &pem)?;
                }
                Some(ClientCert::Files { cert_file: cert_file.trim().to_owned(), has_key: true })
            }
        };
        if !matches!(client_cert, Some(ClientCert::Files { .. })) {
            self.secrets.delete(&id)?;
        }
        let profile = Profile {
            id,
            name: draft.name.trim().to_owned(),
            destination: draft.destination.trim().to_owned(),
            listen_addr: non_empty(draft.listen_addr.as_deref()).map(str::to_owned),
            pomerium_url: non_empty(draft.pomerium_url.as_deref()).map(str::to_owned),
            protocol: draft.protocol,
            tags: clean_tags(&draft.tags),
            ca_file: non_empty(draft.ca_file.as_deref()).map(str::to_owned),
            disable_tls_verification: draft.disable_tls_verification,
            client_cert,
            autostart: draft.autostart,
            open_with: non_empty(draft.open_with.as_deref()).map(str::to_owned),
            source: draft.id.as_deref().and_then(|id| self.get(id)).and_then(|p| p.source.clone()),
        };
        self.put(profile.clone())?;
        Ok(profile)
    }

    /// Inserts or replaces `profile` as is (no validation) and writes the file.
    ///
    /// # Errors
    /// `io`; on failure the store in memory and on disk is unchanged.
    pub fn put(&mut self, profile: Profile) -> Result<(), AppError> {
        let mut next = self.profiles.clone();
        match next.iter_mut().find(|p| p.id == profile.id) {
            Some(slot) => *slot = profile,
            None => next.push(profile),
        }
        self.write(&next)?;
        self.profiles = next;
        Ok(())
    }

    /// Deletes a profile and its key.
    ///
    /// # Errors
    /// `not_found`, `io`, `keychain`.
    pub fn delete(&mut self, id: &str) -> Result<(), AppError> {
        if self.get(id).is_none() {
            return Err(AppError::no_profile(id));
        }
        let next: Vec<Profile> = self.profiles.iter().filter(|p| p.id != id).cloned().collect();
        self.write(&next)?;
        self.profiles = next;
        self.secrets.delete(id)
    }

    /// Copies a profile: name + " (copy)", no fixed listen address, its key copied too.
    ///
    /// # Errors
    /// `not_found`, `io`, `keychain`.
    pub fn duplicate(&mut self, id: &str) -> Result<Profile, AppError> {
        let original = self.get(id).ok_or_else(|| AppError::no_profile(id))?.clone();
        let copy = Profile {
            id: uuid::Uuid::new_v4().to_string(),
            name: format!("{} (copy)", original.name),
            listen_addr: None,
            ..original
        };
        if let Some(key) = self.secrets.get(id)? {
            self.secrets.set(&copy.id, &key)?;
        }
        self.put(copy.clone())?;
        Ok(copy)
    }

    fn write(&self, profiles: &[Profile]) -> Result<(), AppError> {
        let body = FileBody { version: VERSION, profiles: profiles.to_vec() };
        let mut json = serde_json::to_vec_pretty(&body).map_err(|e| AppError::new(ErrorCode::Io, e.to_string()))?;
        json.push(b'\n');
        let path = self.path();
        write_atomic(&path, &json).map_err(|e| AppError::io("save", &path, &e))
    }
}

/// Tags trimmed, inner whitespace collapsed, blanks and repeats dropped.
pub fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn parse(path: &Path, text: &str) -> Result<Vec<Profile>, AppError> {
    let corrupt = |what: String| {
        let bak = path.with_extension("json.bak");
        let kept = match fs::copy(path, &bak) {
            Ok(_) => format!("a copy was kept as {}", bak.display()),
            Err(e) => format!("a copy could not be kept ({e})"),
        };
        AppError::new(
            ErrorCode::Io,
            format!("{} is corrupt: {what}; it will not be overwritten, {kept}", path.display()),
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| corrupt(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(AppError::new(
                ErrorCode::Io,
                format!(
                    "{} was written by a newer Porthole (version {v}); this one reads version {VERSION}",
                    path.display()
                ),
            ));
        }
        None => return Err(corrupt("line 1: no \"version\" number".into())),
    }
    let body: FileBody =
        serde_json::from_str(text).map_err(|e| corrupt(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    Ok(body.profiles)
}

/// Writes `bytes` to `path` through `.<name>.tmp` beside it (0600, fsync, rename): a reader
/// sees the old file or the new one, and a failed write leaves the old file as it was.
///
/// # Errors
/// The I/O error from creating, writing, syncing or renaming.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other("the path has no parent directory"))?;
    fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::other("the path has no file name"))?;
    let temp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        #[cfg(unix)]
        let _ = fs::File::open(dir).and_then(|d| d.sync_all());
        Ok(())
    })();
    if result.is_err() && temp.is_file() {
        let _ = fs::remove_file(&temp);
    }
    result
}
