//! "Log in as someone else": the login API passes an OIDC `prompt` (login, select_account,
//! consent) on to the real identity provider (`oidc-provider`), signed into the sign-in link,
//! and refuses other values. With `prompt=login` the IdP shows its login form again although
//! the browser still has a session there; without it the IdP signs the same user straight in.

mod support;

use http::header::LOCATION;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::form::LoginForm;
use porthole_testkit::idp::{ALICE, PASSWORD};
use porthole_testkit::login::{LoginClient, is_loopback_http, jwt_from_redirect};
use support::Opts;
use url::Url;

/// Where a login walk ends without submitting anything.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The IdP shows its login form.
    Form,
    /// The browser is sent back with a token: signed in without a form.
    Token,
}

/// Follows redirects from `start` (sharing `client`'s cookies) until a login form or the
/// loopback redirect with a token; at most 20 steps.
async fn walk_until_form_or_token(client: &LoginClient, start: &str) -> End {
    let mut url = Url::parse(start).unwrap();
    for _ in 0..20 {
        let resp = client.http().get(url.clone()).send().await.expect("request");
        if resp.status().is_redirection() {
            let next = url.join(resp.headers()[LOCATION].to_str().unwrap()).unwrap();
            if is_loopback_http(&next) && jwt_from_redirect(&next).is_some() {
                return End::Token;
            }
            url = next;
            continue;
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{status} from {url}: {body}");
        assert!(LoginForm::find(&body).is_some(), "neither a redirect nor the login form at {url}: {body}");
        return End::Form;
    }
    panic!("no end after 20 steps; last {url}")
}

async fn login_url(client: &LoginClient, base: &str, prompt: Option<&str>) -> (u16, String) {
    let mut url = format!("{base}/.pomerium/api/v1/login?pomerium_redirect_uri=http%3A%2F%2F127.0.0.1%3A5555");
    if let Some(p) = prompt {
        url.push_str(&format!("&prompt={p}"));
    }
    let resp = client.http().get(url).send().await.expect("login API");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn prompt_login_makes_the_idp_ask_again() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://db.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let stack = support::start(Opts { routes: &routes, idp: true, ..Default::default() }).await;
    let client = LoginClient::new(Some(stack.pki.ca_pem())).unwrap();
    let base = stack.url();

    let (status, first) = login_url(&client, &base, None).await;
    assert_eq!(status, 200, "{first}");
    assert!(!first.contains("prompt="), "no prompt unless asked: {first}");
    client.login(&first, ALICE.email, PASSWORD).await.expect("alice logs in; the IdP keeps her session");

    let (_, again) = login_url(&client, &base, None).await;
    assert_eq!(walk_until_form_or_token(&client, &again).await, End::Token, "the IdP's session signs her in");

    let (status, forced) = login_url(&client, &base, Some("login")).await;
    assert_eq!(status, 200, "{forced}");
    assert!(forced.contains("prompt=login"), "the sign-in link carries the prompt: {forced}");
    assert_eq!(walk_until_form_or_token(&client, &forced).await, End::Form, "prompt=login shows the form again");

    // The prompt is signed: changing it (or adding one) breaks the link.
    let tampered = forced.replace("prompt=login", "prompt=consent");
    let resp = client.http().get(&tampered).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400, "a tampered prompt is refused");
    let added = format!("{again}&prompt=login");
    let resp = client.http().get(&added).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400, "an added prompt is refused");

    let (status, body) = login_url(&client, &base, Some("none%20login")).await;
    assert_eq!(status, 400, "only whitelisted values: {body}");
    assert!(body.contains("only login, select_account and consent"), "{body}");
}
