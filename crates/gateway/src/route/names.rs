//! The names the routes API gives routes that have no `name`, following Pomerium's routes
//! portal (`proxy/portal/portal.go` → `pkg/zero/importutil/namegen.go`, `GenerateRouteNames`).
//!
//! The rule, for routes without `prefix`/`path`/`regex` (every TCP route):
//! 1. The `from` hosts go into a tree of their labels, last label first (`com` → `example` →
//!    `postgres`). A chain of nodes with one child and no route of their own is folded into one
//!    key (`com.example`). As in Pomerium, a node with routes but a single route-less child is
//!    folded too, and its routes then get no name.
//! 2. A route is named after its own label (`postgres`); several routes on one host are `db`,
//!    `db (2)`, `db (3)`. Routes whose host is a single label (`localhost`, an IPv6 address) get
//!    no name here.
//! 3. When a name is taken by an earlier route, both get the labels where their paths differ
//!    appended (`db-a`, `db-b`); a third one keeps the plain name.
//! 4. Still nameless routes are `route-<index>`.
//!
//! The names depend on the set of routes given (Pomerium names the routes the caller may see).

use std::collections::{BTreeMap, HashMap};

/// One node of the label tree.
#[derive(Debug, Default)]
struct Node {
    parent: Option<usize>,
    children: BTreeMap<String, usize>,
    routes: Vec<usize>,
}

/// The label tree; node 0 is the root.
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn child(&mut self, at: usize, key: &str, route: Option<usize>) -> usize {
        let id = match self.nodes[at].children.get(key) {
            Some(&id) => id,
            None => {
                self.nodes.push(Node { parent: Some(at), ..Node::default() });
                let id = self.nodes.len() - 1;
                self.nodes[at].children.insert(key.to_owned(), id);
                id
            }
        };
        self.nodes[id].routes.extend(route);
        id
    }

    fn insert(&mut self, host: &str, route: usize) {
        let labels: Vec<&str> = host.split('.').rev().collect();
        let Some((last, path)) = labels.split_last() else { return };
        let at = path.iter().fold(0, |at, label| self.child(at, label, None));
        self.child(at, last, Some(route));
    }

    /// Folds a node with one route-less child into its parent's key, children first.
    fn compact(&mut self, id: usize) {
        let children: Vec<usize> = self.nodes[id].children.values().copied().collect();
        for child in children {
            self.compact(child);
        }
        let Some(parent) = self.nodes[id].parent else { return };
        let only = match self.nodes[id].children.iter().next() {
            Some((key, &child)) if self.nodes[id].children.len() == 1 => (key.clone(), child),
            _ => return,
        };
        if !self.nodes[only.1].routes.is_empty() {
            return;
        }
        let Some(key) = self.nodes[parent].children.iter().find(|(_, c)| **c == id).map(|(k, _)| k.clone()) else {
            return;
        };
        self.nodes[only.1].parent = Some(parent);
        self.nodes[parent].children.remove(&key);
        self.nodes[parent].children.insert(format!("{key}.{}", only.0), only.1);
        self.nodes[id] = Node::default();
    }

    /// Calls `name(key, routes, parents)` for every node below the root's children.
    fn walk(&self, id: usize, parents: &mut Vec<String>, name: &mut impl FnMut(&str, &[usize], &[String])) {
        for (key, &child) in &self.nodes[id].children {
            parents.push(key.clone());
            for (sub, &grandchild) in &self.nodes[child].children {
                name(sub, &self.nodes[grandchild].routes, parents);
            }
            self.walk(child, parents, name);
            parents.pop();
        }
    }
}

/// The host of a `from` URL as Go's `url.URL.Hostname` gives it: no user info, port or
/// IPv6 brackets, case kept.
fn hostname(from: &str) -> Option<&str> {
    let rest = from.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.rfind(':') {
        Some(i) if host[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..i],
        _ => host,
    };
    Some(host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host))
}

/// Drops the labels two keys share at their start and end (keeping one each), joined by `-`.
fn trim_common(a: &str, b: &str) -> (String, String) {
    let (mut a, mut b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    while a.len() > 1 && b.len() > 1 && a[0] == b[0] {
        a.remove(0);
        b.remove(0);
    }
    while a.len() > 1 && b.len() > 1 && a.last() == b.last() {
        a.pop();
        b.pop();
    }
    (a.join("-"), b.join("-"))
}

/// Pomerium's generated names for routes with these `from` URLs (see the module docs).
pub fn generate_names(froms: &[&str]) -> Vec<String> {
    let mut tree = Tree { nodes: vec![Node::default()] };
    for (i, from) in froms.iter().enumerate() {
        if let Some(host) = hostname(from) {
            tree.insert(host, i);
        }
    }
    tree.compact(0);
    let mut out = vec![String::new(); froms.len()];
    let mut prefixes: Vec<Vec<String>> = vec![Vec::new(); froms.len()];
    tree.walk(0, &mut Vec::new(), &mut |key, routes, parents| {
        for (n, &route) in routes.iter().enumerate() {
            out[route] = if n == 0 { key.to_owned() } else { format!("{key} ({})", n + 1) };
            prefixes[route] = parents.to_vec();
        }
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    for idx in 0..out.len() {
        let name = out[idx].clone();
        let Some(prev) = seen.remove(&name) else {
            seen.insert(name, idx);
            continue;
        };
        let (a, b) = (&prefixes[prev], &prefixes[idx]);
        let (mut prev_name, mut this) = (out[prev].clone(), name);
        for j in 0..a.len().max(b.len()) {
            match (a.get(j), b.get(j)) {
                (Some(pa), Some(pb)) => {
                    let (pa, pb) = trim_common(pa, pb);
                    if pa != pb {
                        prev_name = format!("{prev_name}-{pa}");
                        this = format!("{this}-{pb}");
                    }
                }
                (Some(pa), None) => prev_name = format!("{prev_name}-{}", pa.replace('.', "-")),
                (None, Some(pb)) => this = format!("{this}-{}", pb.replace('.', "-")),
                (None, None) => {}
            }
        }
        out[prev] = prev_name;
        out[idx] = this;
        seen.insert(out[prev].clone(), prev);
        seen.insert(out[idx].clone(), idx);
    }
    for (i, name) in out.iter_mut().enumerate() {
        if name.is_empty() {
            *name = format!("route-{i}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::generate_names;

    fn names(froms: &[&str]) -> Vec<String> {
        generate_names(froms)
    }

    #[test]
    fn a_route_is_named_after_its_first_label() {
        assert_eq!(names(&["tcp+https://postgres.example.com:5432"]), ["postgres"]);
        assert_eq!(names(&["tcp+https://proxy.example.com:8443/db.internal:5432"]), ["proxy"], "bastion: the proxy");
        assert_eq!(names(&["tcp+https://*.example.com:22"]), ["*"], "a wildcard keeps its star, as Pomerium");
    }

    #[test]
    fn several_routes_on_one_host_are_counted() {
        let got = names(&[
            "tcp+https://db.example.com:5432",
            "tcp+https://db.example.com:5433",
            "tcp+https://db.example.com",
        ]);
        assert_eq!(got, ["db", "db (2)", "db (3)"]);
    }

    #[test]
    fn same_label_under_different_parents_gets_the_differing_labels() {
        let got = names(&[
            "tcp+https://db.a.example.com:1",
            "tcp+https://db.b.example.com:1",
            "tcp+https://redis.example.com:1",
        ]);
        assert_eq!(got, ["db-a", "db-b", "redis"]);
        let got = names(&["tcp+https://db.example.com:1", "tcp+https://db.corp.example.com:1"]);
        assert_eq!(got, ["db", "db-corp"], "the shorter path keeps the plain name");
        let got = names(&["tcp+https://db.example.com:1", "tcp+https://db.example.org:1"]);
        assert_eq!(got, ["db-com", "db-org"]);
    }

    #[test]
    fn single_labels_and_folded_parents_fall_back_to_the_index() {
        assert_eq!(names(&["tcp+https://localhost:22", "tcp+https://[::1]:22"]), ["route-0", "route-1"]);
        // example.com has a route but only one route-less child (b): Pomerium folds it away.
        let got = names(&["tcp+https://example.com:22", "tcp+https://a.b.example.com:22"]);
        assert_eq!(got, ["route-0", "a"]);
    }
}
