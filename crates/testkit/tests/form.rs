//! The login-form finder reads the IdP's form and keeps other fields; loopback JWT helpers.

use porthole_testkit::form::LoginForm;
use porthole_testkit::login::{is_loopback_http, jwt_from_redirect};
use url::Url;

#[test]
fn finds_the_password_form_and_keeps_hidden_fields() {
    let html = r#"<form action="/search"><input name="q"></form>
        <form method="post" action="/interaction/abc/login?x=1&amp;y=2">
          <input type="hidden" name="csrf" value="t0k">
          <input type="text" name="login"><input type="password" name="password">
        </form>"#;
    let form = LoginForm::find(html).expect("the form with a password field is found");
    assert_eq!(form.action, "/interaction/abc/login?x=1&y=2", "entities are decoded");
    assert_eq!(
        form.fill("alice@example.com", "pw"),
        vec![
            ("csrf".to_owned(), "t0k".to_owned()),
            ("login".to_owned(), "alice@example.com".to_owned()),
            ("password".to_owned(), "pw".to_owned()),
        ]
    );
    assert_eq!(LoginForm::find("<p>no form</p>"), None, "a page without a login form has none");
}

#[test]
fn recognises_the_loopback_redirect_with_a_jwt() {
    let url = Url::parse("http://127.0.0.1:5555/?pomerium_jwt=a.b.c").expect("URL");
    assert!(is_loopback_http(&url));
    assert_eq!(jwt_from_redirect(&url).as_deref(), Some("a.b.c"));
    let https = Url::parse("https://127.0.0.1:1/oauth2/callback?code=x").expect("URL");
    assert!(!is_loopback_http(&https), "the gateway's own https callback is not the CLI's");
    assert_eq!(jwt_from_redirect(&https), None);
}
