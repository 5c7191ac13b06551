//! The TypeScript bindings in `ui/src/bindings/` are generated from the Rust types: this test
//! regenerates them and fails when the committed files differ, or when the directory holds a
//! file generation would not write (run with `UPDATE_BINDINGS=1` to rewrite them and delete
//! those).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use porthole_client::error::{AppError, ErrorCode};
use porthole_client::model::*;
use porthole_client::portal::{PortalPreview, PortalReport, PortalSource};
use ts_rs::TS;

fn generate(dir: &Path) {
    ConnectionView::export_all_to(dir).unwrap();
    ProfileDraft::export_all_to(dir).unwrap();
    Session::export_all_to(dir).unwrap();
    LogEvent::export_all_to(dir).unwrap();
    StatusEvent::export_all_to(dir).unwrap();
    Settings::export_all_to(dir).unwrap();
    ImportReport::export_all_to(dir).unwrap();
    AppError::export_all_to(dir).unwrap();
    ErrorCode::export_all_to(dir).unwrap();
    PortalSource::export_all_to(dir).unwrap();
    PortalPreview::export_all_to(dir).unwrap();
    PortalReport::export_all_to(dir).unwrap();
    porthole_client::app::DraftCheck::export_all_to(dir).unwrap();
    porthole_client::identity::SignedIn::export_all_to(dir).unwrap();
    porthole_client::status::MenuModel::export_all_to(dir).unwrap();
}

/// Every file in `dir` (whatever its extension, so a stray file is seen too), by name.
fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_else(|err| format!("<unreadable: {err}>"));
                    (e.file_name().to_string_lossy().into_owned(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn committed_bindings_match_the_rust_types() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings");
    let fresh = tempfile::tempdir().unwrap();
    generate(fresh.path());
    let generated = files(fresh.path());
    assert!(
        generated.contains_key("ConnectionStatus.ts") && generated.contains_key("AppError.ts"),
        "{:?}",
        generated.keys()
    );
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(&committed_dir).unwrap();
        for name in files(&committed_dir).keys().filter(|n| !generated.contains_key(*n)) {
            std::fs::remove_file(committed_dir.join(name)).unwrap();
        }
        for (name, text) in &generated {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
    }
    let committed = files(&committed_dir);
    for (name, text) in &generated {
        assert_eq!(
            committed.get(name),
            Some(text),
            "ui/src/bindings/{name} is stale: run `UPDATE_BINDINGS=1 cargo test -p porthole-client --test bindings`"
        );
    }
    let extra: Vec<&String> = committed.keys().filter(|n| !generated.contains_key(*n)).collect();
    assert!(
        extra.is_empty(),
        "ui/src/bindings/ has files no Rust type generates: {extra:?}; delete them (or run \
         `UPDATE_BINDINGS=1 cargo test -p porthole-client --test bindings`)"
    );
}

#[test]
fn tagged_unions_serialize_as_the_contract_says() {
    let s =
        serde_json::to_value(ConnectionStatus::LoginRequired { addr: "127.0.0.1:1".into(), url: "https://x".into() })
            .unwrap();
    assert_eq!(s, serde_json::json!({"state": "loginRequired", "addr": "127.0.0.1:1", "url": "https://x"}));
    let c = serde_json::to_value(ClientCert::Files { cert_file: "/c.pem".into(), has_key: true }).unwrap();
    assert_eq!(c, serde_json::json!({"kind": "files", "certFile": "/c.pem", "hasKey": true}));
    let d: ClientCertDraft =
        serde_json::from_value(serde_json::json!({"kind": "files", "certFile": "/c", "keyFile": null})).unwrap();
    assert_eq!(d, ClientCertDraft::Files { cert_file: "/c".into(), key_file: None });
    let e = serde_json::to_value(AppError::new(ErrorCode::PortInUse, "taken")).unwrap();
    assert_eq!(e, serde_json::json!({"code": "port_in_use", "message": "taken", "fields": []}));
}
