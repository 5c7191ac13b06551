//! One login per proxy survives the connection that started it: `App` against the real
//! `porthole-gateway` (with its identity provider). Two connections to the same proxy wait
//! for one login; disconnecting the one that started it leaves the login running, so its URL
//! (the browser tab the person is looking at) still completes it, and the other connection
//! goes through without a second login.

use std::net::SocketAddr;
use std::time::Duration;

use porthole_client::model::{ConnectionStatus, ProfileDraft};
use porthole_client::{App, AppOptions};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::poll_until;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn addr_of(status: &ConnectionStatus) -> SocketAddr {
    match status {
        ConnectionStatus::Listening { addr } | ConnectionStatus::LoginRequired { addr, .. } => addr.parse().unwrap(),
        other => panic!("not listening: {other:?}"),
    }
}

fn http_success(status: &reqwest::StatusCode) -> bool {
    status.is_success()
}

/// The login URL connection `id` waits on, once it waits on one.
async fn login_url(app: &App, id: &str, stack: &TestGateway) -> String {
    poll_until("the connection waits for a login", Duration::from_secs(20), || {
        let status = app.status(id);
        async move {
            match status {
                ConnectionStatus::LoginRequired { url, .. } => Ok(url),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}\nlog: {:#?}\ngateway: {}", app.logs(id), stack.log()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_the_connection_that_started_a_login_keeps_it_for_the_others() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://db.example.com:5432\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app =
        App::open(AppOptions { login_timeout: Duration::from_secs(60), ..AppOptions::isolated(dir.path()) }).unwrap();
    let draft = |name: &str| ProfileDraft {
        name: name.into(),
        destination: format!("{}/db.example.com:5432", stack.url()),
        ca_file: Some(stack.ca_path.display().to_string()),
        ..ProfileDraft::default()
    };
    let first = app.save_connection(&draft("First")).unwrap();
    let second = app.save_connection(&draft("Second")).unwrap();
    let first_addr = addr_of(&app.connect(&first.id).await.unwrap());
    let second_addr = addr_of(&app.connect(&second.id).await.unwrap());

    // A client of First starts the login; a client of Second waits for the same one.
    let mut first_client = TcpStream::connect(first_addr).await.unwrap();
    first_client.write_all(b"hello").await.unwrap();
    let url = login_url(&app, &first.id, &stack).await;
    let mut second_client = TcpStream::connect(second_addr).await.unwrap();
    second_client.write_all(b"hello").await.unwrap();
    // Second's CONNECT is refused too; it then waits for First's login (its row says
    // "connecting…": only the connection that runs a login carries its URL).
    poll_until("Second is refused and waits", Duration::from_secs(20), || {
        let refused = stack.log().matches("tunnel refused").count();
        async move { if refused == 2 { Ok(()) } else { Err(format!("{refused} refused")) } }
    })
    .await
    .unwrap();

    // First is disconnected while the person is still on the login page.
    app.disconnect(&first.id).await.unwrap();

    // The page completes: the IdP sends the browser back to the callback of that login.
    let callback = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "pomerium_redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("the login URL names its callback");
    let mut back = reqwest::Url::parse(&callback).unwrap();
    back.query_pairs_mut().append_pair("pomerium_jwt", &stack.mint_user("alice"));
    // (Only the status or the error's kind is printed: the URL carries the token.)
    let delivered = reqwest::get(back.as_str()).await.map(|r| r.status()).map_err(reqwest::Error::without_url);
    assert!(
        delivered.as_ref().is_ok_and(http_success),
        "the first login's callback still takes the token: {delivered:?}"
    );

    // Second goes through with that login, and no other login was started.
    let mut buf = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), second_client.read_exact(&mut buf))
        .await
        .expect("Second's client gets through")
        .unwrap();
    assert_eq!(&buf, b"hello");
    assert!(!matches!(app.status(&second.id), ConnectionStatus::LoginRequired { .. }), "{:?}", app.status(&second.id));
}
