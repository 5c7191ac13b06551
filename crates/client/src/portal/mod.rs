//! Loading connections from a Pomerium routes portal (`/.pomerium/api/v1/routes`), as Pomerium
//! Desktop's "Load Connections" does, but with a preview before anything is saved.
//!
//! - [`fetch`]: the portal's JSON read with the stored session token for that proxy, logging in
//!   through the browser when there is none or it is refused (one login per proxy, the
//!   engine's [`Authenticator`](porthole_tunnel::auth::Authenticator)).
//! - [`diff`]: the routes turned into connections and compared with the saved ones: new,
//!   changed (which fields), unchanged, gone; routes that cannot be a connection are skipped
//!   with the reason.
//!
//! [`App::load_portal`](crate::App::load_portal) keeps the last preview per server and
//! [`App::accept_portal`](crate::App::accept_portal) saves exactly it.

pub mod diff;
pub mod fetch;
mod load;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::model::Profile;

pub use diff::{SOURCE_PREFIX, preview};
pub use fetch::{FetchSettings, ROUTES_PATH, RouteList, fetch_routes};

/// One route as the portal lists it: Pomerium's `portal.Route`, field for field (`type` is
/// `tcp`, `udp`, `http` or `mcp`; unnamed routes carry a name the server generated).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortalRoute {
    /// The route's id (stable across reloads of the same route).
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `tcp`, `udp`, `http` or `mcp`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The route's `from` URL (`tcp+https://db.example.com:5432`).
    #[serde(default)]
    pub from: String,
    /// Its description.
    #[serde(default)]
    pub description: String,
    /// The command the portal suggests (`pomerium-cli tcp db.example.com:5432`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_command: Option<String>,
    /// A logo URL (may be empty).
    #[serde(default)]
    pub logo_url: String,
}

/// What "Load from server…" asks for: the Pomerium URL and how to trust it (as a connection's
/// TLS options).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortalSource {
    /// The Pomerium URL (`https://pomerium.example.com`; `https://` is assumed when left out).
    pub pomerium_url: String,
    /// Extra certificate authorities (PEM file) to trust for it.
    pub ca_file: Option<String>,
    /// Accept any certificate (dangerous).
    pub disable_tls_verification: bool,
}

/// A route as the connection it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortalEntry {
    /// The route's id (saved as the connection's source, `portal-route-<id>`).
    pub route_id: String,
    /// The route's `from`.
    pub from: String,
    /// The connection's name (the route's).
    pub name: String,
    /// The destination, `host:port`.
    pub destination: String,
    /// TCP for a `tcp` route, UDP for a `udp` one.
    pub protocol: crate::model::Protocol,
    /// The proxy: the server it was loaded from.
    pub pomerium_url: String,
    /// The CA file it was loaded with.
    pub ca_file: Option<String>,
    /// Loaded with TLS verification disabled.
    pub disable_tls_verification: bool,
    /// The route's description.
    pub description: String,
}

/// One field a reload changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field, as a profile names it (`name`, `destination`, `pomeriumUrl`, `caFile`,
    /// `disableTlsVerification`).
    pub field: String,
    /// The saved value (`""` for none).
    pub old: String,
    /// The route's value.
    pub new: String,
}

/// A route that matches a saved connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedEntry {
    /// The saved connection's id.
    pub id: String,
    /// What the route says now.
    pub entry: PortalEntry,
    /// What differs (empty when unchanged).
    pub changes: Vec<FieldChange>,
}

/// A route that does not become a connection, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SkippedRoute {
    /// The route's name.
    pub name: String,
    /// Its `from`.
    pub from: String,
    /// Its type (`http`, `udp`, …).
    pub kind: String,
    /// Why it is skipped, as a sentence.
    pub reason: String,
}

/// The diff preview: what accepting would do. Nothing is saved until it is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortalPreview {
    /// The server, as saved in the connections' `pomeriumUrl` (`https://host[:port]`).
    pub server: String,
    /// Routes with no saved connection: added on accept.
    pub new: Vec<PortalEntry>,
    /// Routes whose saved connection differs: updated on accept (the user's own settings —
    /// listen address, tags, client certificate, autostart — are kept).
    pub changed: Vec<SavedEntry>,
    /// Routes whose saved connection is up to date.
    pub unchanged: Vec<SavedEntry>,
    /// Connections loaded from this server whose route is no longer listed: kept unless the
    /// user ticks them for removal.
    pub gone: Vec<Profile>,
    /// Routes that cannot be a connection.
    pub skipped: Vec<SkippedRoute>,
}

/// What accepting a preview did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PortalReport {
    /// Connections added.
    pub added: u32,
    /// Connections updated.
    pub updated: u32,
    /// Connections removed (ticked "gone" ones).
    pub removed: u32,
}
