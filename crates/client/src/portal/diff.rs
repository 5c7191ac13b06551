//! The portal's routes as connections, compared with the saved ones. A saved connection
//! belongs to a server when its source is `portal-route-<id>` (Pomerium Desktop's marker) and
//! its proxy is that server; a route matches it by route id, else by destination (a route
//! whose id changed is "changed", not "gone" plus "new").

use std::collections::HashSet;

use porthole_tunnel::target;

use super::{FieldChange, PortalEntry, PortalPreview, PortalRoute, PortalSource, SavedEntry, SkippedRoute};
use crate::model::{Profile, Protocol};
use crate::validate::non_empty;

/// The prefix of a loaded connection's `source` (Pomerium Desktop writes the same).
pub const SOURCE_PREFIX: &str = "portal-route-";

/// The token origin of a proxy URL, for comparing servers (`None` when it is not a URL).
fn origin(url: &str) -> Option<String> {
    target::parse("portal.invalid:443", Some(url)).ok().map(|t| t.proxy.origin())
}

/// Why a route cannot be a connection, or the destination it tunnels to.
fn destination(route: &PortalRoute) -> Result<String, String> {
    match route.kind.as_str() {
        "tcp" | "udp" => {}
        "http" => return Err("an HTTP route is opened in a browser, not tunnelled".into()),
        "mcp" => return Err("an MCP server route is not a tunnel".into()),
        other => return Err(format!("unknown route type {other:?}")),
    }
    let parsed = target::parse(&route.from, None).map_err(|e| format!("its from URL is not usable: {e}"))?;
    let dest = parsed.destination;
    let host = dest.rsplit_once(':').map_or(dest.as_str(), |(h, _)| h);
    if host.contains('*') {
        return Err("a wildcard route has no single host to connect to; add a connection for one host by hand".into());
    }
    match dest.rsplit_once(':') {
        Some((_, port)) if !port.contains(']') && port.parse::<u16>().is_ok() => Ok(dest),
        _ => Err("its from URL names no port".into()),
    }
}

/// The diff preview of `routes` from `server` (loaded with `source`'s TLS options) against
/// the `saved` connections.
pub fn preview(server: &str, routes: &[PortalRoute], source: &PortalSource, saved: &[Profile]) -> PortalPreview {
    let server_origin = origin(server);
    let mut ours: Vec<&Profile> = saved
        .iter()
        .filter(|p| p.source.as_deref().is_some_and(|s| s.starts_with(SOURCE_PREFIX)))
        .filter(|p| p.pomerium_url.as_deref().and_then(origin) == server_origin)
        .collect();
    let mut out = PortalPreview { server: server.to_owned(), ..PortalPreview::default() };
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for route in routes {
        let destination = match destination(route) {
            Ok(d) => d,
            Err(reason) => {
                out.skipped.push(SkippedRoute {
                    name: route.name.clone(),
                    from: route.from.clone(),
                    kind: route.kind.clone(),
                    reason,
                });
                continue;
            }
        };
        if !seen.insert(route.id.clone()) {
            continue;
        }
        entries.push(PortalEntry {
            route_id: route.id.clone(),
            from: route.from.clone(),
            name: non_empty(Some(route.name.as_str())).unwrap_or(&destination).to_owned(),
            destination,
            protocol: if route.kind == "udp" { Protocol::Udp } else { Protocol::Tcp },
            pomerium_url: server.to_owned(),
            ca_file: non_empty(source.ca_file.as_deref()).map(str::to_owned),
            disable_tls_verification: source.disable_tls_verification,
            description: route.description.clone(),
        });
    }
    // Match by route id first, then the rest by destination.
    let mut matched: Vec<(PortalEntry, Option<Profile>)> = Vec::new();
    let mut unmatched = Vec::new();
    for entry in entries {
        let source = format!("{SOURCE_PREFIX}{}", entry.route_id);
        match ours.iter().position(|p| p.source.as_deref() == Some(source.as_str())) {
            Some(i) => matched.push((entry, Some(ours.remove(i).clone()))),
            None => unmatched.push(entry),
        }
    }
    for entry in unmatched {
        let found = ours.iter().position(|p| p.destination == entry.destination).map(|i| ours.remove(i).clone());
        matched.push((entry, found));
    }
    for (entry, profile) in matched {
        match profile {
            None => out.new.push(entry),
            Some(p) => {
                let changes = changes(&p, &entry);
                let saved = SavedEntry { id: p.id, entry, changes };
                if saved.changes.is_empty() { out.unchanged.push(saved) } else { out.changed.push(saved) }
            }
        }
    }
    out.gone = ours.into_iter().cloned().collect();
    out
}

/// The fields of `saved` that `entry` would change.
pub fn changes(saved: &Profile, entry: &PortalEntry) -> Vec<FieldChange> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let pairs = [
        ("name", saved.name.clone(), entry.name.clone()),
        ("destination", saved.destination.clone(), entry.destination.clone()),
        ("pomeriumUrl", opt(&saved.pomerium_url), entry.pomerium_url.clone()),
        ("caFile", opt(&saved.ca_file), opt(&entry.ca_file)),
        (
            "disableTlsVerification",
            saved.disable_tls_verification.to_string(),
            entry.disable_tls_verification.to_string(),
        ),
        ("source", opt(&saved.source), format!("{SOURCE_PREFIX}{}", entry.route_id)),
    ];
    pairs
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(field, old, new)| FieldChange { field: field.to_owned(), old, new })
        .collect()
}

/// The connection a new entry is saved as (no listen address, tags or certificate: the user
/// adds those).
pub fn new_profile(entry: &PortalEntry) -> Profile {
    Profile {
        id: uuid::Uuid::new_v4().to_string(),
        name: entry.name.clone(),
        destination: entry.destination.clone(),
        listen_addr: None,
        pomerium_url: Some(entry.pomerium_url.clone()),
        protocol: entry.protocol,
        tags: Vec::new(),
        ca_file: entry.ca_file.clone(),
        disable_tls_verification: entry.disable_tls_verification,
        client_cert: None,
        autostart: false,
        open_with: None,
        source: Some(format!("{SOURCE_PREFIX}{}", entry.route_id)),
    }
}

/// `saved` with the route's fields from `entry`; the user's own settings kept.
pub fn updated_profile(saved: &Profile, entry: &PortalEntry) -> Profile {
    Profile {
        name: entry.name.clone(),
        destination: entry.destination.clone(),
        protocol: entry.protocol,
        pomerium_url: Some(entry.pomerium_url.clone()),
        ca_file: entry.ca_file.clone(),
        disable_tls_verification: entry.disable_tls_verification,
        source: Some(format!("{SOURCE_PREFIX}{}", entry.route_id)),
        ..saved.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "https://pomerium.example.com";

    fn route(id: &str, name: &str, kind: &str, from: &str) -> PortalRoute {
        PortalRoute { id: id.into(), name: name.into(), kind: kind.into(), from: from.into(), ..Default::default() }
    }

    fn saved(entry: &PortalEntry) -> Profile {
        Profile { id: format!("p-{}", entry.route_id), ..new_profile(entry) }
    }

    #[test]
    fn only_concrete_tcp_and_udp_routes_become_connections() {
        let routes = [
            route("1", "Postgres", "tcp", "tcp+https://postgres.example.com:5432"),
            route("2", "", "tcp", "tcp+https://proxy.example.com:8443/redis.internal:6379"),
            route("3", "Wiki", "http", "https://wiki.example.com"),
            route("4", "DNS", "udp", "udp+https://dns.example.com:53"),
            route("5", "Any ssh", "tcp", "tcp+https://*.example.com:22"),
            route("6", "No port", "tcp", "tcp+https://noport.example.com"),
        ];
        let p = preview(SERVER, &routes, &PortalSource::default(), &[]);
        let new: Vec<(&str, &str)> = p.new.iter().map(|e| (e.name.as_str(), e.destination.as_str())).collect();
        assert_eq!(
            new,
            [
                ("Postgres", "postgres.example.com:5432"),
                ("redis.internal:6379", "redis.internal:6379"),
                ("DNS", "dns.example.com:53")
            ],
            "an unnamed route is named after its destination; a bastion URL tunnels to its path"
        );
        assert_eq!(p.new[2].protocol, Protocol::Udp, "a udp route becomes a UDP connection");
        assert_eq!(new_profile(&p.new[2]).protocol, Protocol::Udp);
        assert_eq!(p.new[0].protocol, Protocol::Tcp);
        assert!(p.new.iter().all(|e| e.pomerium_url == SERVER), "the proxy is the server loaded from");
        let skipped: Vec<&str> = p.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(skipped, ["Wiki", "Any ssh", "No port"]);
        assert!(p.skipped[1].reason.contains("wildcard"), "{:?}", p.skipped[1]);
        assert!(p.skipped[2].reason.contains("no port"), "{:?}", p.skipped[2]);
    }

    #[test]
    fn saved_connections_are_unchanged_changed_or_gone() {
        let routes = [
            route("a", "A", "tcp", "tcp+https://a.example.com:1"),
            route("b", "B", "tcp", "tcp+https://b.example.com:2"),
            route("c", "C", "tcp", "tcp+https://c.example.com:3"),
        ];
        let first = preview(SERVER, &routes, &PortalSource::default(), &[]);
        assert_eq!(first.new.len(), 3);
        let mut store: Vec<Profile> = first.new.iter().map(saved).collect();
        let other = Profile { pomerium_url: Some("https://other.example.com".into()), ..store[2].clone() };
        store.push(Profile { id: "other".into(), ..other });
        store.push(Profile { id: "mine".into(), source: None, ..store[1].clone() });

        let again = preview(SERVER, &routes, &PortalSource::default(), &store);
        assert_eq!((again.new.len(), again.changed.len(), again.unchanged.len(), again.gone.len()), (0, 0, 3, 0));

        let routes = [
            route("a", "A renamed", "tcp", "tcp+https://a.example.com:1"),
            route("b2", "B", "tcp", "tcp+https://b.example.com:2"),
        ];
        let next = preview(SERVER, &routes, &PortalSource::default(), &store);
        assert_eq!(next.changed.len(), 2, "{next:?}");
        assert_eq!(
            next.changed[0].changes,
            [FieldChange { field: "name".into(), old: "A".into(), new: "A renamed".into() }]
        );
        assert_eq!(next.changed[1].changes[0].field, "source", "a new id for the same destination is a change");
        let gone: Vec<&str> = next.gone.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(gone, ["p-c"], "only this server's loaded connections can be gone");
        assert!(next.new.is_empty() && next.unchanged.is_empty());
    }
}
