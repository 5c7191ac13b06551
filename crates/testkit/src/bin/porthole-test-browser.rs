//! A stand-in browser for `--browser-cmd` in end-to-end tests: `porthole-test-browser <url>`
//! records its launch, walks the login (gateway → IdP form → callback) like a browser, and
//! delivers the token to the CLI's loopback callback.
//!
//! Environment: `PORTHOLE_TEST_EMAIL` (default alice@example.com), or `PORTHOLE_TEST_EMAIL_FILE`
//! (a file holding it, read at each launch: a test switches user), `PORTHOLE_TEST_CA` (PEM file
//! of the gateway's CA), `PORTHOLE_TEST_LAUNCHES` (a file that gets one line per launch),
//! `PORTHOLE_TEST_BROWSER=chromium` (walk it in real headless Chromium instead of the Rust
//! HTTP client).

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
    let email = match std::env::var("PORTHOLE_TEST_EMAIL_FILE") {
        Ok(path) => std::fs::read_to_string(&path).with_context(|| format!("while reading {path}"))?.trim().to_owned(),
        Err(_) => std::env::var("PORTHOLE_TEST_EMAIL").unwrap_or_else(|_| "alice@example.com".into()),
    };
    if std::env::var("PORTHOLE_TEST_BROWSER").as_deref() == Ok("chromium") {
        // Chromium follows every redirect, the last one being the app's callback, which it
        // requests (delivering the token) before the walk ends.
        let callback = url::Url::parse(&url)?
            .query_pairs()
            .find(|(k, _)| k == "pomerium_redirect_uri")
            .map(|(_, v)| v.into_owned())
            .context("the login URL names no pomerium_redirect_uri")?;
        porthole_testkit::browser::browser_walk(&url, &callback, &email, PASSWORD).await?;
        return Ok(());
    }
    let ca = std::env::var("PORTHOLE_TEST_CA").ok().map(std::fs::read_to_string).transpose()?;
    let client = LoginClient::new(ca.as_deref())?;
    let stop = |u: &url::Url| is_loopback_http(u) && jwt_from_redirect(u).is_some();
    let last = client.walk(&url, &email, PASSWORD, &stop).await?;
    // Deliver the token as the browser would: request the loopback redirect.
    let resp = client.http().get(last.clone()).send().await.context("while calling the CLI's callback")?;
    anyhow::ensure!(resp.status().is_success(), "the callback answered {}", resp.status());
    Ok(())
}
