//! The tray: every connection grouped by tag (untagged too) with its state and a toggle,
//! connect all / disconnect all, Load from server…, Show Porthole, Quit, and a tooltip
//! counting what is connected; rebuilt on every state change. On desktops with no tray, the
//! window does everything and closing it quits instead of hiding it.

use porthole_client::app::App;
use porthole_client::model::{ConnectionStatus, ConnectionView};
use std::collections::BTreeMap;
use tauri::menu::{CheckMenuItem, Menu, MenuBuilder, MenuItem, PredefinedMenuItem, Submenu, SubmenuBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

/// The tray icon's id.
pub const TRAY_ID: &str = "porthole";

/// `true` when a status-notifier host (a tray) is on the session bus. `PORTHOLE_TRAY=0|1`
/// overrides the check.
pub fn tray_available() -> bool {
    match std::env::var("PORTHOLE_TRAY").as_deref() {
        Ok("0") => return false,
        Ok("1") => return true,
        _ => {}
    }
    if !cfg!(target_os = "linux") {
        return true;
    }
    let Ok(conn) = zbus::blocking::Connection::session() else { return false };
    let Ok(proxy) = zbus::blocking::fdo::DBusProxy::new(&conn) else { return false };
    let Ok(name) = zbus::names::BusName::try_from("org.kde.StatusNotifierWatcher") else { return false };
    proxy.name_has_owner(name).unwrap_or(false)
}

/// Creates the tray icon when a tray exists.
///
/// # Errors
/// When there is no tray, or Tauri cannot create it.
pub fn create<R: Runtime>(app: &AppHandle<R>, core: &App) -> tauri::Result<()> {
    if !tray_available() {
        tracing::info!("no system tray found: the window stays the way in and out");
        return Err(tauri::Error::InvalidIcon(std::io::Error::other("no tray")));
    }
    let views = core.list_connections();
    let menu = build_menu(app, &views)?;
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    let core = core.clone();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip(tooltip(&views))
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(move |app, event| on_menu(app, &core, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Rebuilds the menu and tooltip from the current connections.
pub fn refresh<R: Runtime>(app: &AppHandle<R>, views: &[ConnectionView]) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    if let Ok(menu) = build_menu(app, views) {
        let _ = tray.set_menu(Some(menu));
    }
    let _ = tray.set_tooltip(Some(tooltip(views)));
}

/// With a tray, closing the window hides it (the tray brings it back); without one it quits.
pub fn close_hides_when<R: Runtime>(app: &AppHandle<R>, has_tray: bool) {
    let Some(window) = app.get_webview_window(crate::MAIN_WINDOW) else { return };
    if !has_tray {
        return;
    }
    let w = window.clone();
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::CloseRequested { api, .. } = event {
            api.prevent_close();
            let _ = w.hide();
        }
    });
}

fn active(status: &ConnectionStatus) -> bool {
    !matches!(status, ConnectionStatus::Idle | ConnectionStatus::Error { .. })
}

/// `Porthole: 3 of 20 connected`.
pub fn tooltip(views: &[ConnectionView]) -> String {
    let n = views.iter().filter(|v| active(&v.status)).count();
    format!("Porthole: {n} of {} connected", views.len())
}

/// A connection's menu item label (`Redis prod — access denied for bob@example.com`).
pub fn item_label(v: &ConnectionView) -> String {
    format!("{} — {}", v.profile.name, state_label(&v.status))
}

/// A short state for a menu label.
pub fn state_label(status: &ConnectionStatus) -> String {
    match status {
        ConnectionStatus::Idle => "off".into(),
        ConnectionStatus::Listening { addr } => addr.clone(),
        ConnectionStatus::Connecting { .. } => "connecting…".into(),
        ConnectionStatus::LoginRequired { .. } => "login required".into(),
        ConnectionStatus::Connected { sessions, .. } => {
            format!("{sessions} session{}", if *sessions == 1 { "" } else { "s" })
        }
        ConnectionStatus::Failing { .. } => status.short_label(),
        ConnectionStatus::Error { .. } => "error".into(),
    }
}

/// Connections by tag (`""` = untagged), tags sorted, untagged last.
pub fn groups(views: &[ConnectionView]) -> Vec<(String, Vec<&ConnectionView>)> {
    let mut by_tag: BTreeMap<String, Vec<&ConnectionView>> = BTreeMap::new();
    let mut untagged = Vec::new();
    for v in views {
        if v.profile.tags.is_empty() {
            untagged.push(v);
        }
        for t in &v.profile.tags {
            by_tag.entry(t.clone()).or_default().push(v);
        }
    }
    let mut out: Vec<(String, Vec<&ConnectionView>)> = by_tag.into_iter().collect();
    if !untagged.is_empty() {
        out.push((String::new(), untagged));
    }
    out
}

fn build_menu<R: Runtime>(app: &AppHandle<R>, views: &[ConnectionView]) -> tauri::Result<Menu<R>> {
    let mut menu = MenuBuilder::new(app);
    let header = MenuItem::with_id(app, "header", tooltip(views), false, None::<&str>)?;
    menu = menu.item(&header).separator();
    for (tag, members) in groups(views) {
        let title = if tag.is_empty() { "Untagged".to_owned() } else { tag.clone() };
        let sub: Submenu<R> = {
            let mut b = SubmenuBuilder::new(app, title);
            for v in members {
                let label = item_label(v);
                let item = CheckMenuItem::with_id(
                    app,
                    format!("toggle:{}", v.profile.id),
                    label,
                    true,
                    active(&v.status),
                    None::<&str>,
                )?;
                b = b.item(&item);
            }
            b = b.separator();
            b = b.item(&MenuItem::with_id(app, format!("tag-connect:{tag}"), "Connect all", true, None::<&str>)?);
            b = b.item(&MenuItem::with_id(app, format!("tag-disconnect:{tag}"), "Disconnect all", true, None::<&str>)?);
            b.build()?
        };
        menu = menu.item(&sub);
    }
    if views.is_empty() {
        menu = menu.item(&MenuItem::with_id(app, "none", "No connections yet", false, None::<&str>)?);
    }
    menu = menu
        .separator()
        .item(&MenuItem::with_id(app, "connect-all", "Connect all", !views.is_empty(), None::<&str>)?)
        .item(&MenuItem::with_id(app, "disconnect-all", "Disconnect all", !views.is_empty(), None::<&str>)?)
        .separator()
        .item(&MenuItem::with_id(app, "load-from-server", "Load from server…", true, None::<&str>)?)
        .item(&MenuItem::with_id(app, "show", "Show Porthole", true, None::<&str>)?)
        .item(&PredefinedMenuItem::separator(app)?)
        .item(&MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?);
    menu.build()
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, core: &App, id: &str) {
    match id {
        "show" => crate::show_main(app),
        "load-from-server" => {
            crate::show_main(app);
            crate::forward::open_load_from_server(app);
        }
        "quit" => app.exit(0),
        _ => {
            let core = core.clone();
            let id = id.to_owned();
            tauri::async_runtime::spawn(async move {
                let result = if let Some(pid) = id.strip_prefix("toggle:") {
                    match core.status(pid) {
                        ConnectionStatus::Idle | ConnectionStatus::Error { .. } => core.connect(pid).await.map(|_| ()),
                        _ => core.disconnect(pid).await,
                    }
                } else if let Some(tag) = id.strip_prefix("tag-connect:") {
                    core.connect_tag(Some(tag)).await
                } else if let Some(tag) = id.strip_prefix("tag-disconnect:") {
                    core.disconnect_tag(Some(tag)).await
                } else if id == "connect-all" {
                    core.connect_tag(None).await
                } else if id == "disconnect-all" {
                    core.disconnect_tag(None).await
                } else {
                    Ok(())
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "tray action failed");
                }
            });
        }
    }
}
