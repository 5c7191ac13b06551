//! The desktop's commands through Tauri's mock runtime: the same IPC path the UI takes
//! (command name, camelCase arguments, JSON result or `{code, message, fields}` error), over a
//! real [`App`] in a temporary config dir.

use std::time::Duration;

use porthole_testkit::eventually::poll_until_blocking;
use serde_json::{Value, json};
use tauri::WebviewWindow;
use tauri::test::MockRuntime;

mod support;
use support::{invoke, mock_app};

fn app(dir: &std::path::Path) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    mock_app(dir, |b| b)
}

fn draft(name: &str, destination: &str) -> Value {
    json!({
        "id": null, "name": name, "destination": destination, "listenAddr": null,
        "pomeriumUrl": null, "protocol": "tcp", "tags": ["prod"], "caFile": null,
        "disableTlsVerification": false, "clientCert": null, "autostart": false, "openWith": "redis-cli -p {port}"
    })
}

#[test]
fn save_list_duplicate_delete_through_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = app(dir.path());
    assert_eq!(invoke(&w, "list_connections", json!({})).unwrap(), json!([]), "a fresh app has no connections");

    let err = invoke(&w, "save_connection", json!({ "draft": draft("", "not a destination") })).unwrap_err();
    assert_eq!(err["code"], "invalid", "bad input is an `invalid` error: {err}");
    let fields: Vec<&str> = err["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name") && fields.contains(&"destination"), "every bad field at once: {fields:?}");

    let saved =
        invoke(&w, "save_connection", json!({ "draft": draft("Redis prod", "redis.corp.example.com:6379") })).unwrap();
    let id = saved["id"].as_str().unwrap().to_owned();
    assert_eq!(saved["name"], "Redis prod");
    let list = invoke(&w, "list_connections", json!({})).unwrap();
    assert_eq!(list[0]["profile"]["id"], id.as_str());
    assert_eq!(list[0]["status"], json!({ "state": "idle" }), "saved connections start idle");

    let copy = invoke(&w, "duplicate_connection", json!({ "id": id })).unwrap();
    assert_eq!(copy["name"], "Redis prod (copy)");
    invoke(&w, "delete_connection", json!({ "id": copy["id"] })).unwrap();
    assert_eq!(invoke(&w, "list_connections", json!({})).unwrap().as_array().unwrap().len(), 1);

    let missing = invoke(&w, "delete_connection", json!({ "id": "nope" })).unwrap_err();
    assert_eq!(missing["code"], "not_found", "{missing}");
}

#[test]
fn connect_disconnect_and_export_import_through_ipc() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, w) = app(dir.path());
    let saved = invoke(
        &w,
        "save_connection",
        json!({ "draft": draft("Echo", "tcp+https://127.0.0.1:9/echo.corp.example.com:7") }),
    )
    .unwrap();
    let id = saved["id"].as_str().unwrap().to_owned();

    let status = invoke(&w, "connect", json!({ "id": id })).unwrap();
    assert_eq!(status["state"], "listening", "{status}");
    let addr: std::net::SocketAddr = status["addr"].as_str().unwrap().parse().unwrap();
    assert!(addr.ip().is_loopback(), "a blank local address means a random loopback port");
    assert_eq!(invoke(&w, "sessions", json!({ "id": id })).unwrap(), json!([]), "no sessions yet");
    assert!(std::net::TcpStream::connect(addr).is_ok(), "the port really listens");
    invoke(&w, "disconnect", json!({ "id": id })).unwrap();
    poll_until_blocking("close the port on disconnect", Duration::from_secs(5), || {
        Ok(std::net::TcpStream::connect(addr).is_err().then_some(()))
    })
    .unwrap();
    // The log is written by the tunnel's event task: poll for it.
    let mut logs = Value::Null;
    let said = poll_until_blocking("log where it listened", Duration::from_secs(5), || {
        logs = invoke(&w, "logs", json!({ "id": id })).unwrap();
        Ok(logs
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("listening on"))
            .then_some(()))
    });
    assert!(said.is_ok(), "the log says where it listened: {logs}");

    let exported =
        invoke(&w, "export_connections", json!({ "ids": null, "includeTags": true, "includePrivateKeys": false }))
            .unwrap();
    let text = exported.as_str().unwrap();
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed["@type"], "type.googleapis.com/pomerium.cli.Records", "Pomerium Desktop's format");
    let report = invoke(&w, "import_connections", json!({ "json": text })).unwrap();
    assert_eq!(report, json!({ "added": 0, "updated": 0, "unchanged": 1 }), "re-importing an export adds nothing");

    let settings = invoke(&w, "get_settings", json!({})).unwrap();
    let mut changed = settings.clone();
    changed["theme"] = json!("dark");
    assert_eq!(invoke(&w, "set_settings", json!({ "settings": changed })).unwrap()["theme"], "dark");
    assert_eq!(invoke(&w, "get_settings", json!({})).unwrap()["theme"], "dark", "settings persist");
}
