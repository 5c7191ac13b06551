//! The bodies of Porthole's fuzz targets, one function per target in `fuzz_targets/`.
//!
//! Each takes the raw input, feeds it to the parser a hostile peer (or a shared file) reaches,
//! and asserts what must hold whatever the input: no panic, and every CONNECT request we would
//! put on the wire from parsed data is exactly one well-formed head (no header injection).
//!
//! This file depends only on the workspace's crates, `http`, `httparse`, `serde_json`,
//! `tempfile` and `tokio`, so the stable test `tests/tests/fuzz_corpus.rs` compiles it too
//! (`#[path]`) and replays every committed corpus file in `make test`, without nightly or
//! libFuzzer.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use porthole_client::import_export;
use porthole_client::profiles::ProfileStore;
use porthole_client::secrets::MemorySecrets;
use porthole_gateway::policy::{Identity, Policy};
use porthole_gateway::token::TokenKeys;
use porthole_tunnel::connect::{request_bytes, response};

/// The secret callback path the `login_callback` target checks against.
pub const CALLBACK_PATH: &str = "/callback/0123456789abcdef0123456789abcdef";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a tokio runtime"))
}

fn empty_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory")).path()
}

/// Panics unless `bytes` is exactly one CONNECT request head with `headers` header lines.
fn assert_one_request(bytes: &[u8], headers: usize) {
    let mut parsed = [httparse::EMPTY_HEADER; 8];
    let mut req = httparse::Request::new(&mut parsed);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => {
            assert_eq!(len, bytes.len(), "one request head and nothing after it: {:?}", String::from_utf8_lossy(bytes));
            assert_eq!(req.method, Some("CONNECT"));
            assert_eq!(req.headers.len(), headers, "no injected header: {:?}", String::from_utf8_lossy(bytes));
        }
        other => panic!("the CONNECT request is not a valid head ({other:?}): {:?}", String::from_utf8_lossy(bytes)),
    }
}

/// `connect_response`: the proxy's answer to CONNECT as the client reads it (head, then the
/// refusal body for the message).
pub fn connect_response(data: &[u8]) {
    runtime().block_on(async {
        let mut io = data;
        if let Ok(head) = porthole_io::connect::read_answer(&mut io).await {
            let consumed = &data[..data.len() - io.len()];
            assert!(consumed.ends_with(&head.rest), "the bytes read past the head are the ones after it");
            assert!(consumed.len() - head.rest.len() <= porthole_io::connect::MAX_HEAD, "the head is at most MAX_HEAD");
            let _ = response::refusal_message(&mut io, head).await;
        }
    });
}

fn keys() -> &'static TokenKeys {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        TokenKeys::new(None, "https://gateway.example.com".into(), Duration::from_secs(3600))
            .expect("a generated key")
            .0
    })
}

/// `gateway_head`: the input as a request head the gateway gets (the session token headers,
/// the token's verification, the CONNECT authority), and as an upstream proxy's answer.
pub fn gateway_head(data: &[u8]) {
    let mut parsed = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut parsed);
    if let Ok(httparse::Status::Complete(_)) = req.parse(data) {
        let mut headers = http::HeaderMap::new();
        for h in req.headers.iter() {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(h.name.as_bytes()), http::HeaderValue::from_bytes(h.value))
            {
                headers.append(name, value);
            }
        }
        if let Some(token) = porthole_gateway::connect::session_token(&headers) {
            assert!(keys().verify(token).is_err(), "no input forges a token signed by a key generated at start");
        }
        if let Some(target) = req.path {
            let _ = porthole_gateway::route::split_authority(target);
        }
    }
    if let Ok(Some(head)) = porthole_io::head::parse_response_head(data, porthole_io::connect::MAX_HEAD) {
        assert!(data.ends_with(&head.rest), "the bytes past the head are the input's last ones");
    }
}

/// `target`: `destination\npomerium_url` as `porthole tcp` parses them; the CONNECT request
/// built from the result must be one well-formed head.
pub fn target(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (destination, url) = match text.split_once('\n') {
        Some((d, u)) => (d, Some(u)),
        None => (text, None),
    };
    if let Ok(t) = porthole_tunnel::target::parse(destination, url) {
        let _ = (t.proxy.host_port(), t.proxy.login_base(), t.proxy.origin());
        assert_one_request(&request_bytes(&t.destination, None), 2);
    }
}

/// `gateway_config`: a whole `porthole-gateway` YAML config (relative files resolve in an
/// empty directory).
pub fn gateway_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = porthole_gateway::config::parse_str(text, empty_dir());
}

fn identity() -> Identity {
    let claims = serde_json::json!({"sub": "u1", "email": "alice@example.com", "email_verified": true, "groups": ["admins", "dev"], "user": "u1"});
    Identity {
        user: "u1".into(),
        email: Some("alice@example.com".into()),
        claims: claims.as_object().cloned().unwrap_or_default(),
    }
}

/// `policy`: a PPL policy in YAML, parsed and evaluated for nobody and for a fixed user.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = Policy::parse_yaml_str(text) {
        let _ = policy.evaluate(None);
        let _ = policy.evaluate(Some(&identity()));
        let _ = policy.needs_session();
    }
}

/// `desktop_import`: a Pomerium Desktop export imported into an empty profile store; what is
/// saved loads again unchanged, and each imported destination either fails to parse or makes
/// a well-formed CONNECT request.
pub fn desktop_import(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(dir) = tempfile::tempdir() else { return };
    let secrets = Arc::new(MemorySecrets::default());
    let Ok(mut store) = ProfileStore::open(dir.path(), secrets.clone()) else { return };
    if import_export::import(&mut store, text).is_err() {
        return;
    }
    let again = ProfileStore::open(dir.path(), secrets).expect("what import saved loads again");
    assert_eq!(again.list(), store.list(), "the saved profiles load back unchanged");
    for p in store.list() {
        if let Ok(t) = porthole_tunnel::target::parse(&p.destination, p.pomerium_url.as_deref()) {
            assert_one_request(&request_bytes(&t.destination, None), 2);
        }
    }
    let _ = import_export::export(&store, None, true, true, true);
}

/// `login_callback`: one request head at the login callback; a token it yields must make a
/// well-formed CONNECT request.
pub fn login_callback(data: &[u8]) {
    if let Some(callback) = porthole_tunnel::auth::callback::parse_callback(data, CALLBACK_PATH)
        && let Some(token) = callback.token
    {
        assert_one_request(&request_bytes("db.example.com:5432", Some(token.expose())), 3);
    }
}
