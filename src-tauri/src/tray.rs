//! The tray: [`porthole_client::tray_menu`] (icon, tooltip, menu: a pure function of the
//! statuses) drawn by the platform, rebuilt on every state change, and its clicks carried out.
//! On Linux it is a StatusNotifierItem of its own ([`sni`]: the tooltip and icon reach the tray
//! host, which the AppIndicator behind Tauri's tray cannot do); on macOS and Windows it is
//! Tauri's tray ([`native`]). On desktops with no tray, the window does everything and closing
//! it quits instead.

use porthole_client::app::App;
use porthole_client::tray_menu::{TrayAction, TrayIcon, is_active};
use tauri::{AppHandle, Runtime};

#[cfg_attr(target_os = "linux", allow(dead_code))]
mod native;
#[cfg(target_os = "linux")]
mod sni;

/// The tray's id (Tauri's tray) and the StatusNotifierItem's `Id`.
pub const TRAY_ID: &str = "porthole";

/// `PORTHOLE_TRAY=0` turns the tray off, `1` assumes a tray host exists (no check); otherwise
/// the tray is made when the desktop has a tray.
fn wanted() -> Option<bool> {
    match std::env::var("PORTHOLE_TRAY").as_deref() {
        Ok("0") => Some(false),
        Ok("1") => Some(true),
        _ => None,
    }
}

/// The PNG of a tray icon.
pub fn icon_png(icon: TrayIcon) -> &'static [u8] {
    match icon {
        TrayIcon::Idle => include_bytes!("../../icons/tray-idle.png"),
        TrayIcon::Connected => include_bytes!("../../icons/tray-connected.png"),
        TrayIcon::Attention => include_bytes!("../../icons/tray-attention.png"),
    }
}

/// Creates the tray; `false` when the desktop has none (or `PORTHOLE_TRAY=0`).
pub fn create<R: Runtime>(app: &AppHandle<R>, core: &App) -> bool {
    let assume = match wanted() {
        Some(false) => return false,
        Some(true) => true,
        None => false,
    };
    #[cfg(target_os = "linux")]
    let made = sni::create(app, core, assume);
    #[cfg(not(target_os = "linux"))]
    let made = {
        let _ = assume;
        native::create(app, core)
    };
    match made {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(error = %e, "no system tray: the window stays the way in and out");
            false
        }
    }
}

/// Redraws the tray from the current connections.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, core: &App) {
    #[cfg(target_os = "linux")]
    {
        let _ = core;
        sni::refresh(app);
    }
    #[cfg(not(target_os = "linux"))]
    native::refresh(app, &porthole_client::tray_menu::tray_menu(&core.list_connections()));
}

/// Carries out a clicked menu entry.
pub fn run_action<R: Runtime>(app: &AppHandle<R>, core: &App, action: TrayAction) {
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
            if !crate::quit::ask_before_quit(app) {
                app.exit(0);
            }
            return;
        }
        TrayAction::Toggle(_) | TrayAction::ConnectTag(_) | TrayAction::DisconnectTag(_) | TrayAction::Reconnect(_) => {
            let core = core.clone();
            tauri::async_runtime::spawn(async move {
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
    crate::window::show(app, route);
}
