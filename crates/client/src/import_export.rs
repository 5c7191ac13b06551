//! Pomerium Desktop's import/export format (docs/protocol.md §6.4): protojson of a
//! `google.protobuf.Any` wrapping `pomerium.cli.Records`. Imports de-duplicate (same name,
//! remote address and proxy URL update the saved profile); exports carry no ids, and private
//! keys only when asked. What Pomerium Desktop has no field for ("Open with", a TLS check
//! turned off beside a CA) travels, when asked, in a `porthole` object per record, which
//! Porthole reads back. Pomerium's import is strict protojson (docs/protocol.md §6.4: unknown
//! fields are `InvalidArgument`), so no key is ignored there: a file with the object is for
//! Porthole, and the UI says so; records without Porthole-only data never carry it.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{AppError, ErrorCode};
use crate::model::{ClientCert, ImportReport, Profile, Protocol};
use crate::profiles::{ProfileStore, clean_tags, write_atomic};
use crate::validate::non_empty;

/// The `@type` of the wrapped message.
pub const RECORDS_TYPE: &str = "type.googleapis.com/pomerium.cli.Records";
/// The version of the `porthole` extension object this build writes and reads.
pub const EXTENSION_VERSION: u32 = 1;

/// `Records`, wrapped in `Any`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Records {
    /// `type.googleapis.com/pomerium.cli.Records`.
    #[serde(rename = "@type", default, skip_serializing_if = "Option::is_none")]
    pub type_url: Option<String>,
    /// The records.
    #[serde(default)]
    pub records: Vec<Record>,
}

/// One saved connection, as Pomerium Desktop stores it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    /// Record id (never exported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The connection.
    #[serde(default)]
    pub conn: Connection,
    /// `portal-route-<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Porthole's own fields; other readers ignore the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub porthole: Option<Extension>,
}

/// The fields of a profile that Pomerium Desktop's format has no place for.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    /// [`EXTENSION_VERSION`] of the writer; a newer one is refused rather than half-read.
    #[serde(default)]
    pub version: u32,
    /// The "Open with" command template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_with: Option<String>,
    /// TLS verification off although a CA is set (Pomerium's `oneof` keeps only the CA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_tls_verification: Option<bool>,
}

/// `pomerium.cli.Connection`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `TCP` / `UDP` (numbers accepted on input).
    #[serde(default, deserialize_with = "protocol_in", skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Destination.
    #[serde(default, alias = "remote_addr")]
    pub remote_addr: String,
    /// Local address.
    #[serde(default, alias = "listen_addr", skip_serializing_if = "Option::is_none")]
    pub listen_addr: Option<String>,
    /// Proxy URL.
    #[serde(default, alias = "pomerium_url", skip_serializing_if = "Option::is_none")]
    pub pomerium_url: Option<String>,
    /// Skip proxy certificate checks (oneof with `caCert`).
    #[serde(default, alias = "disable_tls_verification", skip_serializing_if = "Option::is_none")]
    pub disable_tls_verification: Option<bool>,
    /// CA PEM, base64.
    #[serde(default, alias = "ca_cert", skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Client certificate and key, base64 PEM.
    #[serde(default, alias = "client_cert", skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<Certificate>,
    /// Certificate store filters.
    #[serde(default, alias = "client_cert_from_store", skip_serializing_if = "Option::is_none")]
    pub client_cert_from_store: Option<CertFromStore>,
    /// Connect at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
}

/// `pomerium.cli.Certificate`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Certificate {
    /// Certificate PEM, base64.
    #[serde(default)]
    pub cert: String,
    /// Key PEM, base64 (exported only when asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Output-only details; read and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// `pomerium.cli.ClientCertFromStore`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertFromStore {
    /// `CN=Corp CA`.
    #[serde(default, alias = "issuer_filter", skip_serializing_if = "Option::is_none")]
    pub issuer_filter: Option<String>,
    /// `O=Corp`.
    #[serde(default, alias = "subject_filter", skip_serializing_if = "Option::is_none")]
    pub subject_filter: Option<String>,
}

fn protocol_in<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s.to_ascii_uppercase()),
        serde_json::Value::Number(n) => Some(match n.as_u64() {
            Some(2) => "UDP".into(),
            Some(1) => "TCP".into(),
            _ => "UNKNOWN".into(),
        }),
        _ => None,
    })
}

/// protojson `bytes`: standard base64, also URL-safe and unpadded.
fn decode_bytes(field: &str, b64: &str) -> Result<String, AppError> {
    let b64 = b64.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(b64).ok())
        .ok_or_else(|| AppError::new(ErrorCode::Import, format!("The file's \"{field}\" is not base64 text.")))?;
    String::from_utf8(bytes).map_err(|_| {
        AppError::new(ErrorCode::Import, format!("The file's \"{field}\" does not hold a PEM certificate."))
    })
}

fn import_error(e: &serde_json::Error) -> AppError {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    let message = match e.classify() {
        Category::Eof => format!("The file ends too early, at {at}: it is cut off or empty."),
        Category::Syntax => format!("The file is not valid JSON: there is a mistake at {at}."),
        Category::Data => format!(
            "The file is JSON but not a Pomerium Desktop export: the value at {at} is not what the format expects."
        ),
        Category::Io => format!("The file could not be read at {at}."),
    };
    AppError::new(ErrorCode::Import, message)
}

/// Imports `json` into `store`: each record updates the profile with the same name, remote
/// address and proxy URL, or is added. A CA certificate becomes a 0600 PEM file beside
/// `connections.json`; a client certificate too, and its key goes to the key store.
///
/// # Errors
/// `import` when the data is not a `Records` message; `io`, `keychain` while saving.
pub fn import(store: &mut ProfileStore, json: &str) -> Result<ImportReport, AppError> {
    let records: Records = serde_json::from_str(json).map_err(|e| import_error(&e))?;
    if let Some(t) = records.type_url.as_deref().filter(|t| *t != RECORDS_TYPE) {
        return Err(AppError::new(
            ErrorCode::Import,
            format!(
                "The file holds \"{t}\", which Porthole cannot import; it reads Pomerium Desktop exports \
                 ({RECORDS_TYPE})."
            ),
        ));
    }
    if records.records.is_empty() {
        return Err(AppError::new(
            ErrorCode::Import,
            "The file contains no connections: its \"records\" list is missing or empty.",
        ));
    }
    for (n, record) in records.records.iter().enumerate() {
        if let Some(v) = record.porthole.as_ref().map(|x| x.version).filter(|v| *v > EXTENSION_VERSION) {
            return Err(AppError::new(
                ErrorCode::Import,
                format!(
                    "Connection {} was exported by a newer Porthole (extension version {v}; this one reads \
                     version {EXTENSION_VERSION}). Update Porthole to import it.",
                    n + 1
                ),
            ));
        }
    }
    let mut report = ImportReport::default();
    for (n, record) in records.records.into_iter().enumerate() {
        let conn = &record.conn;
        let name = non_empty(conn.name.as_deref()).unwrap_or(conn.remote_addr.trim()).to_owned();
        if conn.remote_addr.trim().is_empty() {
            return Err(AppError::new(
                ErrorCode::Import,
                format!("Connection {} ({name}) has no destination (its \"remoteAddr\" is empty).", n + 1),
            ));
        }
        let url = non_empty(conn.pomerium_url.as_deref()).map(str::to_owned);
        let existing = store
            .list()
            .iter()
            .find(|p| p.name == name && p.destination == conn.remote_addr.trim() && p.pomerium_url == url)
            .cloned();
        let id = existing.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |p| p.id.clone());
        let mut key_changed = false;
        let ca_file = match &conn.ca_cert {
            Some(b64) => Some(pem_file(
                store.dir(),
                &id,
                "ca",
                &decode_bytes("caCert", b64)?,
                existing.as_ref().and_then(|p| p.ca_file.as_deref()),
            )?),
            None => None,
        };
        let client_cert = if let Some(cert) = &conn.client_cert {
            let old = match existing.as_ref().and_then(|p| p.client_cert.as_ref()) {
                Some(ClientCert::Files { cert_file, .. }) => Some(cert_file.as_str()),
                _ => None,
            };
            let cert_file = pem_file(store.dir(), &id, "client", &decode_bytes("clientCert.cert", &cert.cert)?, old)?;
            if let Some(key) = &cert.key {
                let key = decode_bytes("clientCert.key", key)?;
                if store.secrets().get(&id)?.as_deref() != Some(key.as_str()) {
                    store.secrets().set(&id, &key)?;
                    key_changed = true;
                }
            }
            Some(ClientCert::Files { cert_file, has_key: store.secrets().get(&id)?.is_some() })
        } else {
            conn.client_cert_from_store.as_ref().map(|s| ClientCert::Store {
                issuer: non_empty(s.issuer_filter.as_deref()).map(str::to_owned),
                subject: non_empty(s.subject_filter.as_deref()).map(str::to_owned),
            })
        };
        let tags = clean_tags(&record.tags);
        let ext = record.porthole.as_ref();
        let profile = Profile {
            id,
            name,
            destination: conn.remote_addr.trim().to_owned(),
            listen_addr: non_empty(conn.listen_addr.as_deref()).map(str::to_owned),
            pomerium_url: url,
            protocol: if conn.protocol.as_deref() == Some("UDP") { Protocol::Udp } else { Protocol::Tcp },
            tags: if tags.is_empty() { existing.as_ref().map(|p| p.tags.clone()).unwrap_or_default() } else { tags },
            ca_file,
            disable_tls_verification: ext
                .and_then(|x| x.disable_tls_verification)
                .or(conn.disable_tls_verification)
                .unwrap_or(false),
            client_cert,
            autostart: conn.autostart.unwrap_or(false),
            open_with: match ext {
                Some(x) => non_empty(x.open_with.as_deref()).map(str::to_owned),
                None => existing.as_ref().and_then(|p| p.open_with.clone()),
            },
            source: non_empty(record.source.as_deref()).map(str::to_owned),
        };
        match &existing {
            Some(old) if *old == profile && !key_changed => report.unchanged += 1,
            Some(_) => {
                store.put(profile)?;
                report.updated += 1;
            }
            None => {
                store.put(profile)?;
                report.added += 1;
            }
        }
    }
    Ok(report)
}

/// Writes `pem` to `<dir>/<id>.<what>.pem` (0600) unless `current` already holds exactly it;
/// returns the file to reference.
fn pem_file(dir: &Path, id: &str, what: &str, pem: &str, current: Option<&str>) -> Result<String, AppError> {
    if let Some(current) = current
        && std::fs::read_to_string(current).is_ok_and(|text| text == pem)
    {
        return Ok(current.to_owned());
    }
    let path = dir.join(format!("{id}.{what}.pem"));
    write_atomic(&path, pem.as_bytes()).map_err(|e| AppError::io("write", &path, &e))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The `porthole` object of `p`: only when it carries something Pomerium's fields cannot.
fn extension(p: &Profile, ca_kept: bool) -> Option<Extension> {
    let ext = Extension {
        version: EXTENSION_VERSION,
        open_with: p.open_with.clone(),
        disable_tls_verification: (ca_kept && p.disable_tls_verification).then_some(true),
    };
    (ext.open_with.is_some() || ext.disable_tls_verification.is_some()).then_some(ext)
}

/// Exports the profiles `ids` (all when `None`) as pretty Pomerium Desktop JSON, without ids;
/// tags only when `include_tags`, private keys only when `include_private_keys`, the
/// `porthole` object (see the module doc) only when `porthole_fields`.
///
/// # Errors
/// `not_found` for an unknown id; `io` when a certificate file cannot be read; `keychain`.
pub fn export(
    store: &ProfileStore,
    ids: Option<&[String]>,
    include_tags: bool,
    include_private_keys: bool,
    porthole_fields: bool,
) -> Result<String, AppError> {
    let profiles: Vec<&Profile> = match ids {
        None => store.list().iter().collect(),
        Some(ids) => {
            ids.iter().map(|id| store.get(id).ok_or_else(|| AppError::no_profile(id))).collect::<Result<_, _>>()?
        }
    };
    let read = |path: &str| std::fs::read(path).map_err(|e| AppError::io("read", Path::new(path), &e));
    let mut records = Vec::new();
    for p in profiles {
        let ca_cert = p.ca_file.as_deref().map(|f| read(f).map(|b| STANDARD.encode(b))).transpose()?;
        let (client_cert, client_cert_from_store) = match &p.client_cert {
            Some(ClientCert::Files { cert_file, .. }) => {
                let key =
                    if include_private_keys { store.secrets().get(&p.id)?.map(|k| STANDARD.encode(k)) } else { None };
                (Some(Certificate { cert: STANDARD.encode(read(cert_file)?), key, info: None }), None)
            }
            Some(ClientCert::Store { issuer, subject }) => {
                (None, Some(CertFromStore { issuer_filter: issuer.clone(), subject_filter: subject.clone() }))
            }
            None => (None, None),
        };
        let ca_kept = ca_cert.is_some();
        records.push(Record {
            id: None,
            tags: if include_tags { p.tags.clone() } else { Vec::new() },
            conn: Connection {
                name: Some(p.name.clone()),
                protocol: Some(if p.protocol == Protocol::Udp { "UDP" } else { "TCP" }.to_owned()),
                remote_addr: p.destination.clone(),
                listen_addr: p.listen_addr.clone(),
                pomerium_url: p.pomerium_url.clone(),
                disable_tls_verification: if ca_cert.is_some() { None } else { Some(p.disable_tls_verification) },
                ca_cert,
                client_cert,
                client_cert_from_store,
                autostart: Some(p.autostart),
            },
            source: p.source.clone(),
            porthole: if porthole_fields { extension(p, ca_kept) } else { None },
        });
    }
    let body = Records { type_url: Some(RECORDS_TYPE.to_owned()), records };
    serde_json::to_string_pretty(&body).map_err(|e| AppError::new(ErrorCode::Io, e.to_string()))
}
