//! porthole-client: the application layer the CLI and the desktop app share.
//!
//! # Layout
//!
//! - [`tokens`]: where session tokens live (OS keychain, or private files as a fallback), the
//!   choice between them, and `cache location` / `cache clear` / `logout`.
//! - [`model`]: the desktop contract's types (docs/desktop-api.md), exported to TypeScript.
//! - [`error`]: [`AppError`] `{ code, message, fields }`, what every command returns.
//! - [`validate`]: a profile draft's problems, every one with its field.
//! - [`secrets`]: client private keys in the keychain ([`SecretStore`]).
//! - [`profiles`]: [`ProfileStore`], `connections.json` with atomic writes.
//! - [`import_export`]: Pomerium Desktop's JSON format, de-duplicating imports.
//! - [`portal`]: connections loaded from a routes portal, with a diff preview before saving.
//! - [`settings`]: `settings.json`, loaded with defaults and saved atomically.
//! - [`listen`]: the local address a tunnel listens on, in pomerium-cli's forms (`:PORT`,
//!   `HOST:PORT`, `[IPv6]:PORT`, `-`), for `--listen` and the desktop's field alike.
//! - [`tunnel_options`]: [`TunnelOptions`], the one way the CLI and the desktop app build a
//!   tunnel (TLS material, certificate store, login settings).
//! - [`status`] and [`logs`]: tunnel events as a status and as readable log lines.
//! - [`tray_menu`]: the tray's icon, tooltip and menu as a pure function of the statuses.
//! - [`app`]: [`App`], the API the desktop shell and the CLI call; `running` starts and stops
//!   its tunnels, `connections` keeps each connection's status, log and live tunnel.
#![forbid(unsafe_code)]

pub mod app;
pub mod apply;
mod connections;
pub mod error;
pub mod identity;
pub mod import_export;
pub mod listen;
pub mod logs;
pub mod model;
pub mod portal;
pub mod profiles;
mod running;
pub mod secrets;
pub mod settings;
pub mod status;
pub mod tokens;
pub mod tray_menu;
pub mod tunnel_options;
pub mod validate;
pub mod wording;

pub use app::{App, AppEvent, AppOptions};
pub use error::{AppError, ErrorCode};
pub use profiles::ProfileStore;
pub use secrets::{KeyringSecrets, MemorySecrets, SecretStore};
pub use tunnel_options::TunnelOptions;
