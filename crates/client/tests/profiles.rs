//! The profile store: atomic saves, corrupt and future files, versioning, keys kept out of
//! `connections.json`, duplicate, and validation reporting every field at once.

use std::sync::Arc;

use porthole_client::error::ErrorCode;
use porthole_client::model::{ClientCert, ClientCertDraft, ProfileDraft};
use porthole_client::{MemorySecrets, ProfileStore, SecretStore};
use porthole_testkit::certs::TestPki;

fn draft(name: &str) -> ProfileDraft {
    ProfileDraft { name: name.into(), destination: "redis.example.com:6379".into(), ..ProfileDraft::default() }
}

fn open(dir: &std::path::Path) -> (ProfileStore, Arc<MemorySecrets>) {
    let secrets = Arc::new(MemorySecrets::default());
    (ProfileStore::open(dir, secrets.clone()).expect("opens"), secrets)
}

#[test]
fn saves_are_versioned_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let saved = store.save(&draft("Redis")).unwrap();
    assert!(uuid::Uuid::parse_str(&saved.id).is_ok(), "a new profile gets a v4 uuid");
    let text = std::fs::read_to_string(dir.path().join("connections.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], 1, "the file carries its schema version");
    assert_eq!(json["profiles"][0]["name"], "Redis");
    let (again, _) = open(dir.path());
    assert_eq!(again.list(), store.list(), "what was saved is what is read back");
}

#[test]
fn a_failed_save_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    store.save(&draft("Redis")).unwrap();
    let before = std::fs::read(dir.path().join("connections.json")).unwrap();
    // A directory where the temporary file must go makes the write fail.
    std::fs::create_dir(dir.path().join(".connections.json.tmp")).unwrap();
    let e = store.save(&draft("Postgres")).unwrap_err();
    assert_eq!(e.code, ErrorCode::Io, "{e:?}");
    assert_eq!(std::fs::read(dir.path().join("connections.json")).unwrap(), before, "the old file is intact");
    assert_eq!(store.list().len(), 1, "memory matches disk after a failed save");
}

#[test]
fn a_corrupt_file_is_an_error_naming_path_and_line_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connections.json");
    std::fs::write(&path, "{\n  \"version\": 1,\n  \"profiles\": [ oops ]\n}\n").unwrap();
    let e = ProfileStore::open(dir.path(), Arc::new(MemorySecrets::default())).unwrap_err();
    assert!(e.message.contains(&path.display().to_string()) && e.message.contains("line 3"), "{}", e.message);
    assert!(dir.path().join("connections.json.bak").is_file(), "a backup copy is kept");
    assert!(std::fs::read_to_string(&path).unwrap().contains("oops"), "the corrupt file is not overwritten");
    std::fs::write(&path, r#"{"version": 7, "profiles": []}"#).unwrap();
    let e = ProfileStore::open(dir.path(), Arc::new(MemorySecrets::default())).unwrap_err();
    assert!(e.message.contains("newer") && e.message.contains('7'), "a future version is refused: {}", e.message);
}

#[test]
fn private_keys_go_to_the_secret_store_never_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let alice = TestPki::new().client_cert("alice");
    let paths = alice.write_to(dir.path(), "alice").unwrap();
    let (mut store, secrets) = open(&dir.path().join("cfg"));
    let mut d = draft("mTLS");
    d.client_cert = Some(ClientCertDraft::Files {
        cert_file: paths.cert.display().to_string(),
        key_file: Some(paths.key.display().to_string()),
    });
    let saved = store.save(&d).unwrap();
    assert!(matches!(saved.client_cert, Some(ClientCert::Files { has_key: true, .. })));
    let text = std::fs::read_to_string(dir.path().join("cfg/connections.json")).unwrap();
    assert!(!text.contains("PRIVATE KEY"), "no key material in connections.json:\n{text}");
    assert_eq!(
        secrets.get(&saved.id).unwrap().as_deref(),
        Some(alice.key_pem.as_str()),
        "the key is in the secret store"
    );
    // Editing without choosing the key again keeps the stored key.
    d.id = Some(saved.id.clone());
    d.client_cert = Some(ClientCertDraft::Files { cert_file: paths.cert.display().to_string(), key_file: None });
    store.save(&d).expect("the stored key satisfies the form");
    let copy = store.duplicate(&saved.id).unwrap();
    assert_eq!(secrets.get(&copy.id).unwrap().as_deref(), Some(alice.key_pem.as_str()), "a duplicate gets the key too");
    store.delete(&saved.id).unwrap();
    assert_eq!(secrets.get(&saved.id).unwrap(), None, "delete removes the key");
}

#[test]
fn duplicate_renames_and_clears_the_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let mut d = draft("SSH");
    d.listen_addr = Some(":2222".into());
    d.tags = vec![" prod ".into(), "prod".into(), "eu  west".into()];
    let saved = store.save(&d).unwrap();
    assert_eq!(saved.tags, vec!["prod", "eu west"], "tags are trimmed, collapsed and de-duplicated");
    let copy = store.duplicate(&saved.id).unwrap();
    assert_eq!(copy.name, "SSH (copy)");
    assert_eq!(copy.listen_addr, None, "two profiles must not fight over one port");
    assert_ne!(copy.id, saved.id);
    assert_eq!(store.duplicate("nope").unwrap_err().code, ErrorCode::NotFound);
}

#[test]
fn validation_reports_every_field_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let not_pem = dir.path().join("plain.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let bad = ProfileDraft {
        id: None,
        name: "  ".into(),
        destination: "tcp+https://proxy.example.com/".into(),
        listen_addr: Some("nope".into()),
        pomerium_url: Some("proxy without scheme".into()),
        protocol: Default::default(),
        tags: vec![],
        ca_file: Some("/does/not/exist.pem".into()),
        disable_tls_verification: false,
        client_cert: Some(ClientCertDraft::Files { cert_file: not_pem.display().to_string(), key_file: None }),
        autostart: false,
        open_with: Some("ssh -p {port} {user}@{host}".into()),
    };
    let fields: Vec<String> = store.validate(&bad).into_iter().map(|f| f.field).collect();
    for f in [
        "name",
        "destination",
        "listenAddr",
        "pomeriumUrl",
        "caFile",
        "clientCert.certFile",
        "clientCert.keyFile",
        "openWith",
    ] {
        assert!(fields.contains(&f.to_owned()), "{f} must be reported: {fields:?}");
    }
    let e = store.save(&bad).unwrap_err();
    assert_eq!(e.code, ErrorCode::Invalid);
    assert_eq!(e.fields.len(), fields.len(), "save returns the same list");
    let dest = store.validate(&bad).into_iter().find(|f| f.field == "destination").unwrap();
    assert!(
        dest.message.contains("no destination after the proxy"),
        "the CLI grammar's own sentence: {}",
        dest.message
    );
    let mut good = draft("ok");
    good.listen_addr = Some(":6379".into());
    good.open_with = Some("redis-cli -h {host} -p {port}".into());
    assert!(store.validate(&good).is_empty(), "{:?}", store.validate(&good));
    assert!(store.list().is_empty(), "nothing invalid was saved");
}
