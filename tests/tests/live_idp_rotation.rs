//! The identity provider changes under a running `porthole-gateway` process: it rotates its
//! signing key (restarted with a new key on the same port and issuer), or it is down when the
//! gateway starts. Logins through the same gateway process must work again without a restart.

use std::time::Duration;

use base64::Engine as _;
use porthole_e2e::GatewayProcess;
use porthole_e2e::stack::Stack;
use porthole_testkit::certs::TestPki;
use porthole_testkit::connect::{connect_on, tls_connect};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::idp::{self, ALICE, BOB, Idp, PASSWORD};
use porthole_testkit::login::LoginClient;
use porthole_testkit::process::free_port;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn echo_route(echo: &EchoServer) -> String {
    format!(
        "  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - claim/groups: dev\n",
        echo.addr
    )
}

/// Logs `email` in through the gateway at `base` with a fresh cookie jar.
async fn login(ca_pem: &str, base: &str, email: &str) -> anyhow::Result<String> {
    let client = LoginClient::new(Some(ca_pem))?;
    let url = client.fetch_login_url(base, "http://127.0.0.1:1").await?;
    client.login(&url, email, PASSWORD).await
}

/// CONNECTs with `token` and checks that five bytes come back.
async fn echo_through(gateway: &GatewayProcess, pki: &TestPki, token: &str) {
    let stream = tls_connect(gateway.addr, pki.ca_pem(), None).await.expect("TLS to the gateway");
    let auth = format!("Pomerium {token}");
    let mut r = connect_on(stream, "echo.corp.example.com:7000", &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 200, "the token from the login opens the route: {}\n{}", r.head, gateway.log());
    r.stream.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    r.stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello", "echoed through the tunnel");
}

#[tokio::test]
async fn login_works_after_the_idp_rotates_its_key_without_restarting_the_gateway() {
    let echo = EchoServer::start().await;
    let mut stack = Stack::start(&echo_route(&echo)).await.expect("IdP and gateway start");
    let base = stack.url();

    let before = login(stack.pki.ca_pem(), &base, ALICE.email).await.expect("alice logs in before the rotation");
    echo_through(&stack.gateway, &stack.pki, &before).await;

    // Same issuer and port, new RSA key under the same `kid`: the gateway's cached JWKS is stale.
    let issuer = stack.idp.issuer_str().to_owned();
    stack.idp.restart_with_new_key().await.expect("the IdP restarts with a new key");
    assert_eq!(stack.idp.issuer_str(), issuer, "same issuer after the restart");

    let after = login(stack.pki.ca_pem(), &base, BOB.email)
        .await
        .unwrap_or_else(|e| panic!("bob logs in after the rotation: {e:#}\n{}", stack.gateway.log()));
    echo_through(&stack.gateway, &stack.pki, &after).await;
    let log = stack.gateway.log();
    assert!(
        log.contains("ID token verified with the provider's refreshed keys"),
        "the gateway fetched the new key on demand and said so:\n{log}"
    );
    // A second login right away uses the keys already fetched: no further refresh needed.
    login(stack.pki.ca_pem(), &base, ALICE.email).await.expect("alice logs in again");
    assert_eq!(
        stack.gateway.log().matches("ID token verified with the provider's refreshed keys").count(),
        1,
        "only the first login after the rotation needed a refresh"
    );
}

#[tokio::test]
async fn the_gateway_starts_while_the_idp_is_down_and_logs_in_once_it_is_up() {
    let echo = EchoServer::start().await;
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let cert = pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server").unwrap();
    let signing_key_pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("gateway.yaml");
    std::fs::write(
        &config,
        format!(
            "address: 127.0.0.1:0\ncertificate_file: {}\ncertificate_key_file: {}\nsigning_key: {}\n\
             idp_provider: oidc\nidp_provider_url: {issuer}\nidp_client_id: {}\nidp_client_secret: {}\n\
             idp_scopes: openid profile email groups\nroutes:\n{}",
            cert.cert.display(),
            cert.key.display(),
            base64::engine::general_purpose::STANDARD.encode(&signing_key_pem),
            idp::CLIENT_ID,
            idp::CLIENT_SECRET,
            echo_route(&echo),
        ),
    )
    .unwrap();

    let gateway = GatewayProcess::start(&config, dir.path()).expect("the gateway starts with its IdP down");
    let base = format!("https://127.0.0.1:{}", gateway.addr.port());
    let sentence = format!("cannot reach the identity provider at {issuer}: connection refused");
    assert!(
        eventually(Duration::from_secs(10), || async { gateway.log().contains(&sentence) }).await,
        "the startup fetch logs why the IdP is unusable ({sentence}):\n{}",
        gateway.log()
    );

    let client = LoginClient::new(Some(pki.ca_pem())).unwrap();
    let url = client.fetch_login_url(&base, "http://127.0.0.1:1").await.expect("the login API answers");
    let resp = client.http().get(&url).send().await.expect("sign-in answers");
    assert_eq!(resp.status().as_u16(), 502, "no IdP yet");
    assert_eq!(resp.text().await.unwrap().trim(), sentence, "the browser gets the same sentence");

    let _idp = Idp::start_on_port(port).await.expect("the IdP comes up on its configured port");
    let token = login(pki.ca_pem(), &base, ALICE.email)
        .await
        .unwrap_or_else(|e| panic!("alice logs in once the IdP is up: {e:#}\n{}", gateway.log()));
    echo_through(&gateway, &pki, &token).await;
}
