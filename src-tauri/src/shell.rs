//! The [`Shell`] of the one-process app (macOS, Windows; and the tests on Tauri's mock
//! runtime): the window, the tray and notifications through Tauri.

use std::sync::Arc;

use porthole_client::app::App;
use porthole_desktop_core::{Cx, Shell, Target};
use tauri::{AppHandle, Emitter as _, Manager as _, Runtime};

/// Tauri as the core's shell.
pub struct TauriShell<R: Runtime> {
    app: AppHandle<R>,
    core: App,
}

/// The core and this app's shell, for [`crate::backend::Backend::Local`].
pub fn local<R: Runtime>(app: &AppHandle<R>, core: App) -> Cx {
    Cx { core: core.clone(), shell: Arc::new(TauriShell { app: app.clone(), core }) }
}

impl<R: Runtime> Shell for TauriShell<R> {
    fn show(&self, route: Option<&str>) {
        crate::window::show(&self.app, route);
    }

    fn emit(&self, name: &str, payload: serde_json::Value) {
        let _ = self.app.emit(name, payload);
    }

    fn exit(&self) {
        self.app.exit(0);
    }

    fn has_tray(&self) -> bool {
        self.app.try_state::<crate::window::Lifecycle>().is_some_and(|l| l.tray())
    }

    fn refresh_tray(&self) {
        crate::tray::refresh(&self.app, &self.core);
    }

    fn notify(&self, title: &str, body: &str, target: Target) {
        #[cfg(not(target_os = "linux"))]
        {
            use tauri_plugin_notification::NotificationExt as _;
            let _ = target.label();
            if let Err(e) = self.app.notification().builder().title(title).body(body).show() {
                tracing::debug!(error = %e, "notification not shown");
            }
        }
        #[cfg(target_os = "linux")]
        let _ = (title, body, target);
    }
}
