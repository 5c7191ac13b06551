//! A saved connection whose live session the proxy cuts, and which the proxy (asked once) no
//! longer lets in, reads as `revoked` with the sentence, not green `listening`: `App` against
//! the real `porthole-gateway` in-process, stopped and started again on the same port with
//! alice removed from the route's policy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use porthole_client::model::{ConnectionStatus, LogLevel, ProfileDraft};
use porthole_client::tokens::{MemoryStore, Token, TokenStore as _};
use porthole_client::{App, AppOptions, ErrorCode, MemorySecrets};
use porthole_gateway::token::TokenKeys;
use porthole_gateway::{Gateway, Running};
use porthole_testkit::certs::TestPki;
use porthole_testkit::echo::EchoServer;
use porthole_tunnel::auth::Browser;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A gateway on `listener` whose route to `echo` allows `email` only, signing with `key_pem`.
fn serve(listener: TcpListener, dir: &std::path::Path, key_pem: &str, echo: &EchoServer, email: &str) -> Running {
    let yaml = format!(
        "address: 127.0.0.1:0\ncertificate_file: {dir}/server.crt\ncertificate_key_file: {dir}/server.key\n\
         signing_key: {key}\nidp_provider: oidc\nidp_provider_url: http://127.0.0.1:9\nidp_client_id: x\n\
         idp_client_secret: y\nroutes:\n\
         \x20 - from: tcp+https://db.example.com:5432\n    to: tcp://{echo}\n    policy:\n      - allow:\n\
         \x20         or:\n            - email:\n                is: {email}\n",
        dir = dir.display(),
        key = base64::engine::general_purpose::STANDARD.encode(key_pem),
        echo = echo.addr,
    );
    let loaded = porthole_gateway::config::parse_str(&yaml, dir).unwrap_or_else(|e| panic!("{e:?}\n{yaml}"));
    Gateway::new(loaded.config).expect("gateway builds").serve(listener).expect("serve")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_the_proxy_revokes_turns_the_status_to_revoked() {
    let (pki, echo) = (TestPki::new(), EchoServer::start().await);
    let dir = tempfile::tempdir().unwrap();
    pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server").unwrap();
    let ca_file = pki.write_ca_to(dir.path()).unwrap().display().to_string();
    let key_pem = pki.client_cert("token signer").key_pem;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let first = serve(listener, dir.path(), &key_pem, &echo, "alice@example.com");

    // Alice is logged in already: her token, signed with the gateway's key, is in the store.
    let origin = format!("https://127.0.0.1:{}", proxy.port());
    let (keys, _) = TokenKeys::new(Some(&key_pem), origin.clone(), Duration::from_secs(3600)).unwrap();
    let claims = serde_json::json!({"sub": "alice", "email": "alice@example.com"});
    let tokens = Arc::new(MemoryStore::default());
    tokens.store(&origin, &Token::new(keys.issue(claims.as_object().unwrap()).unwrap())).unwrap();
    let app = App::open(AppOptions {
        config_dir: dir.path().join("config"),
        cache_dir: dir.path().join("cache"),
        tokens,
        secrets: Arc::new(MemorySecrets::default()),
        browser: Browser::Print,
        login_timeout: Duration::from_secs(5),
        cert_store_dir: dir.path().join("certs"),
    })
    .expect("app opens");
    let draft = ProfileDraft {
        name: "DB".into(),
        destination: format!("https://127.0.0.1:{}/db.example.com:5432", proxy.port()),
        ca_file: Some(ca_file),
        ..ProfileDraft::default()
    };
    let profile = app.save_connection(&draft).unwrap();
    let ConnectionStatus::Listening { addr } = app.connect(&profile.id).await.expect("connects") else {
        panic!("listening first")
    };
    let local: SocketAddr = addr.parse().unwrap();
    let mut client = TcpStream::connect(local).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello", "the session works before the proxy changes its mind");

    // The proxy restarts on the same port without alice: her live session is cut.
    first.shutdown(Duration::from_secs(2)).await;
    let listener = TcpListener::bind(proxy).await.expect("the same port again");
    let _second = serve(listener, dir.path(), &key_pem, &echo, "bob@example.com");
    let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf)).await.expect("cut promptly");
    assert!(matches!(n, Ok(0) | Err(_)), "the proxy ended the session: {n:?}");
    drop(client);

    let want = ConnectionStatus::Revoked {
        addr,
        message: "access to db.example.com:5432 was revoked for alice@example.com (403)".into(),
        code: ErrorCode::Revoked,
    };
    let shown = porthole_testkit::eventually::eventually(Duration::from_secs(15), || {
        let ok = app.status(&profile.id) == want;
        async move { ok }
    });
    assert!(shown.await, "status after the cut: {:?}\nlog: {:?}", app.status(&profile.id), app.logs(&profile.id));
    let logs = app.logs(&profile.id);
    assert!(
        logs.iter()
            .any(|l| l.level == LogLevel::Error && l.message.ends_with("was revoked for alice@example.com (403)")),
        "the log says why: {logs:?}"
    );
}
