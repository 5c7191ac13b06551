//! TLS material in the config: server certificates, the token signing key and
//! `downstream_mtls`.

use std::path::Path;

use super::global::Entries;
use super::keys;
use super::values;
use super::yaml::{self, Issues, Node};
use super::{CertificatePair, DownstreamMtls, MtlsEnforcement, Secret, SecretBytes};

/// `certificate_file`/`certificate_key_file`, `certificate`/`certificate_key`, `certificates:`.
/// None at all is not an error: the gateway then serves a self-signed certificate
/// ([`crate::self_signed`]).
pub(crate) fn certificates(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Vec<CertificatePair> {
    let mut out = Vec::new();
    for (cert_key, key_key) in [("certificate_file", "certificate_key_file"), ("certificate", "certificate_key")] {
        match (map.get(cert_key), map.get(key_key)) {
            (Some((_, c)), Some((_, k))) => out.extend(pair(c, cert_key, k, key_key, base_dir, issues)),
            (Some((n, _)), None) => issues.error(yaml::line(n), key_key, format!("`{cert_key}` needs `{key_key}`")),
            (None, Some((n, _))) => issues.error(yaml::line(n), cert_key, format!("`{key_key}` needs `{cert_key}`")),
            (None, None) => {}
        }
    }
    if let Some((_, list)) = map.get("certificates") {
        match list.data.as_sequence() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.extend(list_entry(item, &format!("certificates[{i}]"), base_dir, issues));
                }
            }
            None => issues.error(yaml::line(list), "certificates", "expected a list of `{cert, key}`"),
        }
    }
    out
}

/// One `certificates:` entry: `cert`/`key` (base64 PEM or path) or `cert_file`/`key_file`.
fn list_entry(item: &Node<'_>, field: &str, base_dir: &Path, issues: &mut Issues) -> Option<CertificatePair> {
    let entries = yaml::entries(item, field, issues)?;
    let (mut cert, mut key) = (None, None);
    for (k, key_node, v) in entries {
        match k.as_str() {
            "cert" | "cert_file" => cert = Some((k, v)),
            "key" | "key_file" => key = Some((k, v)),
            _ => {
                let message = yaml::unknown_key_message(&k, &["cert", "key", "cert_file", "key_file"]);
                issues.error(yaml::line(key_node), yaml::join(field, &k), message);
            }
        }
    }
    match (cert, key) {
        (Some((ck, c)), Some((kk, k))) => {
            pair(c, &yaml::join(field, &ck), k, &yaml::join(field, &kk), base_dir, issues)
        }
        _ => {
            issues.error(yaml::line(item), field, "a certificate entry needs both `cert` and `key`");
            None
        }
    }
}

/// Loads and checks one certificate and key (each inline base64 PEM or a file path).
fn pair(
    cert: &Node<'_>,
    cert_field: &str,
    key: &Node<'_>,
    key_field: &str,
    base_dir: &Path,
    issues: &mut Issues,
) -> Option<CertificatePair> {
    let load = |node: &Node<'_>, field: &str, issues: &mut Issues| {
        let text = yaml::string(node, field, issues)?;
        values::pem_inline_or_file(&text, base_dir, yaml::line(node), field, issues)
    };
    let cert = load(cert, cert_field, issues).and_then(|(pem, source)| {
        values::check_certs(&pem, &source, yaml::line(cert), cert_field, issues).then_some(pem)
    });
    let key = load(key, key_field, issues)
        .and_then(|(pem, source)| values::check_key(&pem, &source, yaml::line(key), key_field, issues).then_some(pem));
    Some(CertificatePair { cert_pem: cert?, key_pem: SecretBytes(key?) })
}

/// `signing_key` (base64 PEM) or `signing_key_file` (PEM, or base64 PEM): an EC P-256 key.
pub(crate) fn signing_key(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Option<Secret> {
    let (field, node, pem) = if let Some((_, v)) = map.get("signing_key") {
        let text = yaml::string(v, "signing_key", issues)?;
        let pem = if values::looks_like_pem(text.as_bytes()) {
            text.into_bytes()
        } else {
            values::base64_pem(&text, yaml::line(v), "signing_key", issues)?
        };
        ("signing_key", v, pem)
    } else {
        let (_, v) = map.get("signing_key_file")?;
        let path = yaml::string(v, "signing_key_file", issues)?;
        let bytes = values::read_file(base_dir, &path, yaml::line(v), "signing_key_file", issues)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let pem = if values::looks_like_pem(&bytes) {
            bytes
        } else {
            values::base64_pem(&text, yaml::line(v), "signing_key_file", issues)?
        };
        ("signing_key_file", v, pem)
    };
    let line = yaml::line(node);
    if !values::check_key(&pem, &format!("`{field}`"), line, field, issues) {
        return None;
    }
    if !values::is_p256_key(&pem) {
        issues.error(line, field, "the signing key must be an EC P-256 (prime256v1) private key");
        return None;
    }
    Some(Secret(String::from_utf8_lossy(&pem).into_owned()))
}

/// `downstream_mtls:` mapping.
pub(crate) fn downstream_mtls(node: &Node<'_>, base_dir: &Path, issues: &mut Issues) -> Option<DownstreamMtls> {
    let entries = yaml::entries(node, "downstream_mtls", issues)?;
    let known = keys::all_of(keys::MTLS, keys::MTLS_IGNORED);
    let mut ca_pem = None;
    let mut enforcement = MtlsEnforcement::default();
    for (key, key_node, v) in entries {
        let field = yaml::join("downstream_mtls", &key);
        let line = yaml::line(v);
        match key.as_str() {
            "ca" => {
                ca_pem = yaml::string(v, &field, issues).and_then(|t| values::base64_pem(&t, line, &field, issues));
            }
            "ca_file" => {
                ca_pem =
                    yaml::string(v, &field, issues).and_then(|p| values::read_file(base_dir, &p, line, &field, issues));
            }
            "enforcement" => match yaml::string(v, &field, issues).as_deref() {
                Some("policy_with_default_deny") => enforcement = MtlsEnforcement::PolicyWithDefaultDeny,
                Some("policy") => enforcement = MtlsEnforcement::Policy,
                Some("reject_connection") => enforcement = MtlsEnforcement::RejectConnection,
                Some(other) => issues.error(
                    line,
                    field,
                    format!("unknown enforcement `{other}`; use policy_with_default_deny, policy or reject_connection"),
                ),
                None => {}
            },
            k if keys::MTLS_IGNORED.contains(&k) => {
                issues.warn(yaml::line(key_node), field, format!("`{k}` is not supported yet, ignored"));
            }
            _ => issues.error(yaml::line(key_node), field, yaml::unknown_key_message(&key, &known)),
        }
    }
    let Some(ca_pem) = ca_pem else {
        issues.warn(yaml::line(node), "downstream_mtls", "no `ca` or `ca_file`: downstream_mtls has no effect");
        return None;
    };
    if !values::check_certs(&ca_pem, "the client CA", yaml::line(node), "downstream_mtls", issues) {
        return None;
    }
    Some(DownstreamMtls { ca_pem, enforcement })
}
