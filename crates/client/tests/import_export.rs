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

    let plain = export(&store, None, true, false).unwrap();
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

    let with_keys = export(&store, Some(std::slice::from_ref(&id)), false, true).unwrap();
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
        export(&store, Some(&["nope".to_owned()]), true, false).unwrap_err().code,
        porthole_client::ErrorCode::NotFound
    );
}
