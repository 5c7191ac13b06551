//! The main window's life. With a tray, closing the window destroys it, web view and all (the
//! WebKit processes exit), and the Rust core keeps the tunnels running; the tray, a notification
//! or a second launch builds it again from tauri.conf.json ([`show`]). Without a tray, closing
//! it quits, as before, except that the window asks first while tunnels are live
//! ([`crate::quit::ask_before_quit`]).

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager, RunEvent, Runtime, WebviewWindowBuilder, Window, WindowEvent};

/// The window's label.
pub const MAIN_WINDOW: &str = "main";

/// What the window's life depends on (managed state).
#[derive(Debug, Default)]
pub struct Lifecycle {
    /// A tray shows the app while the window is closed.
    tray: AtomicBool,
}

/// Records whether a tray keeps the app reachable with the window closed.
pub fn set_tray<R: Runtime>(app: &AppHandle<R>, has_tray: bool) {
    app.state::<Lifecycle>().tray.store(has_tray, Ordering::Relaxed);
}

fn has_tray<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<Lifecycle>().is_some_and(|l| l.tray.load(Ordering::Relaxed))
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
    let app = window.app_handle();
    if has_tray(app) {
        tracing::info!("window closed to the tray: the web view goes, the tunnels stay");
        return;
    }
    if crate::quit::ask_before_quit(app) {
        api.prevent_close();
    }
}

/// Every run event: with a tray, the last window closing does not end the app (an explicit
/// quit, which carries an exit code, still does).
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    if let RunEvent::ExitRequested { code: None, api, .. } = event
        && has_tray(app)
    {
        api.prevent_exit();
    }
}
