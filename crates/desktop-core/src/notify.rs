//! How notifications look and act: the app icon, and a default action (a click on the
//! notification) that opens the connection in the window, or the login page again for a login
//! that waits. When one is sent is [`crate::forward`]'s business.
//!
//! On Linux they go straight to the freedesktop notification service with `notify-rust`, which
//! reports the action (Tauri's notification plugin shows no actions on desktops); the icon is the
//! app's own PNG, written once to the cache directory, as `app_icon` and the `image-path` hint.
//! Elsewhere the shell shows them (Tauri's plugin, with the bundle's icon; a click focuses the app).

use crate::Cx;

/// What a click on the notification opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The connection's detail view (its profile id).
    Connection(String),
    /// A login page; the connection's view when no browser opens.
    Login {
        /// The connection's profile id.
        id: String,
        /// The login URL.
        url: String,
    },
}

impl Target {
    /// The label of the default action.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Connection(_) => "Open connection",
            Self::Login { .. } => "Open login",
        }
    }
}

/// The longest a notification's action is waited for; the daemon usually closes it sooner.
#[cfg(target_os = "linux")]
const ACTION_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Shows a notification; a click on it opens `target`. Failures (no notification service) are
/// logged at debug level: a notification is a courtesy, the window shows the same state.
pub fn send(cx: &Cx, title: &str, body: &str, target: Target) {
    #[cfg(target_os = "linux")]
    linux::send(cx, title, body, target);
    #[cfg(not(target_os = "linux"))]
    cx.shell.notify(title, body, target);
}

/// Opens what a clicked notification points at.
pub fn open(cx: &Cx, target: &Target) {
    match target {
        Target::Connection(id) => cx.shell.show(Some(&format!("#/connection/{id}"))),
        Target::Login { id, url } => {
            if let Err(e) = crate::browser().open(url) {
                tracing::warn!(error = %e, "could not open the login page from the notification");
                cx.shell.show(Some(&format!("#/connection/{id}")));
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::path::PathBuf;

    use notify_rust::{ActionResponse, Hint, Notification};

    use super::{ACTION_WAIT, Target};
    use crate::Cx;

    /// The app icon the notification shows (the 128 px PNG the bundle uses).
    const ICON_PNG: &[u8] = include_bytes!("../../../icons/128x128.png");

    /// The icon as a file the notification service can read: `<cache>/porthole.png`, written
    /// when missing or different.
    pub(super) fn icon_path() -> Option<PathBuf> {
        let dir = porthole_client::tokens::cache_location();
        let path = dir.join("porthole.png");
        if std::fs::read(&path).ok().as_deref() != Some(ICON_PNG)
            && let Err(e) = porthole_client::profiles::write_atomic(&path, ICON_PNG)
        {
            tracing::debug!(error = %e, path = %path.display(), "cannot write the notification icon");
            return None;
        }
        Some(path)
    }

    pub(super) fn send(cx: &Cx, title: &str, body: &str, target: Target) {
        let mut n = Notification::new();
        n.appname("Porthole").summary(title).body(body).hint(Hint::DesktopEntry("porthole-desktop".into()));
        if let Some(icon) = icon_path() {
            let icon = icon.display().to_string();
            n.icon(&icon).hint(Hint::ImagePath(icon));
        }
        // "default" is the click on the notification itself; servers that draw buttons show the label.
        n.action("default", target.label());
        let cx = cx.clone();
        tokio::spawn(async move {
            let handle = match n.show_async().await {
                Ok(h) => h,
                Err(e) => return tracing::debug!(error = %e, "notification not shown"),
            };
            let mut clicked = false;
            let waited = tokio::time::timeout(
                ACTION_WAIT,
                handle.wait_for_action_async(|a| clicked = matches!(a, ActionResponse::Custom("default"))),
            )
            .await;
            if waited.is_ok() && clicked {
                super::open(&cx, &target);
            }
        });
    }
}
