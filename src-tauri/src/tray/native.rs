//! The tray on macOS and Windows: Tauri's tray icon drawing [`TrayMenu`] (tooltip, the state's
//! icon, the menu); a click on the icon opens the window there, as on Linux.
//!
//! Linux uses [`super::sni`] instead (Tauri's tray there has no tooltip); this module still
//! compiles on Linux so it does not rot unseen.

use porthole_client::app::App;
use porthole_client::tray_menu::{Entry, TrayAction, TrayMenu, tray_menu};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Runtime};

fn menu_items<R: Runtime>(app: &AppHandle<R>, entries: &[Entry]) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let mut out: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
    for e in entries {
        match e {
            Entry::Separator => out.push(Box::new(PredefinedMenuItem::separator(app)?)),
            Entry::Item { id, label, enabled } => {
                out.push(Box::new(MenuItem::with_id(app, id, label, *enabled, None::<&str>)?));
            }
            Entry::Toggle { id, label, checked } => {
                out.push(Box::new(CheckMenuItem::with_id(app, id, label, true, *checked, None::<&str>)?));
            }
            Entry::Submenu { label, entries } => {
                let children = menu_items(app, entries)?;
                let refs: Vec<&dyn IsMenuItem<R>> = children.iter().map(AsRef::as_ref).collect();
                out.push(Box::new(Submenu::with_items(app, label, true, &refs)?));
            }
        }
    }
    Ok(out)
}

fn build_menu<R: Runtime>(app: &AppHandle<R>, model: &TrayMenu) -> tauri::Result<Menu<R>> {
    let items = menu_items(app, &model.entries)?;
    let refs: Vec<&dyn IsMenuItem<R>> = items.iter().map(AsRef::as_ref).collect();
    Menu::with_items(app, &refs)
}

/// Creates Tauri's tray icon.
///
/// # Errors
/// When Tauri cannot create it.
pub(super) fn create<R: Runtime>(app: &AppHandle<R>, core: &App) -> tauri::Result<()> {
    let model = tray_menu(&core.list_connections());
    let (on_menu, on_icon) = (core.clone(), core.clone());
    TrayIconBuilder::with_id(super::TRAY_ID)
        .icon(Image::from_bytes(super::icon_png(model.icon))?)
        .tooltip(model.tooltip())
        .menu(&build_menu(app, &model)?)
        .show_menu_on_left_click(false)
        .on_menu_event(move |app, event| {
            if let Some(action) = TrayAction::parse(event.id().as_ref()) {
                super::run_action(app, &on_menu, action);
            }
        })
        .on_tray_icon_event(move |icon, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                super::run_action(icon.app_handle(), &on_icon, TrayAction::Open);
            }
        })
        .build(app)?;
    Ok(())
}

/// Redraws menu, tooltip and icon.
pub(super) fn refresh<R: Runtime>(app: &AppHandle<R>, model: &TrayMenu) {
    let Some(tray) = app.tray_by_id(super::TRAY_ID) else { return };
    if let Ok(menu) = build_menu(app, model) {
        let _ = tray.set_menu(Some(menu));
    }
    let _ = tray.set_tooltip(Some(model.tooltip()));
    if let Ok(icon) = Image::from_bytes(super::icon_png(model.icon)) {
        let _ = tray.set_icon(Some(icon));
    }
}
