//! The commands the UI calls: deserialize, call [`App`], and hand back its result or its
//! `{code, message, fields}` error. No rule lives here.

use porthole_client::app::{App, DraftCheck};
use porthole_client::error::{AppError, ErrorCode};
use porthole_client::identity::SignedIn;
use porthole_client::model::{
    ConnectionStatus, ConnectionView, ImportReport, LogEntry, Profile, ProfileDraft, Session, Settings,
};
use porthole_client::portal::{PortalPreview, PortalReport, PortalSource};
use porthole_client::profiles::write_atomic;
use porthole_client::status::MenuModel;
use tauri::{AppHandle, Runtime, State};

type Core<'a> = State<'a, App>;

/// The command names, as the UI invokes them (the same list as [`handler`]).
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

/// Every command, for `invoke_handler`.
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        list_connections,
        save_connection,
        delete_connection,
        duplicate_connection,
        connect,
        disconnect,
        reconnect,
        connect_tag,
        disconnect_tag,
        sessions,
        close_session,
        logs,
        import_connections,
        export_connections,
        save_export,
        signed_in,
        sign_out,
        log_in,
        tray_menu_model,
        get_settings,
        set_settings,
        open_url,
        load_portal,
        accept_portal,
        check_connection,
        quit,
    ]
}

/// All saved connections with their status.
#[tauri::command]
pub async fn list_connections(core: Core<'_>) -> Result<Vec<ConnectionView>, AppError> {
    Ok(core.list_connections())
}

/// Creates or updates a connection; a running one gets the change (its listener restarts on
/// the same address, or it is marked "Reconnect to apply" while sessions are live).
#[tauri::command]
pub async fn save_connection(core: Core<'_>, draft: ProfileDraft) -> Result<Profile, AppError> {
    core.save_and_apply(&draft).await.map(|(profile, _)| profile)
}

/// Deletes a connection (disconnecting it first).
#[tauri::command]
pub async fn delete_connection(core: Core<'_>, id: String) -> Result<(), AppError> {
    core.delete_connection(&id).await
}

/// Copies a connection under the name "<name> (copy)".
#[tauri::command]
pub async fn duplicate_connection(core: Core<'_>, id: String) -> Result<Profile, AppError> {
    core.duplicate_connection(&id)
}

/// Starts a connection's listener.
#[tauri::command]
pub async fn connect(core: Core<'_>, id: String) -> Result<ConnectionStatus, AppError> {
    core.connect(&id).await
}

/// Stops a connection's listener and cuts its live sessions.
#[tauri::command]
pub async fn disconnect(core: Core<'_>, id: String) -> Result<(), AppError> {
    core.disconnect(&id).await
}

/// Restarts a connection's listener on the same address with its saved settings ("Reconnect
/// to apply", "Reconnect" after a failure).
#[tauri::command]
pub async fn reconnect(core: Core<'_>, id: String) -> Result<(), AppError> {
    core.reconnect(&id).await
}

/// Connects every connection with `tag` (`None`: all; `""`: untagged).
#[tauri::command]
pub async fn connect_tag(core: Core<'_>, tag: Option<String>) -> Result<(), AppError> {
    core.connect_tag(tag.as_deref()).await
}

/// Disconnects every connection with `tag` (`None`: all; `""`: untagged).
#[tauri::command]
pub async fn disconnect_tag(core: Core<'_>, tag: Option<String>) -> Result<(), AppError> {
    core.disconnect_tag(tag.as_deref()).await
}

/// Live sessions of a connection.
#[tauri::command]
pub async fn sessions(core: Core<'_>, id: String) -> Result<Vec<Session>, AppError> {
    core.sessions(&id).await
}

/// Cuts one live session.
#[tauri::command]
pub async fn close_session(core: Core<'_>, id: String, session_id: u64) -> Result<(), AppError> {
    core.close_session(&id, session_id).await
}

/// A connection's event log, oldest first.
#[tauri::command]
pub async fn logs(core: Core<'_>, id: String) -> Result<Vec<LogEntry>, AppError> {
    core.profile(&id)?;
    Ok(core.logs(&id))
}

/// Imports a Pomerium Desktop export (de-duplicating).
#[tauri::command]
pub async fn import_connections(core: Core<'_>, json: String) -> Result<ImportReport, AppError> {
    core.import_connections(&json)
}

/// Exports connections in Pomerium Desktop's format; `includePortholeFields` (default true)
/// keeps "Open with" and the like in a `porthole` object that Pomerium Desktop refuses.
#[tauri::command]
pub async fn export_connections(
    core: Core<'_>,
    ids: Option<Vec<String>>,
    include_tags: bool,
    include_private_keys: bool,
    include_porthole_fields: Option<bool>,
) -> Result<String, AppError> {
    core.export_connections(ids.as_deref(), include_tags, include_private_keys, include_porthole_fields.unwrap_or(true))
}

/// Asks where to save `contents` (a native save dialog) and writes it; `None` if cancelled.
#[tauri::command]
pub async fn save_export<R: Runtime>(
    app: AppHandle<R>,
    contents: String,
    file_name: String,
) -> Result<Option<String>, AppError> {
    use tauri_plugin_dialog::DialogExt;
    let Some(path) = app.dialog().file().set_file_name(&file_name).add_filter("JSON", &["json"]).blocking_save_file()
    else {
        return Ok(None);
    };
    let path =
        path.into_path().map_err(|e| AppError::new(ErrorCode::Io, format!("cannot save to that location: {e}")))?;
    write_atomic(&path, contents.as_bytes()).map_err(|e| AppError::io("save the export to", &path, &e))?;
    Ok(Some(path.display().to_string()))
}

/// Proxies with a stored token, and the user each token names.
#[tauri::command]
pub async fn signed_in(core: Core<'_>) -> Result<Vec<SignedIn>, AppError> {
    Ok(core.signed_in_users().await)
}

/// Logs in to a connection's proxy; `switch_account` forgets the token and has the identity
/// provider show its login form again ("Log in as someone else").
#[tauri::command]
pub async fn log_in(core: Core<'_>, id: String, switch_account: bool) -> Result<(), AppError> {
    core.log_in(&id, switch_account).await
}

/// Deletes the stored token of one proxy.
#[tauri::command]
pub async fn sign_out(core: Core<'_>, origin: String) -> Result<(), AppError> {
    core.sign_out(&origin).await
}

/// What the tray shows, whether or not a tray exists: the aggregate state (`idle`,
/// `connected`, `attention`), the tooltip and each connection's item label. Tests read it.
#[tauri::command]
pub async fn tray_menu_model(core: Core<'_>) -> Result<MenuModel, AppError> {
    Ok(porthole_client::tray_menu::model(&core.list_connections()))
}

/// The app's settings.
#[tauri::command]
pub async fn get_settings(core: Core<'_>) -> Result<Settings, AppError> {
    core.get_settings()
}

/// Saves the settings and applies "launch at login".
#[tauri::command]
pub async fn set_settings<R: Runtime>(
    app: AppHandle<R>,
    core: Core<'_>,
    settings: Settings,
) -> Result<Settings, AppError> {
    // Launch at login first: when the OS refuses, nothing is saved and the switch stays as it was.
    let before = core.get_settings()?.launch_at_login;
    let toggled = settings.launch_at_login != before;
    if toggled {
        crate::autostart::apply(&app, settings.launch_at_login).map_err(|m| AppError::new(ErrorCode::Io, m))?;
    }
    match core.set_settings(&settings) {
        Ok(saved) => Ok(saved),
        Err(e) => {
            if toggled && let Err(m) = crate::autostart::apply(&app, before) {
                tracing::warn!(error = %m, "could not undo the launch-at-login change after the settings failed to save");
            }
            Err(e)
        }
    }
}

/// Opens a URL (a login page) as logins do: `PORTHOLE_BROWSER_CMD`, else the system browser.
#[tauri::command]
pub async fn open_url(core: Core<'_>, url: String) -> Result<(), AppError> {
    core.open_url(&url)
}

/// What saving `draft` would reject, and whether its local address is taken now; saves nothing.
#[tauri::command]
pub async fn check_connection(core: Core<'_>, draft: ProfileDraft) -> Result<DraftCheck, AppError> {
    Ok(core.check_connection(&draft))
}

/// Quits the app (the window asked first when tunnels were live), dropping every tunnel.
#[tauri::command]
pub async fn quit<R: Runtime>(app: AppHandle<R>) -> Result<(), AppError> {
    app.exit(0);
    Ok(())
}

/// Reads a Pomerium server's routes portal (logging in if needed) and previews what loading
/// it would change; saves nothing.
#[tauri::command]
pub async fn load_portal(core: Core<'_>, source: PortalSource) -> Result<PortalPreview, AppError> {
    core.load_portal(&source).await
}

/// Saves the last preview of `server`: adds new, updates changed, removes the ticked gone ones.
#[tauri::command]
pub async fn accept_portal(core: Core<'_>, server: String, remove: Vec<String>) -> Result<PortalReport, AppError> {
    core.accept_portal(&server, &remove).await
}
