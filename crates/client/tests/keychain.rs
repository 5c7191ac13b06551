//! The keychain store against a real Secret Service: each test re-runs itself inside
//! `dbus-run-session` with an unlocked `gnome-keyring-daemon` (or with no reachable bus), in a
//! child process whose HOME, XDG directories and `PORTHOLE_CACHE_DIR` are temporary, and checks
//! with `secret-tool` where the token really is.

mod support;

use std::ffi::OsString;
use std::process::Command;

use porthole_client::tokens::{
    KeychainStore, StoreKind, Token, TokenStore, cache_location, clear_all, default_store, file_name,
};
use support::{Session, child_cache_dir, files_under, in_child, run_in_child};

const ORIGIN: &str = "https://proxy.example.com:443";
const SECRET: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJrZXljaGFpbiJ9.k3ych41n-secret";

/// What `secret-tool` finds under service `porthole` (attributes and secrets, both streams).
fn secret_tool_search() -> String {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", "porthole"])
        .output()
        .expect("secret-tool runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// No file under the cache directory holds `secret`.
fn assert_not_on_disk(secret: &str) {
    for file in files_under(&child_cache_dir()) {
        let bytes = std::fs::read(&file).expect("read cache file");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the token: with a keychain, no token may be written to disk",
            file.display()
        );
    }
}

#[test]
fn keychain_store_keeps_tokens_in_the_secret_service() {
    if !in_child() {
        let home = tempfile::tempdir().expect("tempdir");
        return run_in_child("keychain_store_keeps_tokens_in_the_secret_service", Session::Keyring, home.path(), &[]);
    }
    let cache = child_cache_dir();
    let store = KeychainStore::new(&cache);
    assert_eq!(store.load(ORIGIN).expect("load"), None, "a fresh keyring holds no token");
    KeychainStore::probe().expect("the Secret Service answers inside the session");

    store.store(ORIGIN, &Token::new(SECRET)).expect("store in the keychain");
    assert_eq!(store.load(ORIGIN).expect("load"), Some(Token::new(SECRET)));
    let found = secret_tool_search();
    assert!(found.contains(SECRET), "secret-tool must find the token in the keyring:\n{found}");
    assert!(found.contains(ORIGIN), "the entry's user is the origin:\n{found}");
    assert_not_on_disk(SECRET);
    assert!(!cache.join("tokens").join(file_name(ORIGIN)).exists(), "no token file is made");
    let index = std::fs::read_to_string(cache.join("origins.json")).expect("the origin is indexed");
    assert!(index.contains(ORIGIN), "the index lists the origin so `cache clear` can find it: {index}");

    store.store(ORIGIN, &Token::new("second-token")).expect("replace");
    assert_eq!(store.load(ORIGIN).expect("load"), Some(Token::new("second-token")), "a store replaces");
    let found = secret_tool_search();
    assert!(!found.contains(SECRET), "the replaced token is gone from the keyring:\n{found}");

    store.delete(ORIGIN).expect("delete");
    assert_eq!(store.load(ORIGIN).expect("load"), None, "a deleted token is gone");
    assert!(!secret_tool_search().contains("second-token"), "delete removes the keyring item");
    store.delete(ORIGIN).expect("deleting a missing token is not an error");
    let index = std::fs::read_to_string(cache.join("origins.json")).expect("index");
    assert!(!index.contains(ORIGIN), "delete unlists the origin: {index}");
}

#[test]
fn default_store_picks_the_keychain_when_a_secret_service_answers() {
    if !in_child() {
        let home = tempfile::tempdir().expect("tempdir");
        let name = "default_store_picks_the_keychain_when_a_secret_service_answers";
        return run_in_child(name, Session::Keyring, home.path(), &[]);
    }
    let (store, kind) = default_store();
    assert_eq!(kind, StoreKind::Keychain, "a reachable Secret Service is preferred to files");
    assert_eq!(kind.warning(), None);
    assert_eq!(cache_location(), child_cache_dir(), "PORTHOLE_CACHE_DIR sets the cache directory");
    store.store(ORIGIN, &Token::new(SECRET)).expect("store");
    assert!(secret_tool_search().contains(SECRET), "the default store wrote to the keyring");
    assert_not_on_disk(SECRET);

    let cleared = clear_all(&*store, &cache_location()).expect("clear_all");
    assert_eq!(cleared, vec![ORIGIN.to_owned()], "clear_all finds keychain entries through the index");
    assert!(!secret_tool_search().contains(SECRET), "clear_all removed the keyring item");
    assert_eq!(store.load(ORIGIN).expect("load"), None);
}

#[test]
fn default_store_falls_back_to_files_when_no_bus_answers() {
    if !in_child() {
        let home = tempfile::tempdir().expect("tempdir");
        let bus = format!("unix:path={}", home.path().join("no-such-bus").display());
        let name = "default_store_falls_back_to_files_when_no_bus_answers";
        return run_in_child(name, Session::Plain, home.path(), &[("DBUS_SESSION_BUS_ADDRESS", OsString::from(bus))]);
    }
    let (store, kind) = default_store();
    let StoreKind::File { path, reason } = &kind else { panic!("with no bus the file store is used, got {kind:?}") };
    assert_eq!(path, &child_cache_dir().join("tokens"));
    assert!(reason.starts_with("no keychain service reachable ("), "the reason says why: {reason}");
    let warning = kind.warning().expect("the fallback is warned about");
    assert!(warning.contains(&path.display().to_string()) && warning.contains("(mode 0600)"), "{warning}");
    store.store(ORIGIN, &Token::new(SECRET)).expect("store");
    assert_eq!(std::fs::read_to_string(path.join(file_name(ORIGIN))).expect("token file"), SECRET);
}

#[test]
fn the_environment_forces_a_store() {
    if !in_child() {
        for value in ["memory", "file", "keychain", "nonsense"] {
            let home = tempfile::tempdir().expect("tempdir");
            let bus = format!("unix:path={}", home.path().join("no-such-bus").display());
            let envs =
                [("PORTHOLE_TOKEN_STORE", OsString::from(value)), ("DBUS_SESSION_BUS_ADDRESS", OsString::from(bus))];
            run_in_child("the_environment_forces_a_store", Session::Plain, home.path(), &envs);
        }
        return;
    }
    let value = std::env::var("PORTHOLE_TOKEN_STORE").expect("set by the parent");
    let (_, kind) = default_store();
    match value.as_str() {
        "memory" => assert_eq!(kind, StoreKind::Memory),
        // Forced: no probe, even though no bus answers.
        "keychain" => assert_eq!(kind, StoreKind::Keychain),
        "file" => assert!(
            matches!(&kind, StoreKind::File { reason, .. } if reason.contains("PORTHOLE_TOKEN_STORE=file")),
            "{kind:?}"
        ),
        _ => assert!(
            matches!(&kind, StoreKind::File { reason, .. } if reason.starts_with("no keychain service reachable")),
            "an unknown value falls back to the automatic choice: {kind:?}"
        ),
    }
}
