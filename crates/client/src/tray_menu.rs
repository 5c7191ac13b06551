//! The tray as data: its icon, tooltip and menu, a pure function of the connections and their
//! statuses ([`tray_menu`]). The desktop shell renders it (a StatusNotifierItem on Linux, Tauri's
//! tray elsewhere) and hands clicked ids back through [`TrayAction::parse`]; tests read it
//! without a tray.
//!
//! The words are the window's: a connection is *active* while its listener is up (the window's
//! "2 of 5 active"), and each item shows the state the window's badge shows.

use std::collections::BTreeMap;

use crate::model::{ConnectionStatus, ConnectionView, Fix};
use crate::status::MenuModel;

/// The longest state text an item shows; longer sentences end in `…`.
pub const STATE_MAX_CHARS: usize = 60;

/// Which of the three tray icons shows: the statuses' [`Aggregate`].
pub use crate::status::Aggregate as TrayIcon;

/// One entry of the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A plain item; `enabled: false` greys it out.
    Item {
        /// What a click sends back ([`TrayAction::parse`]).
        id: String,
        /// Its text.
        label: String,
        /// Whether a click does anything.
        enabled: bool,
    },
    /// A connection: ticked while active; a click connects or disconnects it.
    Toggle {
        /// `toggle:<profile id>`.
        id: String,
        /// `Redis prod — listening on 127.0.0.1:6379`.
        label: String,
        /// Active.
        checked: bool,
    },
    /// A tag's connections.
    Submenu {
        /// `prod — 2 of 5 active`.
        label: String,
        /// Its entries.
        entries: Vec<Entry>,
    },
    /// A line.
    Separator,
}

/// The whole tray.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayMenu {
    /// The icon.
    pub icon: TrayIcon,
    /// The tooltip's first line: `Porthole`.
    pub title: String,
    /// The tooltip's second line: `2 of 20 active, 1 needs login`.
    pub summary: String,
    /// The menu, top to bottom.
    pub entries: Vec<Entry>,
}

impl TrayMenu {
    /// The tooltip as one line: `Porthole — 2 of 20 active, 1 needs login`.
    pub fn tooltip(&self) -> String {
        format!("{} — {}", self.title, self.summary)
    }
}

/// What a menu click asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    /// Connect the profile if it is not active, else disconnect it.
    Toggle(String),
    /// Connect every connection of a tag (`None`: all; `""`: untagged).
    ConnectTag(Option<String>),
    /// Disconnect every connection of a tag (`None`: all; `""`: untagged).
    DisconnectTag(Option<String>),
    /// Open the window on the new-connection form.
    NewConnection,
    /// Open the window on "Load from server…".
    LoadFromServer,
    /// Open the window.
    Open,
    /// Open the window on a connection (where a failure's fix is a button).
    OpenConnection(String),
    /// Restart a failing connection's listener with its saved settings.
    Reconnect(String),
    /// Quit the app (tunnels end).
    Quit,
}

impl TrayAction {
    /// The action of a menu id; `None` for ids that do nothing (the summary line).
    pub fn parse(id: &str) -> Option<Self> {
        let tag = |t: &str| Some(t.to_owned());
        Some(match id {
            "connect-all" => Self::ConnectTag(None),
            "disconnect-all" => Self::DisconnectTag(None),
            "new-connection" => Self::NewConnection,
            "load-from-server" => Self::LoadFromServer,
            "open" => Self::Open,
            "quit" => Self::Quit,
            _ => {
                if let Some(p) = id.strip_prefix("fix-open:") {
                    Self::OpenConnection(p.to_owned())
                } else if let Some(p) = id.strip_prefix("fix-retry:") {
                    Self::Reconnect(p.to_owned())
                } else if let Some(p) = id.strip_prefix("toggle:") {
                    Self::Toggle(p.to_owned())
                } else if let Some(t) = id.strip_prefix("tag-connect:") {
                    Self::ConnectTag(tag(t))
                } else if let Some(t) = id.strip_prefix("tag-disconnect:") {
                    Self::DisconnectTag(tag(t))
                } else {
                    return None;
                }
            }
        })
    }
}

/// `true` while the listener is up or coming up: what Disconnect ends (the window's rule,
/// [`ConnectionStatus::is_active`]).
pub fn is_active(status: &ConnectionStatus) -> bool {
    status.is_active()
}

/// What the person is asked for, if anything: `Some("needs login")` or `Some("failing")`.
fn attention(status: &ConnectionStatus) -> Option<&'static str> {
    match status {
        ConnectionStatus::LoginRequired { .. } => Some("needs login"),
        ConnectionStatus::Failing { .. } | ConnectionStatus::Error { .. } => Some("failing"),
        _ => None,
    }
}

/// The state as the window's badge says it: `idle`, `listening on 127.0.0.1:6379`,
/// `connected · 2 sessions`, `login required`, a failure's few words (`access denied for
/// alice@example.com`) or a failed start's sentence (cut at [`STATE_MAX_CHARS`]).
pub fn state_text(status: &ConnectionStatus) -> String {
    let text = match status {
        ConnectionStatus::Idle => "idle".to_owned(),
        ConnectionStatus::Listening { addr } => format!("listening on {addr}"),
        ConnectionStatus::Connecting { .. } => "connecting…".to_owned(),
        ConnectionStatus::LoginRequired { .. } => "login required".to_owned(),
        ConnectionStatus::Connected { sessions, .. } => {
            format!("connected · {sessions} session{}", if *sessions == 1 { "" } else { "s" })
        }
        ConnectionStatus::Failing { label, .. } => label.clone(),
        ConnectionStatus::Error { message, .. } => message.clone(),
    };
    shorten(&text, STATE_MAX_CHARS)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{}…", cut.trim_end())
}

/// `2 of 20 active, 1 needs login, 1 failing` (`nothing saved yet` with no connection).
pub fn summary(views: &[ConnectionView]) -> String {
    if views.is_empty() {
        return "nothing saved yet".to_owned();
    }
    let active = views.iter().filter(|v| is_active(&v.status)).count();
    let mut parts = vec![format!("{active} of {} active", views.len())];
    for what in ["needs login", "failing"] {
        let n = views.iter().filter(|v| attention(&v.status) == Some(what)).count();
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    parts.join(", ")
}

/// The icon for these statuses: attention wins over connected, connected over idle
/// ([`crate::status::aggregate`]).
pub fn icon(views: &[ConnectionView]) -> TrayIcon {
    crate::status::aggregate(views.iter().map(|v| &v.status))
}

/// The tray as the desktop's `tray_menu_model` test hook returns it: the icon's state, the
/// tooltip, and each connection's item label, in menu order.
pub fn model(views: &[ConnectionView]) -> MenuModel {
    let menu = tray_menu(views);
    let mut items = Vec::new();
    collect_toggles(&menu.entries, &mut items);
    MenuModel { aggregate: menu.icon, tooltip: menu.tooltip(), items }
}

fn collect_toggles(entries: &[Entry], out: &mut Vec<String>) {
    for e in entries {
        match e {
            Entry::Toggle { label, .. } => out.push(label.clone()),
            Entry::Submenu { entries, .. } => collect_toggles(entries, out),
            Entry::Item { .. } | Entry::Separator => {}
        }
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

/// A failing connection's fix, under its item, in the window's words (`Open TLS settings…`):
/// Reconnect does it from the tray, the others open the connection where the button is.
fn fix_entry(v: &ConnectionView) -> Option<Entry> {
    let ConnectionStatus::Failing { action: Some(fix), .. } = &v.status else { return None };
    let id = match fix {
        Fix::Retry => format!("fix-retry:{}", v.profile.id),
        _ => format!("fix-open:{}", v.profile.id),
    };
    Some(item(&id, &format!("    {}", fix.label()), true))
}

fn item(id: &str, label: &str, enabled: bool) -> Entry {
    Entry::Item { id: id.to_owned(), label: label.to_owned(), enabled }
}

/// The tray for `views`: the summary, a submenu per tag with each connection's state and the
/// tag's Connect all / Disconnect all, then the global actions. An action that would do nothing
/// (Disconnect all with nothing active) is greyed out.
pub fn tray_menu(views: &[ConnectionView]) -> TrayMenu {
    let summary = summary(views);
    let mut entries = vec![item("summary", &summary, false), Entry::Separator];
    for (tag, members) in groups(views) {
        let active = members.iter().filter(|v| is_active(&v.status)).count();
        let mut sub: Vec<Entry> = Vec::new();
        for v in &members {
            sub.push(Entry::Toggle {
                id: format!("toggle:{}", v.profile.id),
                label: format!("{} — {}", v.profile.name, state_text(&v.status)),
                checked: is_active(&v.status),
            });
            sub.extend(fix_entry(v));
        }
        sub.push(Entry::Separator);
        sub.push(item(&format!("tag-connect:{tag}"), "Connect all", active < members.len()));
        sub.push(item(&format!("tag-disconnect:{tag}"), "Disconnect all", active > 0));
        let title = if tag.is_empty() { "Untagged" } else { tag.as_str() };
        entries
            .push(Entry::Submenu { label: format!("{title} — {active} of {} active", members.len()), entries: sub });
    }
    if views.is_empty() {
        entries.push(item("none", "No connections yet", false));
    }
    let active = views.iter().filter(|v| is_active(&v.status)).count();
    entries.extend([
        Entry::Separator,
        item("connect-all", "Connect all", active < views.len()),
        item("disconnect-all", "Disconnect all", active > 0),
        Entry::Separator,
        item("new-connection", "New connection…", true),
        item("load-from-server", "Load from server…", true),
        item("open", "Open Porthole", true),
        Entry::Separator,
        item("quit", "Quit Porthole", true),
    ]);
    TrayMenu { icon: icon(views), title: "Porthole".to_owned(), summary, entries }
}

#[cfg(test)]
#[path = "tray_menu_tests.rs"]
mod tests;
