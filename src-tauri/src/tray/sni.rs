//! The tray on Linux: a StatusNotifierItem (`ksni`) on the session bus with `ToolTip`
//! (`Porthole` / `2 of 20 active, 1 needs login`), the state's icon as `IconPixmap`, and the menu
//! over `com.canonical.dbusmenu`. A left click (`Activate`) opens the window.

use std::sync::OnceLock;

use ksni::menu::{CheckmarkItem, StandardItem, SubMenu};
use ksni::{Icon, MenuItem, ToolTip, TrayMethods as _};
use porthole_client::app::App;
use porthole_client::tray_menu::{Entry, TrayAction, TrayIcon, TrayMenu, tray_menu};
use tauri::{AppHandle, Manager, Runtime};

/// The running item, to redraw it.
struct Running<R: Runtime>(ksni::Handle<Item<R>>);

/// The item's state: the menu model and what its clicks need.
struct Item<R: Runtime> {
    app: AppHandle<R>,
    core: App,
    menu: TrayMenu,
}

/// A tray icon as SNI pixels (ARGB32, network byte order), decoded once.
fn pixmap(icon: TrayIcon) -> Vec<Icon> {
    static ICONS: OnceLock<[Option<Icon>; 3]> = OnceLock::new();
    let icons = ICONS.get_or_init(|| {
        [TrayIcon::Idle, TrayIcon::Connected, TrayIcon::Attention].map(|i| {
            let image = tauri::image::Image::from_bytes(super::icon_png(i)).ok()?;
            let mut data = image.rgba().to_vec();
            for px in data.chunks_exact_mut(4) {
                px.rotate_right(1);
            }
            Some(Icon { width: i32::try_from(image.width()).ok()?, height: i32::try_from(image.height()).ok()?, data })
        })
    });
    let i = match icon {
        TrayIcon::Idle => 0,
        TrayIcon::Connected => 1,
        TrayIcon::Attention => 2,
    };
    icons[i].clone().into_iter().collect()
}

fn items<R: Runtime>(entries: &[Entry]) -> Vec<MenuItem<Item<R>>> {
    entries
        .iter()
        .map(|e| match e {
            Entry::Separator => MenuItem::Separator,
            Entry::Item { id, label, enabled } => {
                let id = id.clone();
                StandardItem {
                    label: label.clone(),
                    enabled: *enabled,
                    activate: Box::new(move |item: &mut Item<R>| item.click(&id)),
                    ..StandardItem::default()
                }
                .into()
            }
            Entry::Toggle { id, label, checked } => {
                let id = id.clone();
                CheckmarkItem {
                    label: label.clone(),
                    checked: *checked,
                    activate: Box::new(move |item: &mut Item<R>| item.click(&id)),
                    ..CheckmarkItem::default()
                }
                .into()
            }
            Entry::Submenu { label, entries } => {
                SubMenu { label: label.clone(), submenu: items(entries), ..SubMenu::default() }.into()
            }
        })
        .collect()
}

impl<R: Runtime> Item<R> {
    fn click(&self, id: &str) {
        if let Some(action) = TrayAction::parse(id) {
            super::run_action(&self.app, &self.core, action);
        }
    }
}

impl<R: Runtime> ksni::Tray for Item<R> {
    fn id(&self) -> String {
        super::TRAY_ID.to_owned()
    }

    fn title(&self) -> String {
        self.menu.title.clone()
    }

    fn status(&self) -> ksni::Status {
        if self.menu.icon == TrayIcon::Attention { ksni::Status::NeedsAttention } else { ksni::Status::Active }
    }

    fn icon_pixmap(&self) -> Vec<Icon> {
        pixmap(self.menu.icon)
    }

    fn attention_icon_pixmap(&self) -> Vec<Icon> {
        pixmap(TrayIcon::Attention)
    }

    fn tool_tip(&self) -> ToolTip {
        ToolTip { title: self.menu.title.clone(), description: self.menu.summary.clone(), ..ToolTip::default() }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        super::run_action(&self.app, &self.core, TrayAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        items(&self.menu.entries)
    }
}

/// Puts the item on the session bus; `assume` skips the check for a tray host.
///
/// # Errors
/// When there is no session bus or no StatusNotifierWatcher (no tray).
pub(super) fn create<R: Runtime>(app: &AppHandle<R>, core: &App, assume: bool) -> Result<(), ksni::Error> {
    let item = Item { app: app.clone(), core: core.clone(), menu: tray_menu(&core.list_connections()) };
    let handle = tauri::async_runtime::block_on(item.assume_sni_available(assume).spawn())?;
    app.manage(Running(handle));
    Ok(())
}

/// Rebuilds the menu model from the connections as they are when the item takes the update
/// (so updates that overtake each other still end on the latest); ksni then sends the changed
/// properties and the menu's layout.
pub(super) fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Some(running) = app.try_state::<Running<R>>() else { return };
    let handle = running.0.clone();
    tauri::async_runtime::spawn(async move {
        handle.update(|item| item.menu = tray_menu(&item.core.list_connections())).await;
    });
}
