//! Value formats shared by global and route keys: durations, files, base64 and PEM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use saphyr::{Scalar, YamlData};

use super::yaml::{self, Issues, Node};

/// Parses a Go duration (`14h`, `1h30m`, `1.5h`, `300ms`, `0`), falling back to humantime
/// (`2 days`, `1h 30m`).
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    parse_go_duration(text).or_else(|| humantime::parse_duration(text).ok())
}

/// Go's `time.ParseDuration` grammar, without the sign: `(<decimal><unit>)+`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A duration value; records an error naming the accepted forms.
pub(crate) fn duration(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<Duration> {
    if let YamlData::Value(Scalar::Integer(0)) = node.data {
        return Some(Duration::ZERO);
    }
    let text = yaml::string(node, field, issues)?;
    let parsed = parse_duration(&text);
    if parsed.is_none() {
        issues.error(
            yaml::line(node),
            field,
            format!("`{text}` is not a duration; write e.g. `14h`, `30m`, `1h30m`, `90s`"),
        );
    }
    parsed
}

/// Resolves a path from the config against the config file's folder.
pub(crate) fn resolve(base_dir: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() { p.to_owned() } else { base_dir.join(p) }
}

/// Reads a file named in the config; records an error naming the field and the path.
pub(crate) fn read_file(base_dir: &Path, path: &str, line: usize, field: &str, issues: &mut Issues) -> Option<Vec<u8>> {
    let full = resolve(base_dir, path);
    match std::fs::read(&full) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            issues.error(line, field, format!("cannot read file `{}`: {e}", full.display()));
            None
        }
    }
}

/// Decodes base64 (standard alphabet, padding optional, whitespace ignored).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .ok()
}

/// Decodes a base64 value that must hold PEM text; records an error otherwise.
pub(crate) fn base64_pem(text: &str, line: usize, field: &str, issues: &mut Issues) -> Option<Vec<u8>> {
    match decode_base64(text) {
        Some(bytes) if looks_like_pem(&bytes) => Some(bytes),
        Some(_) => {
            issues.error(line, field, "the base64 value does not decode to PEM text (`-----BEGIN …`)");
            None
        }
        None => {
            issues.error(line, field, "expected base64-encoded PEM");
            None
        }
    }
}

/// Whether the bytes look like PEM text.
pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes).contains("-----BEGIN ")
}

/// Checks that PEM holds at least one certificate; `source` names it in the message.
pub(crate) fn check_certs(pem: &[u8], source: &str, line: usize, field: &str, issues: &mut Issues) -> bool {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(certs) if !certs.is_empty() => true,
        Ok(_) => {
            issues.error(line, field, format!("{source} holds no PEM certificate"));
            false
        }
        Err(e) => {
            issues.error(line, field, format!("{source} is not a valid PEM certificate: {e}"));
            false
        }
    }
}

/// Checks that PEM holds a private key; `source` names it in the message.
pub(crate) fn check_key(pem: &[u8], source: &str, line: usize, field: &str, issues: &mut Issues) -> bool {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(_) => true,
        Err(e) => {
            issues.error(line, field, format!("{source} is not a valid PEM private key: {e}"));
            false
        }
    }
}

/// Loads PEM given inline as base64 (or plain PEM) or as a file path: Pomerium's `cert`/`key`
/// values accept both. Returns the bytes and a description for messages.
pub(crate) fn pem_inline_or_file(
    text: &str,
    base_dir: &Path,
    line: usize,
    field: &str,
    issues: &mut Issues,
) -> Option<(Vec<u8>, String)> {
    if looks_like_pem(text.as_bytes()) {
        return Some((text.as_bytes().to_vec(), format!("the inline value of `{field}`")));
    }
    if let Some(bytes) = decode_base64(text).filter(|b| looks_like_pem(b)) {
        return Some((bytes, format!("the base64 value of `{field}`")));
    }
    let full = resolve(base_dir, text);
    read_file(base_dir, text, line, field, issues).map(|b| (b, format!("file `{}`", full.display())))
}

/// Whether a PEM private key is on the P-256 curve: its DER names the `prime256v1` OID
/// (in the PKCS#8 algorithm parameters or the SEC1 `parameters` field).
pub(crate) fn is_p256_key(pem: &[u8]) -> bool {
    const PRIME256V1: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let Ok(key) = PrivateKeyDer::from_pem_slice(pem) else {
        return false;
    };
    let der = key.secret_der();
    !matches!(key, PrivateKeyDer::Pkcs1(_)) && der.windows(PRIME256V1.len()).any(|w| w == PRIME256V1)
}
