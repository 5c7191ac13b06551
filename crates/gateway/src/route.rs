//! The route table: which configured route a CONNECT authority names.
//!
//! A `from` with a port matches exactly that `host:port`; a `from` without a port matches the host
//! on any port (Pomerium's `match_any_incoming_port`, on by default); the bastion form
//! `tcp+https://proxy:8443/host:port` matches the path target `host:port`.
//!
//! A host with `*` is a wildcard, matched as Pomerium does (`config/from.go`
//! `WildcardToRegex`): each `*` stands for any run of characters, dots included, so
//! `*.example.com` matches `db.example.com` and `a.b.example.com`. The order follows Pomerium's
//! Envoy route table (`config/envoyconfig/route_configurations.go`): hosts without `*` get their
//! own virtual hosts, which Envoy tries first (exact `host:port`, then `host` on any port);
//! wildcard routes all sit in the catch-all virtual host, where the first in config order wins.

mod names;

pub use names::generate_names;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::RouteConfig;
use crate::tls::ClientCa;

/// A route ready to serve: its config plus what was prepared from it at start.
#[derive(Debug)]
pub struct Route {
    /// The validated config.
    pub config: RouteConfig,
    /// A short stable id (from the `from` URL), used in logs and the routes API.
    pub id: String,
    /// The route's own client CA (`tls_downstream_client_ca_file`), if any.
    pub client_ca: Option<ClientCa>,
}

impl Route {
    /// A human name for logs: `name`, else the matched authority (the routes API names
    /// unnamed routes as Pomerium does, [`generate_names`]).
    pub fn display_name(&self) -> String {
        self.config.name.clone().unwrap_or_else(|| match self.config.from.port {
            Some(p) => format!("{}:{p}", self.config.from.host),
            None => self.config.from.host.clone(),
        })
    }

    /// The command that opens this route with Porthole (same arguments as pomerium-cli).
    pub fn connect_command(&self) -> String {
        let from = &self.config.from;
        let kind = if from.udp { "udp" } else { "tcp" };
        match &from.bastion {
            Some(_) => format!("porthole {kind} {}", from.raw),
            None => {
                let host = if from.host.contains(':') { format!("[{}]", from.host) } else { from.host.clone() };
                match from.port {
                    Some(p) => format!("porthole {kind} {host}:{p}"),
                    None => format!("porthole {kind} {host}:<port>"),
                }
            }
        }
    }
}

/// Looks routes up by CONNECT authority. Each key starts with `udp`: CONNECT finds `tcp+`
/// routes, CONNECT-UDP `udp+` ones, so both kinds may share an authority.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
    exact: HashMap<(bool, String, u16), usize>,
    any_port: HashMap<(bool, String), usize>,
    /// Wildcard hosts (`*.example.com`) with their port (`None`: any), in config order.
    wildcards: Vec<(bool, String, Option<u16>, usize)>,
}

impl RouteTable {
    /// Indexes `routes` (first one wins on duplicates; config validation rejects those anyway).
    pub fn new(routes: Vec<Route>) -> Self {
        let mut table = Self::default();
        for (i, route) in routes.into_iter().enumerate() {
            let host = route.config.from.host.to_ascii_lowercase();
            let udp = route.config.from.udp;
            match route.config.from.port {
                _ if host.contains('*') => table.wildcards.push((udp, host, route.config.from.port, i)),
                Some(port) => {
                    table.exact.entry((udp, host, port)).or_insert(i);
                }
                None => {
                    table.any_port.entry((udp, host)).or_insert(i);
                }
            }
            table.routes.push(Arc::new(route));
        }
        table
    }

    /// Every route, in config order.
    pub fn all(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// The route with this [`route_id`], if any.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.id == id)
    }

    /// The `tcp+` route for a CONNECT authority (`host:port`, `[v6]:port`), if any.
    pub fn find(&self, authority: &str) -> Option<&Arc<Route>> {
        self.find_kind(false, authority)
    }

    /// The `udp+` route for a CONNECT-UDP target (`host:port` from the MASQUE path), if any.
    pub fn find_udp(&self, authority: &str) -> Option<&Arc<Route>> {
        self.find_kind(true, authority)
    }

    fn find_kind(&self, udp: bool, authority: &str) -> Option<&Arc<Route>> {
        let (host, port) = split_authority(authority)?;
        let host = host.to_ascii_lowercase();
        if let Some(&i) = self.exact.get(&(udp, host.clone(), port)) {
            return self.routes.get(i);
        }
        if let Some(&i) = self.any_port.get(&(udp, host.clone())) {
            return self.routes.get(i);
        }
        self.wildcards
            .iter()
            .find(|(u, pattern, p, _)| *u == udp && p.is_none_or(|p| p == port) && wildcard_matches(pattern, &host))
            .and_then(|&(_, _, _, i)| self.routes.get(i))
    }
}

/// Whether `host` matches `pattern`, where each `*` stands for any run of characters (none,
/// or several labels): Pomerium turns every `*` into the regex `(.*)`.
pub fn wildcard_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.as_bytes(), host.as_bytes());
    // Greedy match with backtracking to the last `*` (linear in practice, O(p*h) at worst).
    let (mut pi, mut hi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while hi < h.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, hi));
                pi += 1;
            }
            Some(&c) if c == h[hi] => {
                pi += 1;
                hi += 1;
            }
            _ => match star {
                Some((sp, sh)) => {
                    pi = sp + 1;
                    hi = sh + 1;
                    star = Some((sp, sh + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Splits `host:port` / `[v6]:port` into the bare host and the port.
pub fn split_authority(authority: &str) -> Option<(&str, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?.parse().ok()?;
        return Some((host, port));
    }
    let (host, port) = authority.rsplit_once(':')?;
    if host.is_empty() || host.contains(':') {
        return None;
    }
    Some((host, port.parse().ok()?))
}

/// A short stable id for a route: 16 hex digits of SHA-256 over its `from`.
pub fn route_id(from: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(from.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::{Route, RouteTable, split_authority, wildcard_matches};
    use crate::config::{RouteConfig, RouteFrom};

    fn table(froms: &[(&str, Option<u16>)]) -> RouteTable {
        let routes = froms
            .iter()
            .map(|&(host, port)| Route {
                config: RouteConfig {
                    from: RouteFrom {
                        raw: format!("tcp+https://{host}"),
                        host: host.into(),
                        port,
                        bastion: None,
                        udp: false,
                    },
                    to: Vec::new(),
                    policy: crate::policy::Policy::default(),
                    allow_public_unauthenticated_access: false,
                    tls_downstream_client_ca_pem: None,
                    preserve_host_header: false,
                    idle_timeout: None,
                    end_tunnels_at_session_expiry: None,
                    name: None,
                    description: None,
                    line: 0,
                },
                id: host.into(),
                client_ca: None,
            })
            .collect();
        RouteTable::new(routes)
    }

    fn found(table: &RouteTable, authority: &str) -> Option<String> {
        table.find(authority).map(|r| format!("{}:{:?}", r.config.from.host, r.config.from.port))
    }

    #[test]
    fn a_star_is_any_run_of_characters_as_pomerium() {
        assert!(wildcard_matches("*.example.com", "foo.example.com"));
        assert!(wildcard_matches("*.example.com", "a.b.example.com"), "any depth: `*` is `(.*)`");
        assert!(wildcard_matches("*.example.com", ".example.com"), "`(.*)` also matches nothing");
        assert!(wildcard_matches("db-*.example.com", "db-7.example.com"));
        assert!(wildcard_matches("*.*.example.com", "a.b.example.com"));
        assert!(wildcard_matches("*", "anything"));
        assert!(!wildcard_matches("*.example.com", "example.com"), "the dot is literal");
        assert!(!wildcard_matches("*.example.com", "foo.example.org"));
        assert!(!wildcard_matches("*.example.com", "foo.example.com.evil"));
        assert!(!wildcard_matches("db-*.example.com", "web-1.example.com"));
    }

    #[test]
    fn exact_routes_win_then_wildcards_in_config_order() {
        let t = table(&[
            ("*.example.com", Some(22)),
            ("*.corp.example.com", Some(22)),
            ("db.example.com", Some(22)),
            ("*.example.com", None),
            ("web.example.com", None),
        ]);
        assert_eq!(found(&t, "foo.example.com:22").as_deref(), Some("*.example.com:Some(22)"));
        assert_eq!(found(&t, "FOO.Example.com:22").as_deref(), Some("*.example.com:Some(22)"), "case-insensitive");
        assert_eq!(
            found(&t, "a.corp.example.com:22").as_deref(),
            Some("*.example.com:Some(22)"),
            "the first wildcard in config order wins, not the longest (Envoy's catch-all route list)"
        );
        assert_eq!(found(&t, "db.example.com:22").as_deref(), Some("db.example.com:Some(22)"), "exact beats wildcard");
        assert_eq!(found(&t, "web.example.com:22").as_deref(), Some("web.example.com:None"), "any-port exact too");
        assert_eq!(found(&t, "foo.example.com:5432").as_deref(), Some("*.example.com:None"), "port-less wildcard");
        assert_eq!(found(&t, "foo.example.org:22"), None);
        let only_port = table(&[("*.example.com", Some(22))]);
        assert_eq!(found(&only_port, "foo.example.com:23"), None, "a wildcard with a port matches only that port");
    }

    #[test]
    fn authorities() {
        assert_eq!(split_authority("redis.example.com:6379"), Some(("redis.example.com", 6379)));
        assert_eq!(split_authority("[::1]:22"), Some(("::1", 22)));
        assert_eq!(split_authority("redis.example.com"), None);
        assert_eq!(split_authority("::1:22"), None);
        assert_eq!(split_authority(":22"), None);
    }
}
