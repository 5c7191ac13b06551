//! Reading a tray item the way a tray host does, over the session bus: the
//! StatusNotifierWatcher's registered items, an item's properties (`ToolTip`, `IconPixmap`,
//! `Status`, `Menu`), its `com.canonical.dbusmenu` layout, and a click on a menu entry.

use std::collections::HashMap;

use anyhow::Context as _;
use zbus::blocking::Connection;
use zbus::zvariant::{OwnedValue, Value};

/// Runs `f` (zbus's blocking API) on a thread of its own and returns what it returns (its panic
/// goes on). In a workspace build ksni turns on zbus's `tokio` feature, and then a blocking
/// call panics on a thread that drives a tokio runtime, as every `#[tokio::test]` does.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|t| t.spawn(f).join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
}

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const ITEM_IFACE: &str = "org.kde.StatusNotifierItem";
const MENU_IFACE: &str = "com.canonical.dbusmenu";

/// One registered item: its bus name and object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAddr {
    /// Its bus name.
    pub dest: String,
    /// Its object path.
    pub path: String,
}

/// An entry of a dbusmenu layout, flattened (submenus' entries follow their parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    /// The dbusmenu id (what `Event` takes).
    pub id: i32,
    /// Its label (empty for separators).
    pub label: String,
    /// `false` when greyed out.
    pub enabled: bool,
    /// `Some(checked)` for a checkmark entry.
    pub toggled: Option<bool>,
}

/// `true` when `name` has an owner on the session bus.
///
/// # Errors
/// When the bus cannot be reached.
pub fn has_owner(bus: &Connection, name: &str) -> anyhow::Result<bool> {
    let reply = bus.call_method(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        Some("org.freedesktop.DBus"),
        "NameHasOwner",
        &(name,),
    )?;
    Ok(reply.body().deserialize::<bool>()?)
}

fn property(bus: &Connection, dest: &str, path: &str, iface: &str, name: &str) -> anyhow::Result<OwnedValue> {
    let reply = bus.call_method(Some(dest), path, Some("org.freedesktop.DBus.Properties"), "Get", &(iface, name))?;
    reply.body().deserialize::<OwnedValue>().with_context(|| format!("{iface}.{name}"))
}

/// `IsStatusNotifierHostRegistered` of the watcher.
///
/// # Errors
/// When there is no watcher.
pub fn host_registered(bus: &Connection) -> anyhow::Result<bool> {
    let v = property(bus, WATCHER, "/StatusNotifierWatcher", WATCHER, "IsStatusNotifierHostRegistered")?;
    Ok(bool::try_from(v)?)
}

/// The watcher's registered items (`:1.5/StatusNotifierItem`, or a bus name alone, whose
/// item is then found by introspection as hosts do: AppIndicator puts it elsewhere).
///
/// # Errors
/// When there is no watcher.
pub fn items(bus: &Connection) -> anyhow::Result<Vec<ItemAddr>> {
    let v = property(bus, WATCHER, "/StatusNotifierWatcher", WATCHER, "RegisteredStatusNotifierItems")?;
    let names = Vec::<String>::try_from(v)?;
    let mut out = Vec::new();
    for n in names {
        out.push(match n.find('/') {
            Some(i) => ItemAddr { dest: n[..i].to_owned(), path: n[i..].to_owned() },
            None => {
                let path = if has_item(bus, &n, "/StatusNotifierItem") {
                    "/StatusNotifierItem".to_owned()
                } else {
                    find_item(bus, &n, "/", 0)?.context("no object with the item interface")?
                };
                ItemAddr { dest: n, path }
            }
        });
    }
    Ok(out)
}

/// `true` when `dest` answers the item interface's `Id` at `path`.
fn has_item(bus: &Connection, dest: &str, path: &str) -> bool {
    property(bus, dest, path, ITEM_IFACE, "Id").is_ok()
}

/// The first object under `path` of `dest` with the item interface (at most 8 levels down).
fn find_item(bus: &Connection, dest: &str, path: &str, depth: u8) -> anyhow::Result<Option<String>> {
    let reply = bus.call_method(Some(dest), path, Some("org.freedesktop.DBus.Introspectable"), "Introspect", &())?;
    let xml = reply.body().deserialize::<String>()?;
    if path != "/" && has_item(bus, dest, path) {
        return Ok(Some(path.to_owned()));
    }
    if depth >= 8 {
        return Ok(None);
    }
    for part in xml.split("<node name=\"").skip(1) {
        let Some((child, _)) = part.split_once('"') else { continue };
        let child_path = if path == "/" { format!("/{child}") } else { format!("{path}/{child}") };
        if let Some(found) = find_item(bus, dest, &child_path, depth + 1)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The item's `ToolTip` as `(title, description)`.
///
/// # Errors
/// When the item has no tooltip.
pub fn tooltip(bus: &Connection, item: &ItemAddr) -> anyhow::Result<(String, String)> {
    let v = property(bus, &item.dest, &item.path, ITEM_IFACE, "ToolTip")?;
    let (_icon, _pixmaps, title, description) = <(String, Vec<(i32, i32, Vec<u8>)>, String, String)>::try_from(v)?;
    Ok((title, description))
}

/// The item's `IconPixmap`s as `(width, height, ARGB bytes)`.
///
/// # Errors
/// When the item has none.
pub fn icon_pixmap(bus: &Connection, item: &ItemAddr) -> anyhow::Result<Vec<(i32, i32, Vec<u8>)>> {
    let v = property(bus, &item.dest, &item.path, ITEM_IFACE, "IconPixmap")?;
    Ok(Vec::<(i32, i32, Vec<u8>)>::try_from(v)?)
}

/// A string property of the item (`Status`, `Title`, `Id`).
///
/// # Errors
/// When the item does not have it.
pub fn string_property(bus: &Connection, item: &ItemAddr, name: &str) -> anyhow::Result<String> {
    Ok(String::try_from(property(bus, &item.dest, &item.path, ITEM_IFACE, name)?)?)
}

fn menu_path(bus: &Connection, item: &ItemAddr) -> anyhow::Result<String> {
    let v = property(bus, &item.dest, &item.path, ITEM_IFACE, "Menu")?;
    Ok(zbus::zvariant::OwnedObjectPath::try_from(v)?.to_string())
}

type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

fn flatten(layout: Layout, out: &mut Vec<MenuEntry>) -> anyhow::Result<()> {
    let (id, props, children) = layout;
    let get = |k: &str| props.get(k).and_then(|v| v.try_clone().ok());
    let label = get("label").and_then(|v| String::try_from(v).ok()).unwrap_or_default();
    let enabled = get("enabled").and_then(|v| bool::try_from(v).ok()).unwrap_or(true);
    let toggled = match get("toggle-type").and_then(|v| String::try_from(v).ok()).as_deref() {
        Some("checkmark") => Some(get("toggle-state").and_then(|v| i32::try_from(v).ok()) == Some(1)),
        _ => None,
    };
    if id != 0 {
        out.push(MenuEntry { id, label, enabled, toggled });
    }
    for child in children {
        let child = Value::from(child);
        let child = match child {
            Value::Value(inner) => *inner,
            other => other,
        };
        flatten(Layout::try_from(child)?, out)?;
    }
    Ok(())
}

/// The item's whole menu (`GetLayout(0, -1, [])`), flattened.
///
/// # Errors
/// When the item has no dbusmenu.
pub fn menu(bus: &Connection, item: &ItemAddr) -> anyhow::Result<Vec<MenuEntry>> {
    let path = menu_path(bus, item)?;
    let reply = bus.call_method(
        Some(item.dest.as_str()),
        path.as_str(),
        Some(MENU_IFACE),
        "GetLayout",
        &(0i32, -1i32, Vec::<String>::new()),
    )?;
    let (_revision, layout) = reply.body().deserialize::<(u32, Layout)>()?;
    let mut out = Vec::new();
    flatten(layout, &mut out)?;
    Ok(out)
}

/// Clicks menu entry `id` (`Event(id, "clicked", 0, 0)`), as a tray host does.
///
/// # Errors
/// When the call fails.
pub fn click(bus: &Connection, item: &ItemAddr, id: i32) -> anyhow::Result<()> {
    let path = menu_path(bus, item)?;
    bus.call_method(
        Some(item.dest.as_str()),
        path.as_str(),
        Some(MENU_IFACE),
        "Event",
        &(id, "clicked", Value::from(0i32), 0u32),
    )?;
    Ok(())
}
