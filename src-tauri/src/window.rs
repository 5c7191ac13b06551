//! The main window's life. With a tray, closing the window destroys it, web view and all: on
//! Linux this process then ends and `portholed` keeps the tunnels; elsewhere the process stays
//! with the tunnels and the tray builds the window again from tauri.conf.json ([`show`]).
//! Without a tray, closing it quits, except that the window asks first while tunnels are live
//! (`porthole_desktop_core::quit`).

use porthole_client::model::ConnectionView;
use porthole_desktop_core::quit::live_count;
use tauri::{AppHandle, Emitter as _, Manager, RunEvent, Runtime, WebviewWindowBuilder, Window, WindowEvent};

use crate::backend::Backend;

/// The window's label.
pub const MAIN_WINDOW: &str = "main";

/// What the window's life depends on (managed state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Lifecycle {
    /// A tray shows the app while the window is closed.
    tray: bool,
    /// This process keeps running with no window (it holds the tunnels and the tray).
    outlives_window: bool,
}

impl Lifecycle {
    /// `tray`: the app stays reachable with the window closed; `outlives_window`: this process
    /// is the one that stays.
    #[must_use]
    pub fn new(tray: bool, outlives_window: bool) -> Self {
        Self { tray, outlives_window }
    }

    /// `true` when a tray keeps the app reachable with the window closed.
    #[must_use]
    pub fn tray(&self) -> bool {
        self.tray
    }
}

fn lifecycle<R: Runtime>(app: &AppHandle<R>) -> Lifecycle {
    app.try_state::<Lifecycle>().map_or_else(Lifecycle::default, |l| *l)
}

/// Shows and focuses the main window, building it again if it was closed to the tray; `route`
/// (`#/connection/<id>`, `#/new`) opens that screen.
pub fn show<R: Runtime>(app: &AppHandle<R>, route: Option<&str>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        if let Some(route) = route {
            let _ = w.eval(format!("location.hash = {route:?}"));
        }
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let Some(config) = app.config().app.windows.iter().find(|w| w.label == MAIN_WINDOW).cloned() else {
        tracing::error!("tauri.conf.json has no window labelled {MAIN_WINDOW}");
        return;
    };
    let built = WebviewWindowBuilder::from_config(app, &config).and_then(|b| {
        let b = match route {
            // Before the UI's script reads the hash, so it starts on that screen.
            Some(route) => b.initialization_script(format!(
                "if (!location.hash || location.hash === '#/') location.hash = {route:?};"
            )),
            None => b,
        };
        b.focused(true).build()
    });
    match built {
        Ok(_) => tracing::info!("window opened again"),
        Err(e) => tracing::error!(error = %e, "could not open the window again"),
    }
}

/// Every window event: the close request, as the module doc says.
pub fn on_window_event<R: Runtime>(window: &Window<R>, event: &WindowEvent) {
    let WindowEvent::CloseRequested { api, .. } = event else { return };
    let app = window.app_handle().clone();
    if lifecycle(&app).tray {
        tracing::info!("window closed to the tray: the web view goes, the tunnels stay");
        return;
    }
    api.prevent_close();
    tauri::async_runtime::spawn(async move { quit_or_ask(&app).await });
}

/// Closing without a tray: quits at once with no tunnel up, else asks the page
/// (`quit-requested`; its dialog calls `quit`).
async fn quit_or_ask<R: Runtime>(app: &AppHandle<R>) {
    let Some(backend) = app.try_state::<Backend>() else { return app.exit(0) };
    let views = backend.call("list_connections", serde_json::Value::Null).await;
    let live =
        views.ok().and_then(|v| serde_json::from_value::<Vec<ConnectionView>>(v).ok()).map_or(0, |v| live_count(&v));
    if live == 0 {
        let _ = crate::backend::quit(app, &backend).await;
    } else {
        show(app, None);
        let _ = app.emit("quit-requested", ());
    }
}

/// Every run event: when this process holds the tunnels and a tray, the last window closing
/// does not end it (an explicit quit, which carries an exit code, still does).
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { code: None, api, .. } = event
        && lifecycle(app).outlives_window
    {
        api.prevent_exit();
    }
}
