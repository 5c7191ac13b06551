//! The commands the UI calls, by name: [`dispatch`] deserializes the arguments (camelCase, as
//! the UI sends them), calls [`App`], and hands back its result or its `{code, message, fields}`
//! error. No rule lives here. The window process forwards every command to `portholed`, which
//! runs them here; `save_export` (a save dialog) is the window's own (`src-tauri`).

use porthole_client::app::DraftCheck;
use porthole_client::error::{AppError, ErrorCode};
use porthole_client::identity::SignedIn;
use porthole_client::model::{
    ConnectionStatus, ConnectionView, ImportReport, LogEntry, Profile, ProfileDraft, Session, Settings,
};
use porthole_client::portal::{PortalPreview, PortalReport, PortalSource};
use porthole_client::status::MenuModel;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Cx;

/// The command names, as the UI invokes them: those [`dispatch`] runs, and `save_export`.
pub const COMMANDS: &[&str] = &[
    "list_connections",
    "save_connection",
    "delete_connection",
    "duplicate_connection",
    "connect",
    "disconnect",
    "reconnect",
    "connect_tag",
    "disconnect_tag",
    "sessions",
    "close_session",
    "logs",
    "import_connections",
    "export_connections",
    "save_export",
    "signed_in",
    "sign_out",
    "log_in",
    "tray_menu_model",
    "get_settings",
    "set_settings",
    "open_url",
    "load_portal",
    "accept_portal",
    "check_connection",
    "quit",
];

/// The commands the window runs itself (a native dialog), not [`dispatch`].
pub const WINDOW_COMMANDS: &[&str] = &["save_export"];

/// `snake_case` → the UI's `camelCase` argument key (serde's `rename_all = "camelCase"`).
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        }
    }
    out
}

/// Argument `name` (snake_case) of `cmd` from the UI's `args` object (absent is `null`: fine
/// for an `Option`).
///
/// # Errors
/// `invalid`, naming the argument, when it has the wrong shape.
pub fn arg<T: DeserializeOwned>(cmd: &str, args: &Value, name: &str) -> Result<T, AppError> {
    let key = camel(name);
    let value = args.get(&key).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value)
        .map_err(|e| AppError::new(ErrorCode::Invalid, format!("The command {cmd} got a bad argument {key}: {e}.")))
}

/// A command's result as the JSON the UI gets.
///
/// # Errors
/// The command's error, or `io` when the answer cannot be encoded.
pub fn answer<T: Serialize>(result: Result<T, AppError>) -> Result<Value, AppError> {
    let value = result?;
    serde_json::to_value(value).map_err(|e| AppError::new(ErrorCode::Io, format!("Could not encode the answer: {e}.")))
}

macro_rules! dispatch_table {
    ($cx:ident, $cmd:ident, $args:ident; $( $name:ident ( $( $arg:ident : $ty:ty ),* ) ),* $(,)?) => {
        match $cmd {
            $( stringify!($name) => {
                $( let $arg: $ty = arg($cmd, $args, stringify!($arg))?; )*
                answer($name($cx $(, $arg)*).await)
            } )*
            other => Err(AppError::new(ErrorCode::NotFound, format!("There is no command {other}."))),
        }
    };
}

/// Runs command `cmd` with the UI's `args` (an object keyed by camelCase argument names).
///
/// # Errors
/// The command's own, `invalid` for a bad argument, `notFound` for an unknown command.
pub async fn dispatch(cx: &Cx, cmd: &str, args: &Value) -> Result<Value, AppError> {
    dispatch_table! { cx, cmd, args;
        list_connections(),
        save_connection(draft: ProfileDraft),
        delete_connection(id: String),
        duplicate_connection(id: String),
        connect(id: String),
        disconnect(id: String),
        reconnect(id: String),
        connect_tag(tag: Option<String>),
        disconnect_tag(tag: Option<String>),
        sessions(id: String),
        close_session(id: String, session_id: u64),
        logs(id: String),
        import_connections(json: String),
        export_connections(
            ids: Option<Vec<String>>,
            include_tags: bool,
            include_private_keys: bool,
            include_porthole_fields: Option<bool>
        ),
        signed_in(),
        sign_out(origin: String),
        log_in(id: String, switch_account: bool),
        tray_menu_model(),
        get_settings(),
        set_settings(settings: Settings),
        open_url(url: String),
        load_portal(source: PortalSource),
        accept_portal(server: String, remove: Vec<String>),
        check_connection(draft: ProfileDraft),
        quit(),
    }
}

/// All saved connections with their status.
pub async fn list_connections(cx: &Cx) -> Result<Vec<ConnectionView>, AppError> {
    Ok(cx.core.list_connections())
}

/// Creates or updates a connection; a running one gets the change (its listener restarts on
/// the same address, or it is marked "Reconnect to apply" while sessions are live).
pub async fn save_connection(cx: &Cx, draft: ProfileDraft) -> Result<Profile, AppError> {
    cx.core.save_and_apply(&draft).await.map(|(profile, _)| profile)
}

/// Deletes a connection (disconnecting it first).
pub async fn delete_connection(cx: &Cx, id: String) -> Result<(), AppError> {
    cx.core.delete_connection(&id).await
}

/// Copies a connection under the name "<name> (copy)".
pub async fn duplicate_connection(cx: &Cx, id: String) -> Result<Profile, AppError> {
    cx.core.duplicate_connection(&id)
}

/// Starts a connection's listener.
pub async fn connect(cx: &Cx, id: String) -> Result<ConnectionStatus, AppError> {
    cx.core.connect(&id).await
}

/// Stops a connection's listener and cuts its live sessions.
pub async fn disconnect(cx: &Cx, id: String) -> Result<(), AppError> {
    cx.core.disconnect(&id).await
}

/// Restarts a connection's listener on the same address with its saved settings ("Reconnect
/// to apply", "Reconnect" after a failure).
pub async fn reconnect(cx: &Cx, id: String) -> Result<(), AppError> {
    cx.core.reconnect(&id).await
}

/// Connects every connection with `tag` (`None`: all; `""`: untagged).
pub async fn connect_tag(cx: &Cx, tag: Option<String>) -> Result<(), AppError> {
    cx.core.connect_tag(tag.as_deref()).await
}

/// Disconnects every connection with `tag` (`None`: all; `""`: untagged).
pub async fn disconnect_tag(cx: &Cx, tag: Option<String>) -> Result<(), AppError> {
    cx.core.disconnect_tag(tag.as_deref()).await
}

/// Live sessions of a connection.
pub async fn sessions(cx: &Cx, id: String) -> Result<Vec<Session>, AppError> {
    cx.core.sessions(&id).await
}

/// Cuts one live session.
pub async fn close_session(cx: &Cx, id: String, session_id: u64) -> Result<(), AppError> {
    cx.core.close_session(&id, session_id).await
}

/// A connection's event log, oldest first.
pub async fn logs(cx: &Cx, id: String) -> Result<Vec<LogEntry>, AppError> {
    cx.core.profile(&id)?;
    Ok(cx.core.logs(&id))
}

/// Imports a Pomerium Desktop export (de-duplicating).
pub async fn import_connections(cx: &Cx, json: String) -> Result<ImportReport, AppError> {
    cx.core.import_connections(&json)
}

/// Exports connections in Pomerium Desktop's format; `includePortholeFields` (default true)
/// keeps "Open with" and the like in a `porthole` object that Pomerium Desktop refuses.
pub async fn export_connections(
    cx: &Cx,
    ids: Option<Vec<String>>,
    include_tags: bool,
    include_private_keys: bool,
    include_porthole_fields: Option<bool>,
) -> Result<String, AppError> {
    cx.core.export_connections(
        ids.as_deref(),
        include_tags,
        include_private_keys,
        include_porthole_fields.unwrap_or(true),
    )
}

/// Proxies with a stored token, and the user each token names.
pub async fn signed_in(cx: &Cx) -> Result<Vec<SignedIn>, AppError> {
    Ok(cx.core.signed_in_users().await)
}

/// Logs in to a connection's proxy; `switch_account` forgets the token and has the identity
/// provider show its login form again ("Log in as someone else").
pub async fn log_in(cx: &Cx, id: String, switch_account: bool) -> Result<(), AppError> {
    cx.core.log_in(&id, switch_account).await
}

/// Deletes the stored token of one proxy.
pub async fn sign_out(cx: &Cx, origin: String) -> Result<(), AppError> {
    cx.core.sign_out(&origin).await
}

/// What the tray shows, whether or not a tray exists: the aggregate state (`idle`,
/// `connected`, `attention`), the tooltip and each connection's item label. Tests read it.
pub async fn tray_menu_model(cx: &Cx) -> Result<MenuModel, AppError> {
    Ok(porthole_client::tray_menu::model(&cx.core.list_connections()))
}

/// The app's settings.
pub async fn get_settings(cx: &Cx) -> Result<Settings, AppError> {
    cx.core.get_settings()
}

/// Saves the settings and applies "launch at login".
pub async fn set_settings(cx: &Cx, settings: Settings) -> Result<Settings, AppError> {
    // Launch at login first: when the OS refuses, nothing is saved and the switch stays as it was.
    let before = cx.core.get_settings()?.launch_at_login;
    let toggled = settings.launch_at_login != before;
    if toggled {
        crate::autostart::apply(settings.launch_at_login).map_err(|m| AppError::new(ErrorCode::Io, m))?;
    }
    match cx.core.set_settings(&settings) {
        Ok(saved) => Ok(saved),
        Err(e) => {
            if toggled && let Err(m) = crate::autostart::apply(before) {
                tracing::warn!(error = %m, "could not undo the launch-at-login change after the settings failed to save");
            }
            Err(e)
        }
    }
}

/// Opens a URL (a login page) as logins do: `PORTHOLE_BROWSER_CMD`, else the system browser.
pub async fn open_url(cx: &Cx, url: String) -> Result<(), AppError> {
    cx.core.open_url(&url)
}

/// What saving `draft` would reject, and whether its local address is taken now; saves nothing.
pub async fn check_connection(cx: &Cx, draft: ProfileDraft) -> Result<DraftCheck, AppError> {
    Ok(cx.core.check_connection(&draft))
}

/// Quits the app (the window asked first when tunnels were live), dropping every tunnel.
pub async fn quit(cx: &Cx) -> Result<(), AppError> {
    cx.shell.exit();
    Ok(())
}

/// Reads a Pomerium server's routes portal (logging in if needed) and previews what loading
/// it would change; saves nothing.
pub async fn load_portal(cx: &Cx, source: PortalSource) -> Result<PortalPreview, AppError> {
    cx.core.load_portal(&source).await
}

/// Saves the last preview of `server`: adds new, updates changed, removes the ticked gone ones.
pub async fn accept_portal(cx: &Cx, server: String, remove: Vec<String>) -> Result<PortalReport, AppError> {
    cx.core.accept_portal(&server, &remove).await
}
