//! The file token store and the cache operations over it, driven in-process on temporary
//! directories: round trips, file and directory modes, atomic writes, `clear`, `clear_all`,
//! `logout`, and that no error ever shows a token.

use std::fs;
use std::path::Path;

use porthole_client::tokens::{
    FileStore, MemoryStore, OriginIndex, StoreChoice, StoreKind, Token, TokenStore, clear_all, file_name, logout,
    store_in,
};
use sha2::{Digest as _, Sha256};

const ORIGIN: &str = "https://proxy.example.com:443";
const SECRET: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.s3cr3t-file-token";

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn tokens_round_trip_through_files_named_by_hash() {
    let cache = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(cache.path());
    assert_eq!(store.load(ORIGIN).expect("load"), None, "nothing is stored yet");
    store.delete(ORIGIN).expect("deleting a missing token is not an error");

    store.store(ORIGIN, &Token::new(SECRET)).expect("store");
    assert_eq!(store.load(ORIGIN).expect("load"), Some(Token::new(SECRET)));
    let hex: String = Sha256::digest(ORIGIN).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(file_name(ORIGIN), hex, "the file is named by the hex SHA-256 of the origin");
    assert_eq!(store.path_for(ORIGIN), cache.path().join("tokens").join(&hex));
    assert_eq!(fs::read_to_string(store.path_for(ORIGIN)).expect("file"), SECRET, "the file holds the raw token");
    assert_eq!(store.location(), cache.path().join("tokens"));

    let other = "https://other.example.com:8443";
    store.store(other, &Token::new("other-token")).expect("store other");
    store.store(ORIGIN, &Token::new("replaced-token")).expect("replace");
    assert_eq!(store.load(ORIGIN).expect("load"), Some(Token::new("replaced-token")), "a store replaces");
    assert_eq!(store.load(other).expect("load"), Some(Token::new("other-token")), "origins do not share a file");
    assert_eq!(OriginIndex::new(cache.path()).list(), vec![other.to_owned(), ORIGIN.to_owned()], "the index is sorted");

    store.delete(ORIGIN).expect("delete");
    assert_eq!(store.load(ORIGIN).expect("load"), None, "a deleted token is gone");
    assert!(!store.path_for(ORIGIN).exists());
    assert_eq!(OriginIndex::new(cache.path()).list(), vec![other.to_owned()], "delete updates the index");
    assert_eq!(
        FileStore::new(cache.path()).load(other).expect("load"),
        Some(Token::new("other-token")),
        "a second instance (another process) reads the same files"
    );
}

#[cfg(unix)]
#[test]
fn files_are_0600_and_the_directory_0700() {
    use std::os::unix::fs::PermissionsExt as _;
    let cache = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(cache.path());
    store.store(ORIGIN, &Token::new(SECRET)).expect("store");
    assert_eq!(mode(&store.path_for(ORIGIN)), 0o600, "only the owner may read a token file");
    assert_eq!(mode(store.location()), 0o700, "only the owner may list the tokens directory");
    assert_eq!(mode(&cache.path().join("origins.json")), 0o600, "the index is private too");

    fs::set_permissions(store.location(), fs::Permissions::from_mode(0o755)).expect("loosen");
    store.store(ORIGIN, &Token::new("again")).expect("store");
    assert_eq!(mode(store.location()), 0o700, "a store tightens a directory someone loosened");
    assert_eq!(mode(&store.path_for(ORIGIN)), 0o600, "a replaced file is 0600 as well");
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let cache = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(cache.path());
    for i in 0..20 {
        store.store(ORIGIN, &Token::new(format!("token-{i}"))).expect("store");
    }
    assert_eq!(
        names(store.location()),
        vec![file_name(ORIGIN)],
        "only the token file remains: temp files were renamed"
    );
    assert_eq!(names(cache.path()), vec!["origins.json".to_owned(), "tokens".to_owned()]);
    assert_eq!(store.load(ORIGIN).expect("load"), Some(Token::new("token-19")));
}

#[test]
fn clear_removes_every_token_file_without_the_index() {
    let cache = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(cache.path());
    for i in 0..3 {
        store.store(&format!("https://p{i}.example.com:443"), &Token::new(SECRET)).expect("store");
    }
    fs::remove_file(cache.path().join("origins.json")).expect("drop the index");
    fs::write(store.location().join(format!(".{}.1.0.tmp", file_name(ORIGIN))), SECRET).expect("crash leftover");
    assert_eq!(store.clear().expect("clear"), 3, "all three token files are found without the index");
    assert!(!store.location().exists(), "the emptied tokens directory is removed");
    assert_eq!(store.load("https://p0.example.com:443").expect("load"), None);
    assert_eq!(store.clear().expect("clear again"), 0, "clearing an empty cache is not an error");
}

#[test]
fn logout_and_clear_all_reach_stores_through_the_index() {
    let cache = tempfile::tempdir().expect("tempdir");
    // A store that is not a file (as a keychain): only the index can say what it holds.
    let memory = MemoryStore::default();
    let index = OriginIndex::new(cache.path());
    for origin in ["https://a.example.com:443", "https://b.example.com:443"] {
        memory.store(origin, &Token::new(SECRET)).expect("store");
        index.add(origin).expect("index");
    }
    // A token file a past fallback left behind, for an origin the index does not list.
    let files = FileStore::new(cache.path());
    files.store("https://old.example.com:443", &Token::new(SECRET)).expect("store");
    index.remove("https://old.example.com:443").expect("unlist");

    logout(&memory, cache.path(), "https://a.example.com:443").expect("logout");
    assert_eq!(memory.load("https://a.example.com:443").expect("load"), None, "logout deletes one origin");
    assert_eq!(index.list(), vec!["https://b.example.com:443".to_owned()]);

    let cleared = clear_all(&memory, cache.path()).expect("clear_all");
    assert_eq!(cleared, vec!["https://b.example.com:443".to_owned()], "clear_all reports the indexed origins");
    assert_eq!(
        memory.load("https://b.example.com:443").expect("load"),
        None,
        "indexed origins are deleted from the store"
    );
    assert_eq!(files.load("https://old.example.com:443").expect("load"), None, "stray token files are deleted");
    assert!(fs::read_dir(cache.path()).expect("dir").next().is_none(), "nothing is left in the cache directory");
}

#[test]
fn no_error_shows_the_token() {
    let cache = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(cache.path());
    // The tokens directory cannot be created: a file is in its place.
    fs::write(cache.path().join("tokens"), "not a directory").expect("block");
    let err = store.store(ORIGIN, &Token::new(SECRET)).expect_err("the directory cannot be made");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "a store error must not show the token: {text}");
        assert!(text.contains("tokens"), "the error names where it failed: {text}");
    }
    fs::remove_file(cache.path().join("tokens")).expect("unblock");

    // The token file cannot be replaced or read: a directory is in its place.
    fs::create_dir_all(store.path_for(ORIGIN).join("x")).expect("block");
    let errors = [
        store.store(ORIGIN, &Token::new(SECRET)).expect_err("cannot replace a directory"),
        store.load(ORIGIN).expect_err("cannot read a directory"),
        store.delete(ORIGIN).expect_err("cannot delete a directory as a file"),
    ];
    for err in errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "an error must not show the token: {text}");
            assert!(text.contains(ORIGIN), "the error names the origin: {text}");
        }
    }
    assert_eq!(format!("{:?}", Token::new(SECRET)), "Token(<redacted>)");
    assert!(!format!("{store:?}").contains(SECRET));
}

#[test]
fn a_forced_file_store_says_where_tokens_are() {
    let cache = tempfile::tempdir().expect("tempdir");
    let (store, kind) = store_in(cache.path(), Some(StoreChoice::File));
    let StoreKind::File { path, reason } = &kind else { panic!("file was asked for, got {kind:?}") };
    assert_eq!(path, &cache.path().join("tokens"));
    assert!(reason.contains("PORTHOLE_TOKEN_STORE=file"), "the reason names the override: {reason}");
    let warning = kind.warning().expect("a file store is warned about");
    assert!(warning.contains(&path.display().to_string()) && warning.contains("0600"), "{warning}");
    store.store(ORIGIN, &Token::new(SECRET)).expect("store");
    assert!(cache.path().join("tokens").join(file_name(ORIGIN)).is_file(), "the chosen store writes files");

    assert_eq!(store_in(cache.path(), Some(StoreChoice::Memory)).1, StoreKind::Memory);
    assert_eq!(store_in(cache.path(), Some(StoreChoice::Keychain)).1, StoreKind::Keychain);
    assert_eq!(StoreKind::Keychain.warning(), None, "the keychain needs no warning");
    assert_eq!(" Keychain ".parse::<StoreChoice>(), Ok(StoreChoice::Keychain));
    assert!("disk".parse::<StoreChoice>().is_err());
}
