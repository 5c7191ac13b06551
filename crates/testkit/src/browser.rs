//! Logging in through a real browser: `crates/testkit/node/browser-login.mjs` drives headless
//! Chromium (`/usr/bin/chromium`) with `playwright-core`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::Command;
use url::Url;

use crate::callback::CallbackCatcher;
use crate::idp::require_node_package;

/// The longest a browser login may take, start to finish.
pub const BROWSER_DEADLINE: Duration = Duration::from_secs(90);

/// Opens `start_url` in headless Chromium, submits the login form with `email` and `password`,
/// and returns the first URL the browser requests that starts with `stop_prefix`.
///
/// # Errors
/// When `node_modules` or Chromium is missing, or the browser does not reach `stop_prefix`
/// within [`BROWSER_DEADLINE`]; the error has the script's report (page URL and text).
pub async fn browser_walk(start_url: &str, stop_prefix: &str, email: &str, password: &str) -> anyhow::Result<Url> {
    let root = require_node_package("playwright-core")?;
    let chromium = std::env::var("PORTHOLE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    anyhow::ensure!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run `make test` (it installs Debian's chromium)"
    );
    let child = Command::new("node")
        .arg(root.join("crates/testkit/node/browser-login.mjs"))
        .arg(start_url)
        .arg(stop_prefix)
        .env("PORTHOLE_LOGIN", email)
        .env("PORTHOLE_PASSWORD", password)
        .env("PORTHOLE_CHROMIUM", &chromium)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("while starting `node` for the browser login")?;
    let output = tokio::time::timeout(BROWSER_DEADLINE, child.wait_with_output())
        .await
        .with_context(|| format!("the browser login took longer than {BROWSER_DEADLINE:?}"))??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.success(), "browser login ({}): {stderr}", output.status);
    #[derive(serde::Deserialize)]
    struct Reached {
        url: String,
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reached: Reached = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| format!("unexpected browser script output {stdout:?} {stderr}"))?;
    Url::parse(&reached.url).context("the browser reported a bad URL")
}

/// Logs in through a gateway `login_url` that was fetched with `catcher.redirect_uri`, in
/// headless Chromium, and returns the JWT the browser delivered to `catcher`.
///
/// # Errors
/// As [`browser_walk`], and when the catcher gets no `pomerium_jwt`.
pub async fn login_with_chromium(
    catcher: &CallbackCatcher,
    login_url: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    browser_walk(login_url, &catcher.redirect_uri, email, password).await?;
    catcher.token(Duration::from_secs(10)).await
}
