//! One `routes[i]` entry → [`RouteConfig`]: `from` (docs/protocol.md §1.3), `to`, policy and the
//! legacy access keys.

use std::collections::HashMap;
use std::path::Path;

use super::keys;
use super::values;
use super::yaml::{self, Issues, Node};
use super::{RouteConfig, RouteFrom, Upstream};
use crate::policy::{LegacyRules, Policy};

/// A parsed route with what the cross-route checks need.
#[derive(Debug)]
pub(crate) struct ParsedRoute {
    /// The route.
    pub route: RouteConfig,
    /// Line of its `from` value.
    pub from_line: usize,
    /// Its field path (`routes[2]`).
    pub field: String,
}

/// Parses one route; returns `None` when `from` or `to` is unusable (the problems are in `issues`).
pub(crate) fn parse(node: &Node<'_>, field: &str, base_dir: &Path, issues: &mut Issues) -> Option<ParsedRoute> {
    let entries = yaml::entries(node, field, issues)?;
    let route_line = yaml::line(node);
    if let Some((line, why)) = entries.iter().find(|(k, _, _)| k == "from").and_then(|(_, _, v)| skip_reason(v)) {
        issues.warn(line, yaml::join(field, "from"), why);
        return None;
    }
    let mut known = keys::all_of(keys::ROUTE, keys::ROUTE_IGNORED);
    known.extend(keys::ROUTE_HTTP_ONLY);
    let mut map: HashMap<String, (&Node<'_>, &Node<'_>)> = HashMap::new();
    for (key, key_node, value) in entries {
        let sub = yaml::join(field, &key);
        let line = yaml::line(key_node);
        if keys::ROUTE.contains(&key.as_str()) {
            map.insert(key, (key_node, value));
        } else if keys::ROUTE_IGNORED.contains(&key.as_str()) {
            issues.warn(line, sub, format!("`{key}` has no effect for TCP routes; ignored"));
        } else if keys::ROUTE_HTTP_ONLY.contains(&key.as_str()) {
            let message = format!("`{key}` is for HTTP routes; this gateway serves tcp routes only");
            issues.error(line, sub, message);
        } else {
            issues.error(line, sub, yaml::unknown_key_message(&key, &known));
        }
    }
    let sub = |key: &str| yaml::join(field, key);
    let string = |key: &str, issues: &mut Issues| map.get(key).and_then(|(_, v)| yaml::string(v, &sub(key), issues));
    let boolean = |key: &str, issues: &mut Issues| {
        map.get(key).and_then(|(_, v)| yaml::boolean(v, &sub(key), issues)).unwrap_or(false)
    };

    let from = match map.get("from") {
        Some((_, v)) => yaml::string(v, &sub("from"), issues)
            .and_then(|t| parse_from(&t, yaml::line(v), &sub("from"), issues))
            .map(|f| (f, yaml::line(v))),
        None => {
            issues.error(route_line, sub("from"), "`from` is required (e.g. `tcp+https://db.example.com:5432`)");
            None
        }
    };
    let to = match map.get("to") {
        Some((_, v)) => parse_to(v, &sub("to"), issues),
        None => {
            issues.error(route_line, sub("to"), "`to` is required (e.g. `tcp://db.internal:5432`)");
            None
        }
    };

    let policy_node = map.get("policy").map(|(_, v)| *v).filter(|v| !yaml::is_null(v));
    let policy = policy_node.map(|v| crate::policy::parse_policy_node(v, &sub("policy"), issues)).unwrap_or_default();
    let legacy = legacy_rules(&map, field, issues);
    if legacy.allow_public_unauthenticated_access
        && (policy_node.is_some()
            || legacy.allow_any_authenticated_user
            || !legacy.allowed_users.is_empty()
            || !legacy.allowed_domains.is_empty()
            || !legacy.allowed_idp_claims.is_empty())
    {
        let line = map.get("allow_public_unauthenticated_access").map_or(route_line, |(k, _)| yaml::line(k));
        issues.error(
            line,
            sub("allow_public_unauthenticated_access"),
            "a public route cannot also have `policy`, `allowed_users`, `allowed_domains`, \
             `allowed_idp_claims` or `allow_any_authenticated_user`",
        );
    }
    let policy: Policy = policy.with_legacy(&legacy);
    if policy.is_empty() {
        issues.warn(route_line, field, "the route has no policy: every connection will be denied");
    }

    let tls_downstream_client_ca_pem = client_ca(&map, field, base_dir, issues);
    let idle_timeout = map.get("idle_timeout").and_then(|(_, v)| values::duration(v, &sub("idle_timeout"), issues));
    let preserve_host_header = boolean("preserve_host_header", issues);
    let end_tunnels_at_session_expiry = map
        .get("end_tunnels_at_session_expiry")
        .and_then(|(_, v)| yaml::boolean(v, &sub("end_tunnels_at_session_expiry"), issues));
    let name = string("name", issues);
    let description = string("description", issues);

    let ((from, from_line), to) = (from?, to?);
    let udp_to = to.iter().any(|u| matches!(u, Upstream::Udp { .. }));
    if from.udp != udp_to {
        let message = if from.udp {
            "a udp+ route needs `to: udp://host:port` upstreams"
        } else {
            "udp:// upstreams need a `udp+https://` (or `udp+http://`) `from`"
        };
        issues.error(route_line, sub("to"), message);
        return None;
    }
    Some(ParsedRoute {
        route: RouteConfig {
            from,
            to,
            policy,
            allow_public_unauthenticated_access: legacy.allow_public_unauthenticated_access,
            tls_downstream_client_ca_pem,
            preserve_host_header,
            idle_timeout,
            end_tunnels_at_session_expiry,
            name,
            description,
            line: route_line,
        },
        from_line,
        field: field.to_owned(),
    })
}

/// `allowed_users`, `allowed_domains`, `allowed_idp_claims`, `allow_any_authenticated_user`,
/// `allow_public_unauthenticated_access`.
fn legacy_rules(map: &HashMap<String, (&Node<'_>, &Node<'_>)>, field: &str, issues: &mut Issues) -> LegacyRules {
    let list = |key: &str, issues: &mut Issues| -> Vec<String> {
        map.get(key)
            .map(|(_, v)| yaml::string_list(v, &yaml::join(field, key), false, issues))
            .unwrap_or_default()
            .into_iter()
            .map(|(s, _, _)| s)
            .collect()
    };
    let flag = |key: &str, issues: &mut Issues| {
        map.get(key).and_then(|(_, v)| yaml::boolean(v, &yaml::join(field, key), issues)).unwrap_or(false)
    };
    let mut claims = Vec::new();
    if let Some((_, v)) = map.get("allowed_idp_claims") {
        let claims_field = yaml::join(field, "allowed_idp_claims");
        for (name, _, values) in yaml::entries(v, &claims_field, issues).unwrap_or_default() {
            let values = yaml::string_list(values, &yaml::join(&claims_field, &name), false, issues);
            claims.push((name, values.into_iter().map(|(s, _, _)| s).collect()));
        }
    }
    LegacyRules {
        allowed_users: list("allowed_users", issues),
        allowed_domains: list("allowed_domains", issues),
        allowed_idp_claims: claims,
        allow_any_authenticated_user: flag("allow_any_authenticated_user", issues),
        allow_public_unauthenticated_access: flag("allow_public_unauthenticated_access", issues),
    }
}

/// `tls_downstream_client_ca_file` (PEM file) or `tls_downstream_client_ca` (base64 PEM).
fn client_ca(
    map: &HashMap<String, (&Node<'_>, &Node<'_>)>,
    field: &str,
    base_dir: &Path,
    issues: &mut Issues,
) -> Option<Vec<u8>> {
    let (key, v) = ["tls_downstream_client_ca_file", "tls_downstream_client_ca"]
        .into_iter()
        .find_map(|k| map.get(k).map(|(_, v)| (k, *v)))?;
    let sub = yaml::join(field, key);
    let line = yaml::line(v);
    let text = yaml::string(v, &sub, issues)?;
    let (pem, source) = if key.ends_with("_file") {
        let source = format!("file `{}`", values::resolve(base_dir, &text).display());
        (values::read_file(base_dir, &text, line, &sub, issues)?, source)
    } else {
        (values::base64_pem(&text, line, &sub, issues)?, format!("`{key}`"))
    };
    values::check_certs(&pem, &source, line, &sub, issues).then_some(pem)
}

/// Why a route whose `from` is not a TCP route is skipped (with its line), or `None` for TCP
/// routes and for values the full parse reports as errors. Pomerium serves these kinds; this
/// gateway serves only `tcp+` routes, so the rest of a real Pomerium config still loads.
fn skip_reason(from: &Node<'_>) -> Option<(usize, String)> {
    let text = yaml::scalar_text(from)?.to_ascii_lowercase();
    let (scheme, _) = text.split_once("://")?;
    let why = match scheme {
        "https" | "http" => {
            format!("{scheme} routes are HTTP routes; porthole-gateway serves TCP routes only; this route is skipped")
        }
        "ssh" => "ssh routes are Pomerium's SSH routes; porthole-gateway serves TCP routes only \
                  (a `tcp+https://host:22` route tunnels SSH); this route is skipped"
            .to_owned(),
        _ => return None,
    };
    Some((yaml::line(from), why))
}

/// Splits `host[:port]` / `[v6][:port]`; lower-cases the host and strips IPv6 brackets.
pub(crate) fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in an IPv6 address")?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or("expected `:port` after `]`")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("IPv6 addresses must be in brackets".into());
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.contains(['@', '/', '?', '#', ' ']) {
        return Err(format!("`{host}` is not a host name"));
    }
    let port = match port {
        Some(p) => Some(match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(format!("`{p}` is not a port number")),
        }),
        None => None,
    };
    Ok((host.to_ascii_lowercase(), port))
}

/// Parses `from` (docs/protocol.md §1.3): plain `tcp+https://host[:port]` or bastion
/// `tcp+https://proxy[:port]/host:port`.
pub(crate) fn parse_from(raw: &str, line: usize, field: &str, issues: &mut Issues) -> Option<RouteFrom> {
    let lower = raw.to_ascii_lowercase();
    let udp = lower.starts_with("udp+");
    let schemes = ["tcp+https://", "tcp+http://", "udp+https://", "udp+http://"];
    let Some(rest) = schemes.iter().find_map(|p| lower.strip_prefix(p)) else {
        let message = format!(
            "`{raw}` must start with `tcp+https://`, `udp+https://`, `tcp+http://` or `udp+http://` (https:// \
             and ssh:// routes are skipped with a warning)"
        );
        issues.error(line, field, message);
        return None;
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let bad = |issues: &mut Issues, why: String| -> Option<RouteFrom> {
        issues.error(line, field, format!("`{raw}`: {why}"));
        None
    };
    let proxy = match split_host_port(authority) {
        Ok(hp) => hp,
        Err(why) => return bad(issues, why),
    };
    let target = path.split('/').find(|s| !s.is_empty());
    let Some(target) = target else {
        return Some(RouteFrom { raw: raw.to_owned(), host: proxy.0, port: proxy.1, bastion: None, udp });
    };
    match split_host_port(target) {
        Ok((host, Some(port))) => Some(RouteFrom {
            raw: raw.to_owned(),
            host,
            port: Some(port),
            bastion: Some(authority.to_ascii_lowercase()),
            udp,
        }),
        Ok((_, None)) => bad(issues, format!("the bastion target `{target}` needs a port (`host:port`)")),
        Err(why) => bad(issues, why),
    }
}

/// Parses `to`: one URL or a list; all `tcp://host:port`, or all `http(s)://` proxies.
fn parse_to(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<Vec<Upstream>> {
    let items = yaml::string_list(node, field, false, issues);
    if items.is_empty() {
        issues.error(yaml::line(node), field, "`to` needs at least one upstream");
        return None;
    }
    let before = issues.errors.len();
    let upstreams: Vec<Upstream> =
        items.iter().filter_map(|(text, line, item_field)| parse_upstream(text, *line, item_field, issues)).collect();
    let tcp = upstreams.iter().filter(|u| matches!(u, Upstream::Tcp { .. })).count();
    let udp = upstreams.iter().filter(|u| matches!(u, Upstream::Udp { .. })).count();
    if tcp != 0 && tcp != upstreams.len() {
        issues.error(
            yaml::line(node),
            field,
            "`to` mixes tcp:// with other schemes; use all tcp:// or all proxies (as Pomerium)",
        );
    } else if udp != 0 && udp != upstreams.len() {
        issues.error(
            yaml::line(node),
            field,
            "`to` mixes udp:// with other schemes; a udp+ route needs all udp:// (as Pomerium)",
        );
    }
    (issues.errors.len() == before).then_some(upstreams)
}

/// The port of a `tcp://host` upstream written without one: Pomerium hands the endpoint to
/// Envoy with port 80, its default for an upstream that has no TLS transport socket.
pub(crate) const TCP_DEFAULT_PORT: u16 = 80;

/// Parses one `to` URL.
fn parse_upstream(text: &str, line: usize, field: &str, issues: &mut Issues) -> Option<Upstream> {
    let lower = text.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("tcp://") {
        let authority = rest.trim_end_matches('/');
        match split_host_port(authority) {
            Ok((host, Some(port))) if !authority.contains('/') => {
                return Some(Upstream::Tcp { host, port });
            }
            Ok((host, None)) if !authority.contains('/') => {
                let message = format!(
                    "`{text}` has no port: connecting to port {TCP_DEFAULT_PORT}, as Pomerium does (Envoy's \
                     default for an upstream without TLS); write `tcp://{authority}:PORT` to choose another"
                );
                issues.warn(line, field, message);
                return Some(Upstream::Tcp { host, port: TCP_DEFAULT_PORT });
            }
            Ok(_) => issues.error(line, field, format!("`{text}`: a tcp:// upstream has no path")),
            Err(why) => issues.error(line, field, format!("`{text}`: {why}")),
        }
        return None;
    }
    if let Some(rest) = lower.strip_prefix("udp://") {
        let authority = rest.trim_end_matches('/');
        match split_host_port(authority) {
            Ok((host, Some(port))) if !authority.contains('/') => return Some(Upstream::Udp { host, port }),
            Ok((_, None)) => issues.error(line, field, format!("`{text}` needs a port: `udp://{authority}:PORT`")),
            Ok(_) => issues.error(line, field, format!("`{text}`: a udp:// upstream has no path")),
            Err(why) => issues.error(line, field, format!("`{text}`: {why}")),
        }
        return None;
    }
    let parsed = url::Url::parse(text).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
    let Some(url) = parsed else {
        let message = format!("`{text}` must be `tcp://host:port` or an `http(s)://host[:port]` proxy");
        issues.error(line, field, message);
        return None;
    };
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    Some(Upstream::Proxy {
        tls: url.scheme() == "https",
        host: host.to_owned(),
        port: url.port_or_known_default().unwrap_or(80),
    })
}
