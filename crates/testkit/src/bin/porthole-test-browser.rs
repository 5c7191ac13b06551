//! A stand-in browser for `--browser-cmd` in end-to-end tests: `porthole-test-browser <url>`
//! records its launch, walks the login (gateway → IdP form → callback) like a browser, and
//! delivers the token to the CLI's loopback callback.
//!
//! Environment: `PORTHOLE_TEST_EMAIL` (default alice@example.com), `PORTHOLE_TEST_CA` (PEM file
//! of the gateway's CA), `PORTHOLE_TEST_LAUNCHES` (a file that gets one line per launch).

use std::io::Write as _;

use anyhow::Context as _;
use porthole_testkit::idp::PASSWORD;
use porthole_testkit::login::{LoginClient, is_loopback_http, jwt_from_redirect};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).context("usage: porthole-test-browser <url>")?;
    if let Ok(path) = std::env::var("PORTHOLE_TEST_LAUNCHES") {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        writeln!(f, "{url}")?;
    }
    let email = std::env::var("PORTHOLE_TEST_EMAIL").unwrap_or_else(|_| "alice@example.com".into());
    let ca = std::env::var("PORTHOLE_TEST_CA").ok().map(std::fs::read_to_string).transpose()?;
    let client = LoginClient::new(ca.as_deref())?;
    let stop = |u: &url::Url| is_loopback_http(u) && jwt_from_redirect(u).is_some();
    let last = client.walk(&url, &email, PASSWORD, &stop).await?;
    // Deliver the token as the browser would: request the loopback redirect.
    let resp = client.http().get(last.clone()).send().await.context("while calling the CLI's callback")?;
    anyhow::ensure!(resp.status().is_success(), "the callback answered {}", resp.status());
    Ok(())
}
