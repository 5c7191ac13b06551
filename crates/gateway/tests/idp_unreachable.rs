//! An identity provider nobody answers for: the gateway still serves, and the sign-in page says
//! why it cannot log anyone in, down to the cause (`connection refused`), not `Request failed`.

mod support;

use porthole_testkit::login::LoginClient;
use support::{Opts, Stack};

#[tokio::test]
async fn sign_in_names_the_unreachable_provider_and_the_cause() {
    // Without `idp: true` the config points at http://127.0.0.1:9, where nothing listens.
    let stack = Stack::start(Opts { routes: "", ..Default::default() }).await;
    let client = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();
    let url = client.fetch_login_url(&stack.base_url(), "http://127.0.0.1:5555").await.expect("login URL");

    let resp = client.http().get(&url).send().await.expect("sign-in answers");
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 502, "the provider is down: bad gateway");
    assert_eq!(
        body.trim(),
        "cannot reach the identity provider at http://127.0.0.1:9: connection refused",
        "the page names the provider and the innermost cause"
    );

    let health = client.http().get(format!("{}/healthz", stack.base_url())).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the gateway itself keeps serving");
}
