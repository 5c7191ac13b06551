//! The tray on macOS and Windows: Tauri's tray icon drawing [`TrayMenu`] (tooltip, the state's
//! icon, the menu); a click on the icon opens the window there, as on Linux.
//!
//! On Linux `portholed` draws a StatusNotifierItem instead (Tauri's tray there has no tooltip).

use porthole_client::tray_menu::{Entry, TrayAction, TrayMenu, tray_menu};
use porthole_desktop_core::Cx;
use porthole_desktop_core::tray::{TRAY_ID, icon_png, run_action};
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
pub(super) fn create<R: Runtime>(app: &AppHandle<R>, cx: &Cx) -> tauri::Result<()> {
    let model = tray_menu(&cx.core.list_connections());
    let (on_menu, on_icon) = (cx.clone(), cx.clone());
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_png(model.icon))?)
        .tooltip(model.tooltip())
        .menu(&build_menu(app, &model)?)
        .show_menu_on_left_click(false)
        .on_menu_event(move |_app, event| {
            if let Some(action) = TrayAction::parse(event.id().as_ref()) {
                // Clicks arrive on the main thread: the actions spawn on Tauri's runtime.
                let _runtime = tauri::async_runtime::handle().inner().enter();
                run_action(&on_menu, action);
            }
        })
        .on_tray_icon_event(move |_icon, event| {
            if let TrayIconEvent::Click { button: MouseButton::Left, button_state: MouseButtonState::Up, .. } = event {
                let _runtime = tauri::async_runtime::handle().inner().enter();
                run_action(&on_icon, TrayAction::Open);
            }
        })
        .build(app)?;
    Ok(())
}

/// Redraws menu, tooltip and icon.
pub(super) fn refresh<R: Runtime>(app: &AppHandle<R>, model: &TrayMenu) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    if let Ok(menu) = build_menu(app, model) {
        let _ = tray.set_menu(Some(menu));
    }
    let _ = tray.set_tooltip(Some(model.tooltip()));
    if let Ok(icon) = Image::from_bytes(icon_png(model.icon)) {
        let _ = tray.set_icon(Some(icon));
    }
}
