//! The test IdP starts, publishes its discovery document, and completes a real authorization
//! code + PKCE login through its form, with the claims the gateway needs in the ID token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use porthole_testkit::idp::{CLIENT_ID, CLIENT_ID_POST, CLIENT_SECRET, PASSWORD};
use porthole_testkit::{ALICE, BOB, Idp, LoginClient};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

const CALLBACK: &str = "https://127.0.0.1:1/oauth2/callback";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

fn auth_url(idp: &Idp, client_id: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut url = Url::parse(&format!("{}/auth", idp.issuer_str())).expect("auth URL");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email groups")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", "x")
        .append_pair("nonce", "y");
    url.into()
}

/// Walks the login form to the callback and returns the authorization code.
async fn code_for(idp: &Idp, client_id: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let client = LoginClient::new(None)?;
    let stop = |u: &Url| u.as_str().starts_with(CALLBACK);
    let callback = client.walk(&auth_url(idp, client_id), email, password, &stop).await?;
    let pairs: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "x".into())), "state comes back: {callback}");
    pairs.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v).ok_or_else(|| anyhow::anyhow!("no code in {callback}"))
}

fn id_token_claims(token_response: &Value) -> Value {
    let id_token = token_response["id_token"].as_str().expect("an id_token");
    let payload = id_token.split('.').nth(1).expect("a JWS payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

#[tokio::test]
async fn discovery_document_names_the_issuer() {
    let idp = Idp::start().await.expect("the IdP starts");
    let doc: Value = reqwest::get(idp.discovery_url()).await.expect("GET discovery").json().await.expect("JSON");
    assert_eq!(doc["issuer"], idp.issuer_str(), "the issuer is the address the IdP listens on");
    let methods = doc["code_challenge_methods_supported"].as_array().expect("PKCE methods");
    assert!(methods.iter().any(|m| m == "S256"), "PKCE S256 is offered: {methods:?}");
}

#[tokio::test]
async fn code_flow_with_pkce_gives_the_claims_in_the_id_token() {
    let idp = Idp::start().await.expect("the IdP starts");
    let code = code_for(&idp, CLIENT_ID, ALICE.email, PASSWORD).await.expect("alice logs in");
    let response = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer_str()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token JSON");
    assert!(status.is_success(), "client_secret_basic token exchange works: {status} {body}");
    let claims = id_token_claims(&body);
    assert_eq!(claims["iss"], idp.issuer_str());
    assert_eq!(claims["sub"], ALICE.sub);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["nonce"], "y");
    assert_eq!(claims["email"], ALICE.email, "email is in the ID token: {claims}");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["groups"], serde_json::json!(ALICE.groups), "groups are in the ID token");
    assert_eq!(claims["department"], ALICE.department, "department is in the ID token");
}

#[tokio::test]
async fn client_secret_post_client_and_pkce_is_enforced() {
    let idp = Idp::start().await.expect("the IdP starts");
    let code = code_for(&idp, CLIENT_ID_POST, BOB.email, PASSWORD).await.expect("bob logs in");
    let token = |verifier: &'static str| {
        reqwest::Client::new()
            .post(format!("{}/token", idp.issuer_str()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
                ("client_id", CLIENT_ID_POST),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
    };
    let wrong = token("another-verifier-that-is-long-enough-000000000000000").await.expect("token request");
    assert_eq!(wrong.status(), 400, "a wrong PKCE verifier is refused");
    // oidc-provider may revoke a code after a failed exchange, so take a fresh one.
    let code = code_for(&idp, CLIENT_ID_POST, BOB.email, PASSWORD).await.expect("bob logs in again");
    let response = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer_str()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT_ID_POST),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("token JSON");
    assert!(status.is_success(), "client_secret_post works: {status} {body}");
    assert_eq!(id_token_claims(&body)["groups"], serde_json::json!(BOB.groups));
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_a_clear_error() {
    let idp = Idp::start().await.expect("the IdP starts");
    let err =
        code_for(&idp, CLIENT_ID, ALICE.email, "not-the-password").await.expect_err("a wrong password must not log in");
    assert!(err.to_string().contains("wrong email or password"), "the error says why: {err}");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_is_refused() {
    let idp = Idp::start().await.expect("the IdP starts");
    let url = auth_url(&idp, CLIENT_ID).replace("127.0.0.1%3A1%2Foauth2", "evil.example%3A1%2Foauth2");
    let response = LoginClient::new(None).expect("client").http().get(url).send().await.expect("auth request");
    assert_eq!(response.status(), 400, "only loopback /oauth2/callback URIs are allowed");
}
