//! Headless Chromium logs in through the test IdP's form, and the callback catcher takes a JWT.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use porthole_testkit::idp::{CLIENT_ID, PASSWORD};
use porthole_testkit::{ALICE, CallbackCatcher, Idp, browser_walk};
use sha2::{Digest as _, Sha256};
use url::Url;

#[tokio::test]
async fn callback_catcher_takes_the_jwt_and_answers_like_the_cli() {
    let catcher = CallbackCatcher::start().await.expect("catcher starts");
    assert!(catcher.redirect_uri.starts_with("http://127.0.0.1:"), "loopback, no trailing slash");
    let http = reqwest::Client::new();
    let miss = http.get(format!("{}/favicon.ico", catcher.redirect_uri)).send().await.expect("GET");
    assert_eq!(miss.status(), 404, "a request without pomerium_jwt is not a login");
    assert_eq!(catcher.try_token(), None);
    let hit = http.get(format!("{}/?pomerium_jwt=header.payload.sig", catcher.redirect_uri)).send().await.expect("GET");
    assert_eq!(hit.status(), 200);
    assert!(hit.text().await.expect("body").starts_with("login complete"));
    let token = catcher.token(Duration::from_secs(5)).await.expect("token arrives");
    assert_eq!(token, "header.payload.sig");
}

#[tokio::test]
async fn chromium_logs_in_through_the_idp_form() {
    let idp = Idp::start().await.expect("the IdP starts");
    let callback = "https://127.0.0.1:1/oauth2/callback";
    let verifier = "a-pkce-code-verifier-that-is-long-enough-0123456789";
    let mut url = Url::parse(&format!("{}/auth", idp.issuer_str())).expect("auth URL");
    url.query_pairs_mut()
        .append_pair("client_id", CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email groups")
        .append_pair("redirect_uri", callback)
        .append_pair("code_challenge", &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier)))
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "x")
        .append_pair("nonce", "y");
    let reached =
        browser_walk(url.as_str(), callback, ALICE.email, PASSWORD).await.expect("the browser reaches the callback");
    assert!(
        reached.query_pairs().any(|(k, v)| k == "code" && !v.is_empty()),
        "the browser is sent to the callback with a code: {reached}"
    );
}
