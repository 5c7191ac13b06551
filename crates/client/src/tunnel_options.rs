//! [`TunnelOptions`]: everything a tunnel is built from — a destination, TLS material, a
//! certificate store, login settings — and the one way to turn them into the engine's
//! [`TunnelConfig`]. `porthole tcp` fills it from its flags, [`App`](crate::App) from a saved
//! profile; both then start the engine with the config it builds.
//!
//! Files and keys are read only when the proxy speaks TLS, so a `tcp+http://` proxy never
//! needs them. The certificate store is [`cert_store_dir`] unless the caller names another.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use porthole_tunnel::auth::{Browser, LoginSettings};
use porthole_tunnel::connect::{Connector, Http3Mode};
use porthole_tunnel::handle::TunnelConfig;
use porthole_tunnel::target::{self, TargetError};
use porthole_tunnel::tls::{ClientIdentity, FilterError, KeyPem, NameFilter, TlsError, TlsOptions, client_config};
use porthole_tunnel::udp::h3::UdpConnector;
use porthole_tunnel::udp::session::UdpConfig;

use crate::error::{AppError, ErrorCode};
use crate::secrets::SecretStore;

/// The environment variable that names the certificate store directory outright.
pub const CERT_DIR_ENV: &str = "PORTHOLE_CERT_DIR";
/// How long a login may take unless the caller says otherwise (pomerium-cli's five minutes).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The directory of PEM client identities used for "client certificate from the store" on
/// Linux: [`CERT_DIR_ENV`] when set and not empty, else `certs` in the config directory
/// ([`crate::profiles::config_dir`], which honours `PORTHOLE_CONFIG_DIR`). The CLI and the
/// desktop app both use it.
pub fn cert_store_dir() -> PathBuf {
    cert_store_dir_from(std::env::var_os(CERT_DIR_ENV), &crate::profiles::config_dir())
}

/// [`cert_store_dir`] for a given `PORTHOLE_CERT_DIR` value and config directory.
pub fn cert_store_dir_from(cert_dir: Option<OsString>, config_dir: &Path) -> PathBuf {
    cert_dir.filter(|d| !d.is_empty()).map_or_else(|| config_dir.join("certs"), PathBuf::from)
}

/// How login URLs are opened: print them (`--no-browser`), run a program (`--browser-cmd`,
/// `PORTHOLE_BROWSER_CMD`), or the system browser.
pub fn browser(command: Option<&str>, print: bool) -> Browser {
    match command.filter(|c| !c.is_empty()) {
        _ if print => Browser::Print,
        Some(cmd) => Browser::Command(cmd.to_owned()),
        None => Browser::System,
    }
}

/// PEM bytes: given, or read from a file when the tunnel is built.
#[derive(Debug, Clone)]
pub enum PemSource {
    /// Already in memory.
    Bytes(Vec<u8>),
    /// Base64 of PEM (pomerium-cli's `--ca-cert`), decoded when the tunnel is built.
    Base64(String),
    /// A file; `flag` names the option that gave it, for the error (`--alternate-ca-path`).
    File {
        /// The file.
        path: PathBuf,
        /// The command-line flag that named it, if any.
        flag: Option<&'static str>,
    },
}

impl PemSource {
    /// How the person gave it, for sentences: `--alternate-ca-path /etc/ca.pem`, `--ca-cert`,
    /// `the file /etc/ca.pem`; `None` for bytes in memory.
    #[must_use]
    pub fn label(&self) -> Option<String> {
        match self {
            Self::Bytes(_) => None,
            Self::Base64(_) => Some("--ca-cert".into()),
            Self::File { path, flag: Some(flag) } => Some(format!("{flag} {}", path.display())),
            Self::File { path, flag: None } => Some(format!("the file {}", path.display())),
        }
    }
}

/// Where a client certificate's private key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// A PEM key file; `flag` names the option that gave it (`--client-key`).
    File {
        /// The file.
        path: PathBuf,
        /// The command-line flag that named it, if any.
        flag: Option<&'static str>,
    },
    /// The key a saved profile keeps in the keychain under its id.
    Secret {
        /// The key store.
        store: Arc<dyn SecretStore>,
        /// The profile id.
        id: String,
    },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, .. } => f.debug_struct("File").field("path", path).finish_non_exhaustive(),
            Self::Secret { id, .. } => f.debug_struct("Secret").field("id", id).finish_non_exhaustive(),
        }
    }
}

/// The client certificate to present when the proxy asks for one.
#[derive(Debug, Clone)]
pub enum ClientCertSource {
    /// A certificate (chain) and its key, always presented.
    Pem {
        /// The certificate chain, leaf first.
        cert: PemSource,
        /// Its private key.
        key: KeySource,
    },
    /// One identity from the certificate store, chosen per handshake by the proxy's
    /// acceptable CAs and these filters (`attr=value`; empty means none).
    Store {
        /// A test on the leaf's issuer DN (`CN=Corp CA`).
        issuer: Option<String>,
        /// A test on the leaf's subject DN.
        subject: Option<String>,
    },
}

/// Why a tunnel could not be built from its options.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The destination or proxy URL does not parse.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An issuer or subject filter does not parse.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A certificate, CA or key file could not be read.
    #[error("{}", read_sentence(path, *flag))]
    Read {
        /// The file.
        path: PathBuf,
        /// The flag that named it, if any.
        flag: Option<&'static str>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--ca-cert` is not base64.
    #[error("failed to decode base64-encoded certificate authority (--ca-cert)")]
    CaBase64(#[source] base64::DecodeError),
    /// A saved profile's key is not in the keychain.
    #[error("the client certificate's private key is not in the keychain; choose the key file again")]
    KeyMissing,
    /// The keychain failed while reading a saved profile's key.
    #[error(transparent)]
    Keychain(AppError),
    /// The TLS configuration could not be built from the material.
    #[error("while setting up TLS")]
    Tls(#[source] TlsError),
}

fn read_sentence(path: &Path, flag: Option<&str>) -> String {
    match flag {
        Some(flag) => format!("while reading {flag} {}", path.display()),
        None => format!("could not read {}", path.display()),
    }
}

impl From<BuildError> for AppError {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Target(e) => Self::new(ErrorCode::Invalid, e.to_string()),
            BuildError::Filter(e) => Self::new(ErrorCode::Invalid, e.to_string()),
            BuildError::CaBase64(_) => Self::new(ErrorCode::Invalid, e.to_string()),
            BuildError::Read { path, source, .. } => Self::io("read", &path, &source),
            BuildError::KeyMissing => Self::new(ErrorCode::Keychain, e.to_string()),
            BuildError::Keychain(e) => e,
            BuildError::Tls(e) => Self::new(ErrorCode::Tunnel, e.to_string()),
        }
    }
}

/// Everything a tunnel is built from.
#[derive(Debug, Clone)]
pub struct TunnelOptions {
    /// `host:port`, `tcp+https://host:port` or `tcp+https://proxy[:port]/host:port`.
    pub destination: String,
    /// The proxy, when it is not the destination's host (empty means none).
    pub pomerium_url: Option<String>,
    /// Accept any proxy certificate (dangerous).
    pub disable_tls_verification: bool,
    /// Extra certificate authorities to trust for the proxy.
    pub ca: Option<PemSource>,
    /// The client certificate, if any.
    pub client_cert: Option<ClientCertSource>,
    /// Where [`ClientCertSource::Store`] looks; [`cert_store_dir`] by default.
    pub cert_store_dir: PathBuf,
    /// How login URLs are opened.
    pub browser: Browser,
    /// How long a login may take.
    pub login_timeout: Duration,
}

impl TunnelOptions {
    /// Options for `destination` with no TLS extras, the store in [`cert_store_dir`], the
    /// system browser and [`DEFAULT_LOGIN_TIMEOUT`].
    pub fn new(destination: impl Into<String>) -> Self {
        Self {
            destination: destination.into(),
            pomerium_url: None,
            disable_tls_verification: false,
            ca: None,
            client_cert: None,
            cert_store_dir: cert_store_dir(),
            browser: Browser::System,
            login_timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }

    /// The engine's configuration: the target parsed, then (when the proxy speaks TLS) the CA
    /// and client certificate read and the TLS configuration built, shared by the tunnel and
    /// its logins.
    ///
    /// # Errors
    /// [`BuildError`]: a bad destination or filter, an unreadable file, a missing key, or TLS
    /// material rustls refuses.
    pub fn build(&self) -> Result<TunnelConfig, BuildError> {
        let pomerium_url = self.pomerium_url.as_deref().filter(|s| !s.is_empty());
        let target = target::parse(&self.destination, pomerium_url)?;
        let tls =
            if target.proxy.tls() { Some(client_config(&self.tls_options()?).map_err(BuildError::Tls)?) } else { None };
        Ok(TunnelConfig {
            connector: Arc::new(Connector::new(target, tls.clone())),
            login: LoginSettings { tls, browser: self.browser.clone(), timeout: self.login_timeout },
        })
    }

    /// Validates and reads everything, and returns the UDP tunnel's config: the same
    /// destination grammar (`udp+https://proxy/host:port`), TLS and login as [`Self::build`],
    /// CONNECT-UDP over HTTP/3 first, then HTTP/1.1 (`--http3`), peers idle for `idle_timeout` expired, datagrams up to the
    /// largest a capsule carries.
    ///
    /// # Errors
    /// As [`Self::build`].
    pub fn build_udp(&self, idle_timeout: Duration) -> Result<UdpConfig, BuildError> {
        self.build_udp_with(idle_timeout, None)
    }

    /// [`Self::build_udp`] with the HTTP/3 mode given (`porthole udp --http3`; `None`: the
    /// connector's default, `PORTHOLE_HTTP3` else auto).
    ///
    /// # Errors
    /// As [`Self::build`].
    pub fn build_udp_with(&self, idle_timeout: Duration, http3: Option<Http3Mode>) -> Result<UdpConfig, BuildError> {
        let TunnelConfig { connector, login } = self.build()?;
        let mut connector = (*connector).clone();
        if let Some(mode) = http3 {
            connector = connector.with_http3(mode);
        }
        Ok(UdpConfig {
            connector: Arc::new(UdpConnector::new(connector)),
            login,
            idle_timeout,
            max_datagram: porthole_tunnel::udp::session::MAX_DATAGRAM,
        })
    }

    fn tls_options(&self) -> Result<TlsOptions, BuildError> {
        let ca_pem = self.ca.as_ref().map(read_pem).transpose()?;
        let client = match &self.client_cert {
            None => None,
            Some(ClientCertSource::Pem { cert, key }) => {
                Some(ClientIdentity::Pem { cert_pem: read_pem(cert)?, key_pem: read_key(key)? })
            }
            Some(ClientCertSource::Store { issuer, subject }) => {
                let filter =
                    |f: &Option<String>| f.as_deref().filter(|s| !s.is_empty()).map(NameFilter::parse).transpose();
                Some(ClientIdentity::Store {
                    dir: self.cert_store_dir.clone(),
                    issuer: filter(issuer)?,
                    subject: filter(subject)?,
                })
            }
        };
        let ca_label = self.ca.as_ref().and_then(PemSource::label);
        Ok(TlsOptions { disable_verification: self.disable_tls_verification, ca_pem, ca_label, client })
    }
}

fn read_file(path: &Path, flag: Option<&'static str>) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path).map_err(|source| BuildError::Read { path: path.to_owned(), flag, source })
}

fn read_pem(source: &PemSource) -> Result<Vec<u8>, BuildError> {
    match source {
        PemSource::Bytes(b) => Ok(b.clone()),
        PemSource::Base64(text) => {
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(BuildError::CaBase64)
        }
        PemSource::File { path, flag } => read_file(path, *flag),
    }
}

fn read_key(source: &KeySource) -> Result<KeyPem, BuildError> {
    match source {
        KeySource::File { path, flag } => read_file(path, *flag).map(KeyPem::from),
        KeySource::Secret { store, id } => {
            let key = store.get(id).map_err(BuildError::Keychain)?.ok_or(BuildError::KeyMissing)?;
            Ok(key.into_bytes().into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_certs_in_the_config_dir_unless_named() {
        let config = Path::new("/tmp/porthole-config");
        assert_eq!(cert_store_dir_from(None, config), config.join("certs"));
        assert_eq!(
            cert_store_dir_from(Some(OsString::new()), config),
            config.join("certs"),
            "an empty variable is unset"
        );
        assert_eq!(cert_store_dir_from(Some("/srv/ids".into()), config), PathBuf::from("/srv/ids"));
    }

    #[test]
    fn browser_choice_follows_the_flags() {
        assert!(matches!(browser(Some("firefox"), true), Browser::Print), "--no-browser wins");
        assert!(matches!(browser(Some("firefox"), false), Browser::Command(c) if c == "firefox"));
        assert!(matches!(browser(Some(""), false), Browser::System), "an empty command is none");
        assert!(matches!(browser(None, false), Browser::System));
    }

    #[test]
    fn files_are_not_read_for_a_plain_http_proxy() {
        let mut options = TunnelOptions::new("tcp+http://proxy.example.com:8080/db.internal:5432");
        options.ca = Some(PemSource::File { path: "/nonexistent/ca.pem".into(), flag: None });
        assert!(options.build().is_ok(), "no TLS, so the CA file is never opened");
        options.destination = "tcp+https://proxy.example.com/db.internal:5432".into();
        let e = options.build().expect_err("with TLS the missing file is an error");
        assert_eq!(AppError::from(e).code, ErrorCode::Io);
    }

    #[test]
    fn a_missing_keychain_key_is_a_keychain_error() {
        let mut options = TunnelOptions::new("db.internal:5432");
        let store: Arc<dyn SecretStore> = Arc::new(crate::MemorySecrets::default());
        let cert = PemSource::Bytes(b"-----BEGIN CERTIFICATE-----\n".to_vec());
        options.client_cert = Some(ClientCertSource::Pem { cert, key: KeySource::Secret { store, id: "p1".into() } });
        let e = AppError::from(options.build().expect_err("no key"));
        assert_eq!(e.code, ErrorCode::Keychain);
        assert!(e.message.contains("choose the key file again"), "{}", e.message);
    }
}
