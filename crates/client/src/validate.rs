//! Checking a [`ProfileDraft`] before it is saved: every problem, each with its field, in one
//! pass. Destinations use the CLI's grammar (`porthole_tunnel::target::parse`).

use std::net::SocketAddr;
use std::path::Path;

use porthole_tunnel::target;
use porthole_tunnel::tls::NameFilter;

use crate::listen::{Listen, ListenAddr, ListenHost};
use crate::model::{ClientCertDraft, FieldError, ProfileDraft};

/// The placeholders an `openWith` template may use.
pub const PLACEHOLDERS: [&str; 3] = ["port", "host", "addr"];

/// Every problem with `draft`. `has_stored_key` says whether the keychain already holds a key
/// for this profile (then `clientCert.keyFile` may be empty).
pub fn validate(draft: &ProfileDraft, has_stored_key: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if draft.name.trim().is_empty() {
        errors.push(FieldError::new("name", "a name is required"));
    }
    let destination = draft.destination.trim();
    if destination.is_empty() {
        errors.push(FieldError::new("destination", "a destination is required, e.g. redis.example.com:6379"));
    } else if let Err(e) = target::parse(destination, None) {
        errors.push(FieldError::new("destination", e.to_string()));
    }
    if let Some(url) = non_empty(draft.pomerium_url.as_deref())
        && let Err(e) = target::parse("localhost:1", Some(url))
    {
        errors.push(FieldError::new("pomeriumUrl", e.to_string()));
    }
    if let Some(listen) = non_empty(draft.listen_addr.as_deref())
        && let Err(message) = listen_spec(Some(listen))
    {
        errors.push(FieldError::new("listenAddr", message));
    }
    if let Some(ca) = non_empty(draft.ca_file.as_deref())
        && let Err(message) = pem_file(ca, "CERTIFICATE")
    {
        errors.push(FieldError::new("caFile", message));
    }
    match &draft.client_cert {
        Some(ClientCertDraft::Files { cert_file, key_file }) => {
            if let Err(message) = pem_file(cert_file, "CERTIFICATE") {
                errors.push(FieldError::new("clientCert.certFile", message));
            }
            match non_empty(key_file.as_deref()) {
                Some(key) => {
                    if let Err(message) = pem_file(key, "PRIVATE KEY") {
                        errors.push(FieldError::new("clientCert.keyFile", message));
                    }
                }
                None if !has_stored_key => {
                    errors
                        .push(FieldError::new("clientCert.keyFile", "a client certificate needs its private key file"));
                }
                None => {}
            }
        }
        Some(ClientCertDraft::Store { issuer, subject }) => {
            for (field, value) in [("clientCert.issuer", issuer), ("clientCert.subject", subject)] {
                if let Some(v) = non_empty(value.as_deref())
                    && let Err(e) = NameFilter::parse(v)
                {
                    errors.push(FieldError::new(field, e.to_string()));
                }
            }
        }
        None => {}
    }
    if let Some(template) = non_empty(draft.open_with.as_deref())
        && let Err(message) = check_template(template)
    {
        errors.push(FieldError::new("openWith", message));
    }
    errors
}

/// `Some(trimmed)` unless `value` is missing or blank.
pub fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|s| !s.is_empty())
}

/// The address to bind for a profile's `listenAddr`, parsed as `--listen` is
/// ([`crate::listen`]): `127.0.0.1:0` when unset, and `:port` on loopback — the app shows no
/// warning line, so it binds every interface only when the person names one (`0.0.0.0:port`).
///
/// # Errors
/// A sentence when the address does not parse, or is `-` (stdin/stdout is for the command line).
pub fn listen_spec(listen: Option<&str>) -> Result<String, String> {
    let Some(listen) = non_empty(listen) else { return Ok("127.0.0.1:0".to_owned()) };
    match Listen::parse(listen).map_err(|e| e.to_string())? {
        Listen::Stdio => {
            Err("\"-\" (stdin/stdout) is for the command line only: give a local address such as :6379 or \
                 127.0.0.1:6379"
                .to_owned())
        }
        Listen::Addr(ListenAddr { host: ListenHost::AllInterfaces, port }) => Ok(format!("127.0.0.1:{port}")),
        Listen::Addr(addr) => Ok(addr.bind_spec()),
    }
}

/// The fixed address of a `listenAddr` (port not 0), for the "port in use" check.
pub fn fixed_listen_addr(listen: Option<&str>) -> Option<SocketAddr> {
    let spec = listen_spec(listen).ok()?;
    let spec = spec.replace("localhost:", "127.0.0.1:");
    spec.parse::<SocketAddr>().ok().filter(|a| a.port() != 0)
}

/// Checks that `path` is a readable PEM file with a `label` block (`CERTIFICATE`,
/// `PRIVATE KEY`, which also matches `RSA PRIVATE KEY` and `EC PRIVATE KEY`).
///
/// # Errors
/// A sentence naming the path.
pub fn pem_file(path: &str, label: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(Path::new(path)).map_err(|e| format!("cannot read {path}: {e}"))?;
    if has_pem_block(&text, label) { Ok(text) } else { Err(format!("{path} is not a PEM file with a {label}")) }
}

/// `true` when `text` has a `-----BEGIN … <label>-----` line.
pub fn has_pem_block(text: &str, label: &str) -> bool {
    text.lines().any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with(&format!("{label}-----")))
}

fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { return Err("an opening { has no closing }".into()) };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("unknown placeholder {{{name}}}: use {{port}}, {{host}} or {{addr}}"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}
