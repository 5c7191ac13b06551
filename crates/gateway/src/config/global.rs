//! The top-level keys of the config file → [`Config`], plus the checks that span routes
//! (duplicate `from`, routes that need an identity provider).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::idp;
use super::keys;
use super::route::{self, ParsedRoute};
use super::tls;
use super::values;
use super::yaml::{self, Issues, Node};
use super::{Config, Timeouts};
use crate::self_signed::SelfSigned;

/// Default `cookie_expire`, as Pomerium.
const DEFAULT_COOKIE_EXPIRE: Duration = Duration::from_secs(14 * 3600);

/// Top-level entries by key: `(key node, value node)`.
pub(crate) type Entries<'n, 'a> = HashMap<String, (&'n Node<'a>, &'n Node<'a>)>;

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
    let certificates = tls::certificates(&map, base_dir, issues);
    let authenticate_service_url = str_of("authenticate_service_url", issues)
        .and_then(|(u, line)| http_url(&u, line, "authenticate_service_url", issues));
    let idp = idp::parse(&map, base_dir, issues);
    let signing_key = tls::signing_key(&map, base_dir, issues);
    let cookie_expire = map
        .get("cookie_expire")
        .and_then(|(_, v)| values::duration(v, "cookie_expire", issues))
        .unwrap_or(DEFAULT_COOKIE_EXPIRE);
    let timeouts = timeouts(&map, issues);
    let end_tunnels_at_session_expiry = map
        .get("end_tunnels_at_session_expiry")
        .and_then(|(_, v)| yaml::boolean(v, "end_tunnels_at_session_expiry", issues))
        .unwrap_or(true);
    let http3 = super::http3::parse(&map, issues);
    let downstream_mtls = map.get("downstream_mtls").and_then(|(_, v)| tls::downstream_mtls(v, base_dir, issues));

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
                 idp_provider_url, idp_client_id, idp_client_secret; or google, okta, azure, …)",
            );
        }
        routes = parsed.into_iter().map(|p| p.route).collect();
    } else {
        issues.warn(1, "routes", "no routes: every CONNECT will be answered 404");
    }

    let self_signed = self_signed(&map, &certificates, &routes, authenticate_service_url.as_ref(), base_dir, issues);
    Some(Config {
        address,
        certificates,
        self_signed,
        authenticate_service_url,
        idp,
        signing_key,
        cookie_expire,
        downstream_mtls,
        timeouts,
        end_tunnels_at_session_expiry,
        http3,
        routes,
    })
}

/// `timeout_read`, `timeout_write`, `timeout_idle` with Pomerium's defaults (30 s, none, 5 min);
/// `0` disables one.
fn timeouts(map: &Entries<'_, '_>, issues: &mut Issues) -> Timeouts {
    let mut read = |key: &str, default: Option<Duration>| match map.get(key) {
        Some((_, v)) => values::duration(v, key, issues).and_then(|d| (!d.is_zero()).then_some(d)),
        None => default,
    };
    let defaults = Timeouts::default();
    Timeouts {
        read: read("timeout_read", defaults.read),
        write: read("timeout_write", defaults.write),
        idle: read("timeout_idle", defaults.idle),
    }
}

/// `:443` → `0.0.0.0:443`; checks there is a port.
fn normalise_address(address: &str, line: usize, issues: &mut Issues) -> String {
    let full = if address.starts_with(':') { format!("0.0.0.0{address}") } else { address.to_owned() };
    let port_ok = full.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        issues.error(line, "address", format!("`{address}` is not `host:port` (e.g. `:443`, `127.0.0.1:8443`)"));
    }
    full
}

/// Parses an `http(s)://` URL.
pub(crate) fn http_url(text: &str, line: usize, field: &str, issues: &mut Issues) -> Option<url::Url> {
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
    let mut seen: HashMap<(bool, String, Option<u16>), &ParsedRoute> = HashMap::new();
    for r in routes {
        // A tcp+ and a udp+ route may share an authority (iperf3 -u: TCP control, UDP data).
        let key = (r.route.from.udp, r.route.from.host.clone(), r.route.from.port);
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

/// No certificate configured: the self-signed one beside the config, for the names clients
/// dial (the routes' hosts, `authenticate_service_url`'s host), announced in a warning.
fn self_signed(
    map: &Entries<'_, '_>,
    certificates: &[super::CertificatePair],
    routes: &[super::RouteConfig],
    authenticate_service_url: Option<&url::Url>,
    base_dir: &Path,
    issues: &mut Issues,
) -> Option<SelfSigned> {
    let single = ["certificate_file", "certificate_key_file", "certificate", "certificate_key"];
    if !certificates.is_empty() || single.iter().any(|k| map.contains_key(*k)) {
        return None;
    }
    let route_hosts = routes.iter().map(|r| match &r.from.bastion {
        Some(proxy) => proxy.rsplit_once(':').map_or(proxy.as_str(), |(host, _)| host).to_owned(),
        None => r.from.host.clone(),
    });
    let auth_host = authenticate_service_url.and_then(url::Url::host_str).map(str::to_owned);
    let self_signed = SelfSigned::beside_config(base_dir, route_hosts.chain(auth_host));
    let cert = self_signed.cert_path.display();
    issues.warn(
        1,
        "certificates",
        format!(
            "no server certificate is configured (certificate_file, certificate or certificates): the gateway \
             serves a self-signed certificate saved in {cert}; clients trust it with `--alternate-ca-path {cert}`"
        ),
    );
    Some(self_signed)
}
