//! Reloading the config while the gateway runs (SIGHUP, or a change of the file seen by
//! [`crate::watch`]): read and validate it as `--validate` does, build a new
//! [`Snapshot`], swap it in, and re-check every live tunnel against it.
//!
//! A config with problems is refused whole, every problem logged with its line, and the old
//! one keeps serving. Listeners keep running either way. Settings read only at start
//! (`address`, `signing_key`, `idp_*`, `authenticate_service_url`, `cookie_expire`) are named in
//! a warning when they change: they take effect at the next restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::config::{self, Config, ConfigError, MtlsEnforcement, RouteConfig};
use crate::policy::Decision;
use crate::server::Shared;
use crate::snapshot::Snapshot;
use crate::tunnels::{Revoked, TunnelInfo};

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP (or a caller): always re-read, even when the text is unchanged (certificate
    /// files it names may have changed).
    Signal,
    /// The file changed on disk: skipped when its text is what was last read.
    FileChanged,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The new config is in force.
    Applied {
        /// Routes whose `from` is new.
        added: usize,
        /// Routes whose `from` stayed but something else changed.
        changed: usize,
        /// Routes whose `from` is gone.
        removed: usize,
        /// Live tunnels ended because the new config no longer admits them.
        revoked: usize,
        /// Settings read only at start that the file changed (named in a warning).
        restart_needed: Vec<&'static str>,
    },
    /// The file's text is what was last read; nothing was done.
    Unchanged,
    /// The config was refused; the old one keeps serving. One line per problem.
    Refused(Vec<String>),
}

/// Reloads one gateway's config from its file.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    shared: Arc<Shared>,
    /// The settings in force since start (those that cannot change live are compared to it).
    started: Config,
    /// The text last read; also serialises reloads.
    last_text: Mutex<Option<String>>,
}

impl Reloader {
    /// A reloader for the gateway sharing `shared`, reading `path`.
    pub(crate) fn new(path: PathBuf, shared: Arc<Shared>) -> Self {
        let started = shared.current.get().config.clone();
        Self { path, shared, started, last_text: Mutex::new(None) }
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file and, when it is valid, puts it in force and re-checks live tunnels.
    /// Logs one line: what changed, or the refusal with every problem.
    pub fn reload(&self, trigger: Trigger) -> Reload {
        let mut last = self.last_text.lock().unwrap_or_else(PoisonError::into_inner);
        let shown = self.path.display();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) => return refuse(vec![format!("{shown}: cannot read the config: {e}")]),
        };
        if trigger == Trigger::FileChanged && last.as_deref() == Some(text.as_str()) {
            tracing::debug!(path = %shown, "config file touched but unchanged; not reloaded");
            return Reload::Unchanged;
        }
        *last = Some(text.clone());
        let base = self.path.parent().unwrap_or(Path::new("."));
        let loaded = match config::parse_str(&text, base) {
            Ok(l) => l,
            Err(ConfigError::Invalid(issues)) => {
                return refuse(
                    issues.iter().map(|i| format!("{shown}:{}: {}: {}", i.line, i.field, i.message)).collect(),
                );
            }
            Err(e) => return refuse(vec![format!("{shown}: {e}")]),
        };
        let snapshot = match Snapshot::build(loaded.config) {
            Ok(s) => s,
            Err(e) => return refuse(vec![format!("{shown}: {e}")]),
        };
        for w in &loaded.warnings {
            tracing::warn!("{shown}:{}: {}: {}", w.line, w.field, w.message);
        }
        let restart_needed = restart_only_changes(&self.started, &snapshot.config);
        if !restart_needed.is_empty() {
            tracing::warn!(
                "{shown}: {} changed, but take effect only after a restart; the running values stay in force",
                restart_needed.join(", ")
            );
        }
        let (added, changed, removed) = diff_routes(&self.shared.current.get().config.routes, &snapshot.config.routes);
        self.shared.current.replace(snapshot);
        let now = self.shared.current.get();
        let revoked = self.shared.tunnels.revoke_where(|info| verdict(&now, info, SystemTime::now()));
        let tail = if revoked == 0 { String::new() } else { format!("; {revoked} live tunnel(s) revoked") };
        tracing::info!("config reloaded: {added} routes added, {changed} changed, {removed} removed{tail}");
        Reload::Applied { added, changed, removed, revoked, restart_needed }
    }
}

/// Logs the refusal (one line, every problem) and returns it.
fn refuse(problems: Vec<String>) -> Reload {
    tracing::error!(
        "config reload refused ({} problem(s)); the previous config keeps serving: {}",
        problems.len(),
        problems.join("; ")
    );
    Reload::Refused(problems)
}

/// Whether a live tunnel may go on under `snapshot`: `None`, or why it must end. The route
/// must still exist, the client certificate must still pass its CA, the policy must still
/// allow the user, and (when the keys say so) the session must not have expired.
pub fn verdict(snapshot: &Snapshot, info: &TunnelInfo, now: SystemTime) -> Option<Revoked> {
    let Some(route) = snapshot.routes.by_id(&info.route_id) else {
        return Some(Revoked::RouteRemoved);
    };
    let ca = route.client_ca.as_ref().or(match &snapshot.global_ca {
        Some((ca, MtlsEnforcement::PolicyWithDefaultDeny | MtlsEnforcement::RejectConnection)) => Some(ca),
        _ => None,
    });
    if ca.is_some_and(|ca| !ca.accepts(&info.peer.certs)) {
        return Some(Revoked::PolicyChanged);
    }
    let public = route.config.allow_public_unauthenticated_access;
    if !public && route.config.policy.evaluate(info.identity.as_ref()) != Decision::Allow {
        return Some(Revoked::PolicyChanged);
    }
    let expired = info.expires.is_some_and(|at| at <= now);
    (expired && snapshot.ends_at_session_expiry(route)).then_some(Revoked::SessionExpired)
}

/// Routes added, changed and removed, matched by `from` (a route's identity).
pub fn diff_routes(old: &[RouteConfig], new: &[RouteConfig]) -> (usize, usize, usize) {
    let before: HashMap<&str, &RouteConfig> = old.iter().map(|r| (r.from.raw.as_str(), r)).collect();
    let after: HashMap<&str, &RouteConfig> = new.iter().map(|r| (r.from.raw.as_str(), r)).collect();
    let added = after.keys().filter(|k| !before.contains_key(*k)).count();
    let removed = before.keys().filter(|k| !after.contains_key(*k)).count();
    let changed = after.iter().filter(|(k, r)| before.get(*k).is_some_and(|o| !same_route(o, r))).count();
    (added, changed, removed)
}

/// Equal but for where the route sits in the file.
fn same_route(a: &RouteConfig, b: &RouteConfig) -> bool {
    let mut b = b.clone();
    b.line = a.line;
    *a == b
}

/// The names of the settings read only at start that differ between `started` and `new`.
fn restart_only_changes(started: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if started.address != new.address {
        out.push("address");
    }
    if started.signing_key != new.signing_key {
        out.push("signing_key");
    }
    if started.idp != new.idp {
        out.push("idp_*");
    }
    if started.authenticate_service_url != new.authenticate_service_url {
        out.push("authenticate_service_url");
    }
    if started.cookie_expire != new.cookie_expire {
        out.push("cookie_expire");
    }
    out
}
