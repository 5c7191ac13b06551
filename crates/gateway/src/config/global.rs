//! The top-level keys of the config file → [`Config`], plus the checks that span routes
//! (duplicate `from`, routes that need an identity provider).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::keys;
use super::route::{self, ParsedRoute};
use super::values;
use super::yaml::{self, Issues, Node};
use super::{CertificatePair, Config, DownstreamMtls, IdpConfig, MtlsEnforcement, Secret, SecretBytes};

/// Default `cookie_expire`, as Pomerium.
const DEFAULT_COOKIE_EXPIRE: Duration = Duration::from_secs(14 * 3600);

/// Top-level entries by key: `(key node, value node)`.
type Entries<'n, 'a> = HashMap<String, (&'n Node<'a>, &'n Node<'a>)>;

/// Parses and validates the whole file; problems go to `issues`.
pub(crate) fn parse(root: &Node<'_>, base_dir: &Path, issues: &mut Issues) -> Option<Config> {
    if yaml::is_null(root) {
        issues.error(1, "", "the config is empty; it needs certificates and routes");
        return None;
    }
    let known = keys::all_of(keys::GLOBAL, keys::GLOBAL_IGNORED);
    let mut map: Entries<'_, '_> = HashMap::new();
    for (key, key_node, value) in yaml::entries(root, "", issues)? {
        let line = yaml::line(key_node);
        if keys::GLOBAL.contains(&key.as_str()) {
            map.insert(key, (key_node, value));
        } else if keys::GLOBAL_IGNORED.contains(&key.as_str()) {
            let message = format!("`{key}` has no effect for TCP routes in this gateway; ignored");
            issues.warn(line, key, message);
        } else {
            let message = yaml::unknown_key_message(&key, &known);
            issues.error(line, key, message);
        }
    }
    let str_of = |key: &str, issues: &mut Issues| -> Option<(String, usize)> {
        let (_, v) = map.get(key)?;
        yaml::string(v, key, issues).map(|s| (s, yaml::line(v)))
    };

    let address = match str_of("address", issues) {
        Some((a, line)) => normalise_address(&a, line, issues),
        None => "0.0.0.0:443".to_owned(),
    };
    let certificates = certificates(&map, base_dir, issues);
    let authenticate_service_url = str_of("authenticate_service_url", issues)
        .and_then(|(u, line)| http_url(&u, line, "authenticate_service_url", issues));
    let idp = idp(&map, base_dir, issues);
    let signing_key = signing_key(&map, base_dir, issues);
    let cookie_expire = map
        .get("cookie_expire")
        .and_then(|(_, v)| values::duration(v, "cookie_expire", issues))
        .unwrap_or(DEFAULT_COOKIE_EXPIRE);
    let downstream_mtls = map
        .get("downstream_mtls")
        .and_then(|(_, v)| downstream_mtls(v, base_dir, issues));

    let mut routes = Vec::new();
    if let Some((key_node, value)) = map.get("routes") {
        let parsed = parse_routes(value, base_dir, issues);
        check_duplicates(&parsed, issues);
        let needs_login = parsed.iter().any(|p| p.route.policy.needs_session());
        if needs_login && !map.contains_key("idp_provider") {
            issues.error(
                yaml::line(key_node),
                "routes",
                "routes require login but no identity provider is configured (set idp_provider: oidc, \
                 idp_provider_url, idp_client_id, idp_client_secret)",
            );
        }
        routes = parsed.into_iter().map(|p| p.route).collect();
    } else {
        issues.warn(1, "routes", "no routes: every CONNECT will be answered 404");
    }

    Some(Config {
        address,
        certificates,
        authenticate_service_url,
        idp,
        signing_key,
        cookie_expire,
        downstream_mtls,
        routes,
    })
}

/// `:443` → `0.0.0.0:443`; checks there is a port.
fn normalise_address(address: &str, line: usize, issues: &mut Issues) -> String {
    let full = if address.starts_with(':') {
        format!("0.0.0.0{address}")
    } else {
        address.to_owned()
    };
    let port_ok = full
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        issues.error(line, "address", format!("`{address}` is not `host:port` (e.g. `:443`, `127.0.0.1:8443`)"));
    }
    full
}

/// Parses an `http(s)://` URL.
fn http_url(text: &str, line: usize, field: &str, issues: &mut Issues) -> Option<url::Url> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            issues.error(line, field, format!("`{text}` must be an http:// or https:// URL"));
            None
        }
        Err(e) => {
            issues.error(line, field, format!("`{text}` is not a URL: {e}"));
            None
        }
    }
}

/// `routes:` entries.
fn parse_routes(node: &Node<'_>, base_dir: &Path, issues: &mut Issues) -> Vec<ParsedRoute> {
    if yaml::is_null(node) {
        return Vec::new();
    }
    let Some(items) = node.data.as_sequence() else {
        issues.error(yaml::line(node), "routes", "expected a list of routes (`- from: …`)");
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| route::parse(item, &format!("routes[{i}]"), base_dir, issues))
        .collect()
}

/// Two routes with the same CONNECT authority: an error naming both lines.
fn check_duplicates(routes: &[ParsedRoute], issues: &mut Issues) {
    let mut seen: HashMap<(String, Option<u16>), &ParsedRoute> = HashMap::new();
    for r in routes {
        let key = (r.route.from.host.clone(), r.route.from.port);
        if let Some(first) = seen.get(&key) {
            issues.error(
                r.from_line,
                format!("{}.from", r.field),
                format!(
                    "duplicate `from`: `{}` (line {}) and `{}` (line {}) match the same CONNECT authority",
                    first.route.from.raw, first.from_line, r.route.from.raw, r.from_line
                ),
            );
        } else {
            seen.insert(key, r);
        }
    }
}

/// `certificate_file`/`certificate_key_file`, `certificate`/`certificate_key`, `certificates:`.
fn certificates(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Vec<CertificatePair> {
    let mut out = Vec::new();
    let errors_before = issues.errors.len();
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
    if out.is_empty() && issues.errors.len() == errors_before {
        issues.error(
            1,
            "certificates",
            "at least one server certificate is required: set certificate_file and certificate_key_file, \
             or certificates: [{cert, key}]",
        );
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
    let key = load(key, key_field, issues).and_then(|(pem, source)| {
        values::check_key(&pem, &source, yaml::line(key), key_field, issues).then_some(pem)
    });
    Some(CertificatePair {
        cert_pem: cert?,
        key_pem: SecretBytes(key?),
    })
}

/// `idp_*` keys.
fn idp(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Option<IdpConfig> {
    let Some((_, provider)) = map.get("idp_provider") else {
        for key in ["idp_provider_url", "idp_client_id", "idp_client_secret", "idp_client_secret_file", "idp_scopes"] {
            if let Some((n, _)) = map.get(key) {
                issues.warn(yaml::line(n), key, "ignored because `idp_provider` is not set");
            }
        }
        return None;
    };
    let provider_line = yaml::line(provider);
    let name = yaml::string(provider, "idp_provider", issues)?;
    if name != "oidc" {
        let message = format!("unsupported idp_provider `{name}`; the supported value is `oidc`");
        issues.error(provider_line, "idp_provider", message);
    }
    let required = |key: &str, issues: &mut Issues| -> Option<(String, usize)> {
        match map.get(key) {
            Some((_, v)) => yaml::string(v, key, issues).map(|s| (s, yaml::line(v))),
            None => {
                issues.error(provider_line, key, format!("`{key}` is required with `idp_provider`"));
                None
            }
        }
    };
    let provider_url = required("idp_provider_url", issues)
        .and_then(|(u, line)| http_url(&u, line, "idp_provider_url", issues));
    let client_id = required("idp_client_id", issues).map(|(s, _)| s);
    let client_secret = match (map.get("idp_client_secret"), map.get("idp_client_secret_file")) {
        (Some((_, v)), _) => yaml::string(v, "idp_client_secret", issues),
        (None, Some((_, v))) => yaml::string(v, "idp_client_secret_file", issues).and_then(|p| {
            let bytes = values::read_file(base_dir, &p, yaml::line(v), "idp_client_secret_file", issues)?;
            Some(String::from_utf8_lossy(&bytes).trim().to_owned())
        }),
        (None, None) => required("idp_client_secret", issues).map(|(s, _)| s),
    };
    let scopes = match map.get("idp_scopes") {
        Some((_, v)) => yaml::string_list(v, "idp_scopes", true, issues)
            .into_iter()
            .map(|(s, _, _)| s)
            .collect(),
        None => ["openid", "profile", "email"].map(str::to_owned).to_vec(),
    };
    if name != "oidc" {
        return None;
    }
    Some(IdpConfig {
        provider_url: provider_url?,
        client_id: client_id?,
        client_secret: Secret(client_secret?),
        scopes,
    })
}

/// `signing_key` (base64 PEM) or `signing_key_file` (PEM, or base64 PEM): an EC P-256 key.
fn signing_key(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Option<Secret> {
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
fn downstream_mtls(node: &Node<'_>, base_dir: &Path, issues: &mut Issues) -> Option<DownstreamMtls> {
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
                ca_pem = yaml::string(v, &field, issues)
                    .and_then(|p| values::read_file(base_dir, &p, line, &field, issues));
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
