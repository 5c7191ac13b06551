//! Pomerium Desktop's import/export format: the docs/protocol.md §6.4 example imports with every
//! field, re-imports de-duplicate, exports strip ids and keep keys out unless asked.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use porthole_client::import_export::{export, import};
use porthole_client::model::{ClientCert, ImportReport, Protocol};
use porthole_client::{MemorySecrets, ProfileStore, SecretStore};
use porthole_testkit::certs::TestPki;

/// docs/protocol.md §6.4's example, with real PEM in place of the placeholders.
fn fixture(cert_pem: &str, key_pem: &str) -> String {
    format!(
        r#"{{
  "@type": "type.googleapis.com/pomerium.cli.Records",
  "records": [
    {{
      "tags": ["prod"],
      "conn": {{
        "name": "Redis",
        "protocol": "TCP",
        "remoteAddr": "redis.example.com:6379",
        "listenAddr": "127.0.0.1:6379",
        "pomeriumUrl": "https://proxy.example.com",
        "disableTlsVerification": false,
        "clientCert": {{"cert": "{}", "key": "{}", "info": {{"version": "3", "serial": "123", "issuer": {{"commonName": "CA"}}}}}},
        "clientCertFromStore": {{"issuerFilter": "CN=Corp CA", "subjectFilter": "O=Corp"}},
        "autostart": true
      }},
      "source": "portal-route-abc"
    }}
  ]
}}"#,
        STANDARD.encode(cert_pem),
        STANDARD.encode(key_pem)
    )
}

fn open(dir: &std::path::Path) -> (ProfileStore, Arc<MemorySecrets>) {
    let secrets = Arc::new(MemorySecrets::default());
    (ProfileStore::open(dir, secrets.clone()).unwrap(), secrets)
}

#[test]
fn the_protocol_example_imports_and_reimports_without_copies() {
    let dir = tempfile::tempdir().unwrap();
    let alice = TestPki::new().client_cert("alice");
    let (mut store, secrets) = open(dir.path());
    let json = fixture(&alice.cert_pem, &alice.key_pem);
    assert_eq!(import(&mut store, &json).unwrap(), ImportReport { added: 1, updated: 0, unchanged: 0 });
    let p = store.list()[0].clone();
    assert_eq!((p.name.as_str(), p.destination.as_str()), ("Redis", "redis.example.com:6379"));
    assert_eq!(p.listen_addr.as_deref(), Some("127.0.0.1:6379"));
    assert_eq!(p.pomerium_url.as_deref(), Some("https://proxy.example.com"));
    assert_eq!((p.protocol, p.autostart, p.tags.clone()), (Protocol::Tcp, true, vec!["prod".to_owned()]));
    assert_eq!(p.source.as_deref(), Some("portal-route-abc"));
    let Some(ClientCert::Files { cert_file, has_key: true }) = &p.client_cert else { panic!("{:?}", p.client_cert) };
    assert_eq!(
        std::fs::read_to_string(cert_file).unwrap(),
        alice.cert_pem,
        "the cert is a file beside connections.json"
    );
    assert_eq!(secrets.get(&p.id).unwrap().as_deref(), Some(alice.key_pem.as_str()), "the key is in the keychain");
    let file = std::fs::read_to_string(dir.path().join("connections.json")).unwrap();
    assert!(!file.contains("PRIVATE KEY"), "never in connections.json");

    assert_eq!(
        import(&mut store, &json).unwrap(),
        ImportReport { added: 0, updated: 0, unchanged: 1 },
        "identical → unchanged"
    );
    let changed = json.replace("\"autostart\": true", "\"autostart\": false");
    assert_eq!(
        import(&mut store, &changed).unwrap(),
        ImportReport { added: 0, updated: 1, unchanged: 0 },
        "same key → update"
    );
    assert_eq!(store.list().len(), 1, "no copies");
    assert!(!store.list()[0].autostart);
    assert_eq!(store.list()[0].id, p.id, "the profile keeps its id");
}

#[test]
fn snake_case_numbers_unknown_fields_and_ca_certs_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let ca = TestPki::new().ca_pem().to_owned();
    let json = format!(
        r#"{{"records":[{{"conn":{{"name":"SSH","protocol":2,"remote_addr":"tcp+https://proxy.example.com/ssh:22",
        "caCert":"{}","futureField":{{"x":1}}}},"somethingNew":true}}]}}"#,
        STANDARD.encode(&ca)
    );
    assert_eq!(import(&mut store, &json).unwrap().added, 1);
    let p = &store.list()[0];
    assert_eq!((p.destination.as_str(), p.protocol), ("tcp+https://proxy.example.com/ssh:22", Protocol::Udp));
    let ca_file = p.ca_file.clone().expect("caCert becomes a file");
    assert_eq!(std::fs::read_to_string(&ca_file).unwrap(), ca);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&ca_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let e = import(&mut store, "{\"records\": 3}").unwrap_err();
    assert_eq!(e.code, porthole_client::ErrorCode::Import, "{e:?}");
}

#[test]
fn export_strips_ids_and_keys_unless_asked_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let alice = TestPki::new().client_cert("alice");
    let (mut store, _) = open(dir.path());
    import(&mut store, &fixture(&alice.cert_pem, &alice.key_pem)).unwrap();
    let id = store.list()[0].id.clone();

    let plain = export(&store, None, true, false, true).unwrap();
    assert!(plain.contains("\n  \"records\""), "pretty, two-space indent:\n{plain}");
    let v: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(v["@type"], "type.googleapis.com/pomerium.cli.Records");
    let rec = &v["records"][0];
    assert!(rec.get("id").is_none() && !plain.contains(&id), "ids are not exported");
    assert_eq!(rec["tags"][0], "prod");
    assert_eq!(rec["conn"]["remoteAddr"], "redis.example.com:6379");
    assert_eq!(rec["conn"]["protocol"], "TCP");
    assert!(rec["conn"]["clientCert"].get("key").is_none(), "no private key by default");
    assert_eq!(
        STANDARD.decode(rec["conn"]["clientCert"]["cert"].as_str().unwrap()).unwrap(),
        alice.cert_pem.as_bytes()
    );

    let with_keys = export(&store, Some(std::slice::from_ref(&id)), false, true, true).unwrap();
    let v: serde_json::Value = serde_json::from_str(&with_keys).unwrap();
    let key = STANDARD.decode(v["records"][0]["conn"]["clientCert"]["key"].as_str().unwrap()).unwrap();
    assert_eq!(key, alice.key_pem.as_bytes(), "the key when asked");
    assert_eq!(v["records"][0]["tags"], serde_json::json!([]), "tags dropped when not included");

    let other = tempfile::tempdir().unwrap();
    let (mut fresh, secrets) = open(other.path());
    assert_eq!(import(&mut fresh, &with_keys).unwrap().added, 1);
    let p = &fresh.list()[0];
    assert_eq!(secrets.get(&p.id).unwrap().as_deref(), Some(alice.key_pem.as_str()), "round trip keeps the key");
    assert_eq!(import(&mut fresh, &with_keys).unwrap().unchanged, 1, "re-importing an export changes nothing");
    assert_eq!(
        export(&store, Some(&["nope".to_owned()]), true, false, true).unwrap_err().code,
        porthole_client::ErrorCode::NotFound
    );
}

#[test]
fn import_errors_are_sentences_that_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let msg = |json: &str| {
        let mut store = ProfileStore::open(dir.path(), Arc::new(MemorySecrets::default())).unwrap();
        let e = import(&mut store, json).unwrap_err();
        assert_eq!(e.code, porthole_client::ErrorCode::Import, "{e:?}");
        e.message
    };
    for empty in [r#"{"records": []}"#, "{}", r#"{"@type": "type.googleapis.com/pomerium.cli.Records"}"#] {
        assert_eq!(
            msg(empty),
            "The file contains no connections: its \"records\" list is missing or empty.",
            "{empty}"
        );
    }
    assert_eq!(
        msg("{\n  \"records\": [\n    {\"conn\": }\n  ]\n}"),
        "The file is not valid JSON: there is a mistake at line 3, column 14."
    );
    assert_eq!(
        msg("{\"records\": [{\"conn\""),
        "The file ends too early, at line 1, column 20: it is cut off or empty."
    );
    let wrong = msg(r#"{"records": 3}"#);
    assert!(
        wrong.starts_with("The file is JSON but not a Pomerium Desktop export: the value at line 1, column 13"),
        "{wrong}"
    );
    assert!(!wrong.contains("invalid type"), "no parser jargon: {wrong}");
    let other = msg(r#"{"@type": "type.googleapis.com/pomerium.cli.Settings", "records": []}"#);
    assert!(
        other.contains("\"type.googleapis.com/pomerium.cli.Settings\"") && other.contains("cannot import"),
        "{other}"
    );
    let newer = msg(r#"{"records": [{"conn": {"remoteAddr": "a:1"}, "porthole": {"version": 7}}]}"#);
    assert!(newer.contains("extension version 7") && newer.starts_with("Connection 1 "), "{newer}");
    assert!(store.list().is_empty(), "nothing was saved by a refused file");
    assert_eq!(import(&mut store, "{\"records\": [{\"conn\": {\"remoteAddr\": \"a:1\"}}]}").unwrap().added, 1);
}

#[test]
fn export_keeps_porthole_only_fields_and_import_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = open(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, TestPki::new().ca_pem()).unwrap();
    let draft = |name: &str, open_with: Option<&str>, ca: Option<&std::path::Path>, off: bool| {
        serde_json::from_value::<porthole_client::model::ProfileDraft>(serde_json::json!({
            "id": null, "name": name, "destination": "redis.example.com:6379", "listenAddr": "127.0.0.1:7001",
            "pomeriumUrl": "https://proxy.example.com", "protocol": "tcp", "tags": ["prod", "cache"],
            "caFile": ca.map(|p| p.display().to_string()), "disableTlsVerification": off,
            "clientCert": {"kind": "store", "issuer": "CN=Corp CA", "subject": null},
            "autostart": true, "openWith": open_with
        }))
        .unwrap()
    };
    store.save(&draft("Redis", Some("redis-cli -h {host} -p {port}"), Some(&ca), true)).unwrap();
    store.save(&draft("Plain", None, None, false)).unwrap();
    let for_pomerium = export(&store, None, true, false, false).unwrap();
    assert!(!for_pomerium.contains("\"porthole\""), "unasked, no key Pomerium's strict import would refuse");
    let json = export(&store, None, true, false, true).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let by_name = |n: &str| v["records"].as_array().unwrap().iter().find(|r| r["conn"]["name"] == n).unwrap().clone();
    assert_eq!(
        by_name("Redis")["porthole"],
        serde_json::json!({"version": 1, "openWith": "redis-cli -h {host} -p {port}", "disableTlsVerification": true}),
        "{json}"
    );
    assert!(by_name("Plain").get("porthole").is_none(), "nothing Porthole-only: a plain Pomerium record\n{json}");

    let other = tempfile::tempdir().unwrap();
    let (mut fresh, _) = open(other.path());
    assert_eq!(import(&mut fresh, &json).unwrap().added, 2);
    for before in store.list() {
        let after = fresh.list().iter().find(|p| p.name == before.name).unwrap();
        let strip = |p: &porthole_client::model::Profile| {
            let mut p = p.clone();
            p.id.clear();
            p.ca_file = p.ca_file.map(|f| std::fs::read_to_string(f).unwrap());
            p
        };
        assert_eq!(strip(after), strip(before), "every field survives export → import");
    }
}
