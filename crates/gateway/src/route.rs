//! The route table: which configured route a CONNECT authority names.
//!
//! A `from` with a port matches exactly that `host:port`; a `from` without a port matches the host
//! on any port (Pomerium's `match_any_incoming_port`); the bastion form
//! `tcp+https://proxy:8443/host:port` matches the path target `host:port`. Exact matches win over
//! any-port matches.

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
    /// A human name for logs and the routes API: `name`, else the matched authority.
    pub fn display_name(&self) -> String {
        self.config.name.clone().unwrap_or_else(|| match self.config.from.port {
            Some(p) => format!("{}:{p}", self.config.from.host),
            None => self.config.from.host.clone(),
        })
    }

    /// The command that opens this route with Porthole (same arguments as pomerium-cli).
    pub fn connect_command(&self) -> String {
        let from = &self.config.from;
        match &from.bastion {
            Some(_) => format!("porthole tcp {}", from.raw),
            None => {
                let host = if from.host.contains(':') { format!("[{}]", from.host) } else { from.host.clone() };
                match from.port {
                    Some(p) => format!("porthole tcp {host}:{p}"),
                    None => format!("porthole tcp {host}:<port>"),
                }
            }
        }
    }
}

/// Looks routes up by CONNECT authority.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
    exact: HashMap<(String, u16), usize>,
    any_port: HashMap<String, usize>,
}

impl RouteTable {
    /// Indexes `routes` (first one wins on duplicates; config validation rejects those anyway).
    pub fn new(routes: Vec<Route>) -> Self {
        let mut table = Self::default();
        for (i, route) in routes.into_iter().enumerate() {
            let host = route.config.from.host.to_ascii_lowercase();
            match route.config.from.port {
                Some(port) => {
                    table.exact.entry((host, port)).or_insert(i);
                }
                None => {
                    table.any_port.entry(host).or_insert(i);
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

    /// The route for a CONNECT authority (`host:port`, `[v6]:port`), if any.
    pub fn find(&self, authority: &str) -> Option<&Arc<Route>> {
        let (host, port) = split_authority(authority)?;
        let host = host.to_ascii_lowercase();
        if let Some(&i) = self.exact.get(&(host.clone(), port)) {
            return self.routes.get(i);
        }
        self.any_port.get(&host).and_then(|&i| self.routes.get(i))
    }
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
    use super::split_authority;

    #[test]
    fn authorities() {
        assert_eq!(split_authority("redis.example.com:6379"), Some(("redis.example.com", 6379)));
        assert_eq!(split_authority("[::1]:22"), Some(("::1", 22)));
        assert_eq!(split_authority("redis.example.com"), None);
        assert_eq!(split_authority("::1:22"), None);
        assert_eq!(split_authority(":22"), None);
    }
}
