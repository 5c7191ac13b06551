//! The tray model from statuses alone: counts, icon, item states, greyed-out actions.

use super::*;
use crate::model::{Fix, Profile, Protocol};
use porthole_tunnel::cause::Cause;
use porthole_tunnel::code::ErrorCode;

fn view(id: &str, tags: &[&str], status: ConnectionStatus) -> ConnectionView {
    let profile = Profile {
        id: id.to_owned(),
        name: format!("{id} db"),
        destination: format!("{id}.corp:5432"),
        listen_addr: None,
        pomerium_url: None,
        protocol: Protocol::Tcp,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ca_file: None,
        disable_tls_verification: false,
        client_cert: None,
        autostart: false,
        open_with: None,
        source: None,
    };
    ConnectionView { profile, status, port_in_use: false, reconnect_to_apply: false, proxy_origin: None }
}

fn listening() -> ConnectionStatus {
    ConnectionStatus::Listening { addr: "127.0.0.1:7019".into() }
}

fn login() -> ConnectionStatus {
    ConnectionStatus::LoginRequired { addr: "127.0.0.1:7020".into(), url: "https://auth/x".into() }
}

/// Entries of the menu and its submenus, depth first, as `(id or label, label, enabled)`.
fn flat(entries: &[Entry]) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::Item { id, label, enabled } => out.push((id.clone(), label.clone(), *enabled)),
            Entry::Toggle { id, label, checked } => out.push((id.clone(), label.clone(), *checked)),
            Entry::Submenu { label, entries } => {
                out.push((label.clone(), label.clone(), true));
                out.extend(flat(entries));
            }
            Entry::Separator => {}
        }
    }
    out
}

fn enabled(menu: &TrayMenu, id: &str) -> bool {
    flat(&menu.entries).into_iter().find(|e| e.0 == id).unwrap_or_else(|| panic!("no {id} in {menu:#?}")).2
}

/// The case: three running, one of them waiting for a login. The tooltip says both in
/// the window's words, the icon asks for attention, the item says "login required".
#[test]
fn one_needing_login_among_three_active_is_counted_and_flagged() {
    let views = [view("a", &["prod"], listening()), view("b", &["prod"], login()), view("c", &[], listening())];
    let menu = tray_menu(&views);
    assert_eq!(menu.tooltip(), "Porthole — 3 of 3 active, 1 needs login");
    assert_eq!(menu.icon, TrayIcon::Attention);
    let items = flat(&menu.entries);
    assert!(items.contains(&("toggle:b".into(), "b db — login required".into(), true)), "{items:#?}");
    assert!(items.contains(&("toggle:a".into(), "a db — listening on 127.0.0.1:7019".into(), true)));
    assert!(items.iter().any(|i| i.1 == "prod — 2 of 2 active"), "{items:#?}");
    assert!(items.iter().all(|i| !i.1.contains("connected") || i.0.starts_with("toggle:")), "one vocabulary");
}

/// Nothing active: idle icon, Disconnect all greyed out (globally and per tag), Connect all not.
#[test]
fn nothing_active_greys_out_disconnect_all() {
    let views = [view("a", &["prod"], ConnectionStatus::Idle), view("b", &[], ConnectionStatus::Idle)];
    let menu = tray_menu(&views);
    assert_eq!(menu.icon, TrayIcon::Idle);
    assert_eq!(menu.summary, "0 of 2 active");
    assert!(!enabled(&menu, "disconnect-all"));
    assert!(!enabled(&menu, "tag-disconnect:prod"));
    assert!(enabled(&menu, "connect-all"));
    assert!(enabled(&menu, "tag-connect:"));
    assert!(enabled(&menu, "new-connection") && enabled(&menu, "open"));
}

/// All active and healthy: connected icon, Connect all greyed out, sessions counted as the
/// window's badge counts them.
#[test]
fn all_active_greys_out_connect_all() {
    let connected = ConnectionStatus::Connected { addr: "127.0.0.1:1".into(), sessions: 2 };
    let menu = tray_menu(&[view("a", &[], connected)]);
    assert_eq!(menu.icon, TrayIcon::Connected);
    assert!(!enabled(&menu, "connect-all"));
    assert!(enabled(&menu, "disconnect-all"));
    assert!(flat(&menu.entries).iter().any(|e| e.1 == "a db — connected · 2 sessions"));
}

fn denied() -> ConnectionStatus {
    ConnectionStatus::Failing {
        addr: "127.0.0.1:1".into(),
        label: "access denied for alice@example.com".into(),
        message: "The proxy's policy does not let alice@example.com reach db.corp:5432.".into(),
        code: ErrorCode::Denied,
        cause: Cause::Denied { destination: "db.corp:5432".into(), user: Some("alice@example.com".into()) },
        action: Some(Fix::LogInAsSomeoneElse),
    }
}

/// A failing connection (403) flags the icon, names the user in its item, and offers its fix
/// in the window's words; a failed start shows its sentence, cut short.
#[test]
fn failures_name_the_user_offer_the_fix_and_flag_the_icon() {
    let long = "127.0.0.1:7019 is in use by another program: choose another local port in the connection's settings";
    let error = ConnectionStatus::Error { message: long.into(), code: ErrorCode::PortInUse };
    let menu = tray_menu(&[view("a", &[], denied()), view("b", &[], listening()), view("c", &[], error)]);
    assert_eq!(menu.icon, TrayIcon::Attention);
    assert_eq!(menu.summary, "2 of 3 active, 2 failing");
    let items = flat(&menu.entries);
    assert!(
        items.contains(&("toggle:a".into(), "a db — access denied for alice@example.com".into(), true)),
        "{items:#?}"
    );
    assert!(items.contains(&("fix-open:a".into(), "    Log in as someone else…".into(), true)), "{items:#?}");
    assert_eq!(TrayAction::parse("fix-open:a"), Some(TrayAction::OpenConnection("a".into())));
    let label = &items.iter().find(|e| e.0 == "toggle:c").unwrap().1;
    assert!(label.starts_with("c db — 127.0.0.1:7019 is in use"), "{label}");
    assert!(label.ends_with('…') && label.chars().count() <= "c db — ".len() + STATE_MAX_CHARS, "{label}");
}

/// No connection: a greyed hint, both bulk actions greyed, New connection… offered.
#[test]
fn empty_offers_new_connection() {
    let menu = tray_menu(&[]);
    assert_eq!(menu.tooltip(), "Porthole — nothing saved yet");
    assert!(!enabled(&menu, "none") && !enabled(&menu, "connect-all") && !enabled(&menu, "disconnect-all"));
    assert!(enabled(&menu, "new-connection"));
}

/// Every id the menu sends back parses; the summary line does nothing.
#[test]
fn every_clickable_id_parses() {
    let menu = tray_menu(&[view("a", &["prod"], listening()), view("b", &[], ConnectionStatus::Idle)]);
    for (id, label, _) in flat(&menu.entries) {
        if id == label || id == "summary" {
            continue;
        }
        assert!(TrayAction::parse(&id).is_some(), "{id} parses");
    }
    assert_eq!(TrayAction::parse("toggle:a"), Some(TrayAction::Toggle("a".into())));
    assert_eq!(TrayAction::parse("tag-connect:"), Some(TrayAction::ConnectTag(Some(String::new()))));
    assert_eq!(TrayAction::parse("disconnect-all"), Some(TrayAction::DisconnectTag(None)));
    assert_eq!(TrayAction::parse("summary"), None);
}
