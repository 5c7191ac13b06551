//! The tray: [`porthole_client::tray_menu`] (icon, tooltip, menu: a pure function of the
//! statuses) drawn by the platform, rebuilt on every state change, and its clicks carried out
//! ([`run_action`]). On Linux `portholed` draws it as a StatusNotifierItem of its own ([`sni`]:
//! the tooltip and icon reach the tray host, which the AppIndicator behind Tauri's tray cannot
//! do); on macOS and Windows the window process draws Tauri's tray. On desktops with no tray,
//! the window does everything and closing it quits instead.

use porthole_client::tray_menu::{TrayAction, TrayIcon, is_active};

use crate::Cx;

#[cfg(target_os = "linux")]
pub mod sni;

/// The tray's id (Tauri's tray) and the StatusNotifierItem's `Id`.
pub const TRAY_ID: &str = "porthole";

/// `PORTHOLE_TRAY=0` turns the tray off, `1` assumes a tray host exists (no check); otherwise
/// the tray is made when the desktop has a tray.
pub fn wanted() -> Option<bool> {
    match std::env::var("PORTHOLE_TRAY").as_deref() {
        Ok("0") => Some(false),
        Ok("1") => Some(true),
        _ => None,
    }
}

/// The PNG of a tray icon.
pub fn icon_png(icon: TrayIcon) -> &'static [u8] {
    match icon {
        TrayIcon::Idle => include_bytes!("../../../icons/tray-idle.png"),
        TrayIcon::Connected => include_bytes!("../../../icons/tray-connected.png"),
        TrayIcon::Attention => include_bytes!("../../../icons/tray-attention.png"),
    }
}

/// Carries out a clicked menu entry.
pub fn run_action(cx: &Cx, action: TrayAction) {
    let connection_route;
    let route = match &action {
        TrayAction::Open => None,
        TrayAction::OpenConnection(id) => {
            connection_route = format!("#/connection/{id}");
            Some(connection_route.as_str())
        }
        TrayAction::NewConnection => Some("#/new"),
        TrayAction::LoadFromServer => Some("#/load"),
        TrayAction::Quit => {
            if !crate::quit::ask_before_quit(cx) {
                cx.shell.exit();
            }
            return;
        }
        TrayAction::Toggle(_) | TrayAction::ConnectTag(_) | TrayAction::DisconnectTag(_) | TrayAction::Reconnect(_) => {
            let core = cx.core.clone();
            tokio::spawn(async move {
                let result = match action {
                    TrayAction::Toggle(id) if is_active(&core.status(&id)) => core.disconnect(&id).await,
                    TrayAction::Toggle(id) => core.connect(&id).await.map(|_| ()),
                    TrayAction::ConnectTag(tag) => core.connect_tag(tag.as_deref()).await,
                    TrayAction::DisconnectTag(tag) => core.disconnect_tag(tag.as_deref()).await,
                    TrayAction::Reconnect(id) => core.reconnect(&id).await,
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "tray action failed");
                }
            });
            return;
        }
    };
    cx.shell.show(route);
}
