//! The tray on Linux: a StatusNotifierItem (`ksni`) on the session bus with `ToolTip`
//! (`Porthole` / `2 of 20 active, 1 needs login`), the state's icon as `IconPixmap`, and the menu
//! over `com.canonical.dbusmenu`. A left click (`Activate`) opens the window.

use std::sync::OnceLock;

use ksni::menu::{CheckmarkItem, StandardItem, SubMenu};
use ksni::{Icon, MenuItem, ToolTip, TrayMethods as _};
use porthole_client::tray_menu::{Entry, TrayAction, TrayIcon, TrayMenu, tray_menu};

use crate::Cx;

/// The running item, to redraw it.
#[derive(Clone)]
pub struct Running(ksni::Handle<Item>);

/// The item's state: the menu model and what its clicks need (the core and the shell; set
/// once the shell exists, which owns this item).
pub struct Item {
    cx: std::sync::Weak<std::sync::OnceLock<Cx>>,
    menu: TrayMenu,
}

/// A tray icon as SNI pixels (ARGB32, network byte order), decoded once.
fn pixmap(icon: TrayIcon) -> Vec<Icon> {
    static ICONS: OnceLock<[Option<Icon>; 3]> = OnceLock::new();
    let icons = ICONS.get_or_init(|| {
        [TrayIcon::Idle, TrayIcon::Connected, TrayIcon::Attention].map(|i| {
            let (width, height, mut data) = decode_rgba(super::icon_png(i))?;
            for px in data.chunks_exact_mut(4) {
                px.rotate_right(1);
            }
            Some(Icon { width: i32::try_from(width).ok()?, height: i32::try_from(height).ok()?, data })
        })
    });
    let i = match icon {
        TrayIcon::Idle => 0,
        TrayIcon::Connected => 1,
        TrayIcon::Attention => 2,
    };
    icons[i].clone().into_iter().collect()
}

/// A PNG as 8-bit RGBA pixels: `(width, height, pixels)`.
fn decode_rgba(png_bytes: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    buf.truncate(frame.buffer_size());
    (frame.color_type == png::ColorType::Rgba).then_some((frame.width, frame.height, buf))
}

fn items(entries: &[Entry]) -> Vec<MenuItem<Item>> {
    entries
        .iter()
        .map(|e| match e {
            Entry::Separator => MenuItem::Separator,
            Entry::Item { id, label, enabled } => {
                let id = id.clone();
                StandardItem {
                    label: label.clone(),
                    enabled: *enabled,
                    activate: Box::new(move |item: &mut Item| item.click(&id)),
                    ..StandardItem::default()
                }
                .into()
            }
            Entry::Toggle { id, label, checked } => {
                let id = id.clone();
                CheckmarkItem {
                    label: label.clone(),
                    checked: *checked,
                    activate: Box::new(move |item: &mut Item| item.click(&id)),
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

impl Item {
    fn click(&self, id: &str) {
        if let Some(action) = TrayAction::parse(id) {
            self.run(action);
        }
    }

    fn run(&self, action: TrayAction) {
        if let Some(cx) = self.cx.upgrade().as_deref().and_then(std::sync::OnceLock::get) {
            super::run_action(cx, action);
        }
    }
}

impl ksni::Tray for Item {
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
        self.run(TrayAction::Open);
    }

    fn menu(&self) -> Vec<MenuItem<Self>> {
        items(&self.menu.entries)
    }
}

/// Puts the item on the session bus with the menu of `core`'s connections; `assume` skips the
/// check for a tray host. Clicks act once `cx` is set (the shell that owns this item).
///
/// # Errors
/// When there is no session bus or no StatusNotifierWatcher (no tray).
pub async fn create(
    core: &porthole_client::app::App,
    cx: &std::sync::Arc<std::sync::OnceLock<Cx>>,
    assume: bool,
) -> Result<Running, ksni::Error> {
    let item = Item { cx: std::sync::Arc::downgrade(cx), menu: tray_menu(&core.list_connections()) };
    Ok(Running(item.assume_sni_available(assume).spawn().await?))
}

impl Running {
    /// Rebuilds the menu model from `core`'s connections as they are when the item takes the
    /// update (so updates that overtake each other still end on the latest); ksni then sends the
    /// changed properties and the menu's layout.
    pub fn refresh(&self, core: &porthole_client::app::App) {
        let (handle, core) = (self.0.clone(), core.clone());
        tokio::spawn(async move {
            handle.update(|item| item.menu = tray_menu(&core.list_connections())).await;
        });
    }
}
