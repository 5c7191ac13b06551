//! Where the UI's commands run: in `portholed` over the socket ([`Backend::Remote`], Linux) or
//! in this process ([`Backend::Local`]). One invoke handler ([`handler`]) serves every name in
//! [`COMMANDS`]; `save_export` (a save dialog) and the end of `quit` are the window's own.

use porthole_client::error::{AppError, ErrorCode};
use porthole_client::profiles::write_atomic;
use porthole_desktop_core::Cx;
use porthole_desktop_core::commands::{COMMANDS, answer, arg, dispatch};
use serde_json::Value;
use tauri::ipc::{Invoke, InvokeBody, InvokeError};
use tauri::{AppHandle, Manager as _, Runtime};

/// Where commands run (managed state).
pub enum Backend {
    /// In this process.
    Local(Cx),
    /// In `portholed`.
    #[cfg(target_os = "linux")]
    Remote(crate::remote::Remote),
}

impl Backend {
    /// Runs `cmd` with the UI's `args`.
    ///
    /// # Errors
    /// The command's error, or the socket's when `portholed` is gone.
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, AppError> {
        match self {
            Self::Local(cx) => dispatch(cx, cmd, &args).await,
            #[cfg(target_os = "linux")]
            Self::Remote(remote) => remote.call(cmd, args).await,
        }
    }
}

/// The invoke handler: every command in [`COMMANDS`], answered asynchronously.
pub fn handler<R: Runtime>() -> impl Fn(Invoke<R>) -> bool + Send + Sync + 'static {
    |invoke| {
        let Some(cmd) = COMMANDS.iter().copied().find(|c| *c == invoke.message.command()) else {
            return false;
        };
        let args = match invoke.message.payload() {
            InvokeBody::Json(v) => v.clone(),
            InvokeBody::Raw(_) => Value::Null,
        };
        let app = invoke.message.webview().app_handle().clone();
        invoke.resolver.respond_async(async move { run(&app, cmd, args).await.map_err(InvokeError::from) });
        true
    }
}

async fn run<R: Runtime>(app: &AppHandle<R>, cmd: &str, args: Value) -> Result<Value, AppError> {
    let Some(backend) = app.try_state::<Backend>() else {
        return Err(AppError::new(ErrorCode::Io, "Porthole is still starting; try again."));
    };
    match cmd {
        "save_export" => {
            let (contents, file_name) = (arg(cmd, &args, "contents")?, arg(cmd, &args, "file_name")?);
            answer(save_export(app, contents, file_name).await)
        }
        "quit" => quit(app, &backend).await,
        _ => backend.call(cmd, args).await,
    }
}

/// Quits: `portholed` (or this process's core) drops every tunnel, then the window exits,
/// whatever the core answered.
///
/// # Errors
/// The core's, when it could not be told (the window exits all the same).
pub async fn quit<R: Runtime>(app: &AppHandle<R>, backend: &Backend) -> Result<Value, AppError> {
    let answer = backend.call("quit", Value::Null).await;
    app.exit(0);
    answer
}

/// Asks where to save `contents` (a native save dialog) and writes it; `None` if cancelled.
pub async fn save_export<R: Runtime>(
    app: &AppHandle<R>,
    contents: String,
    file_name: String,
) -> Result<Option<String>, AppError> {
    use tauri_plugin_dialog::DialogExt as _;
    let dialog = app.dialog().file().set_file_name(&file_name).add_filter("JSON", &["json"]);
    let chosen = tauri::async_runtime::spawn_blocking(move || dialog.blocking_save_file())
        .await
        .map_err(|e| AppError::new(ErrorCode::Io, format!("The save dialog failed: {e}.")))?;
    let Some(path) = chosen else { return Ok(None) };
    let path =
        path.into_path().map_err(|e| AppError::new(ErrorCode::Io, format!("cannot save to that location: {e}")))?;
    write_atomic(&path, contents.as_bytes()).map_err(|e| AppError::io("save the export to", &path, &e))?;
    Ok(Some(path.display().to_string()))
}
