//! The gateway keeps no session state: a login started on one replica finishes on another that
//! shares the config (and so the `signing_key`), and the token works on either. Here the
//! replica that served the sign-in is stopped before the identity provider sends the browser
//! back, and a fresh process-state replica on the same address finishes the login.

mod support;

use std::time::Duration;

use porthole_gateway::Gateway;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::idp::{ALICE, PASSWORD};
use porthole_testkit::login::{LoginClient, jwt_from_redirect};
use support::{Opts, Stack};

#[tokio::test]
async fn a_login_started_on_one_replica_finishes_on_another() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://echo.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let mut stack = Stack::start(Opts { routes: &routes, idp: true, ..Default::default() }).await;
    let client = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();
    let url = client.fetch_login_url(&stack.base_url(), "http://127.0.0.1:5555/callback/x").await.unwrap();

    // Replica A: sign-in (sets the sealed login cookie) → IdP → stop at the way back.
    let callback = client
        .walk(&url, ALICE.email, PASSWORD, &|u: &url::Url| u.path() == "/oauth2/callback")
        .await
        .expect("the walk reaches the gateway's callback");
    let a = stack.gateway.take().expect("replica A");
    a.shutdown(Duration::from_secs(2)).await;

    // Replica B: same config, new process state, same address.
    let loaded = porthole_gateway::config::parse_str(&stack.yaml, stack.dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind(stack.addr).await.expect("the address is free again");
    stack.gateway = Some(Gateway::new(loaded.config).unwrap().serve(listener).unwrap());

    let resp = client.http().get(callback.clone()).send().await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        302,
        "replica B finishes a login replica A started: {}",
        resp.text().await.unwrap_or_default()
    );
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location.as_str().starts_with("http://127.0.0.1:5555/callback/x?"),
        "back to the client's loopback path: {location}"
    );
    let token = jwt_from_redirect(&location).expect("pomerium_jwt");

    let r = stack.connect("echo.example.com:7000", &[("Authorization", &format!("Pomerium {token}"))], None).await;
    assert_eq!(r.status, 200, "the token works on the replica that did not start the login: {}", r.head);

    // Replaying the callback does not mint a second token: the 302 cleared the login cookie,
    // and the identity provider will not exchange a used code twice.
    let replay = client.http().get(callback).send().await.unwrap();
    assert_ne!(replay.status().as_u16(), 302, "a used callback does not mint a second token");
}
