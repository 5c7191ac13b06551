//! A small W3C WebDriver client (the handful of commands the desktop test needs), over
//! `reqwest`: enough to drive the real Porthole window through `tauri-driver`.
//!
//! (fantoccini, the usual crate, pulls a second TLS stack built from C; WebDriver here is
//! plain HTTP on loopback, so a few JSON calls do.)

use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

/// An element reference.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    /// Starts a session on the WebDriver server at `server` with `capabilities`.
    ///
    /// # Errors
    /// When the server refuses or is unreachable.
    pub async fn start(server: &str, capabilities: Value) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(45)).build()?;
        let resp: Value = http
            .post(format!("{server}/session"))
            .json(&json!({ "capabilities": { "alwaysMatch": capabilities } }))
            .send()
            .await
            .context("while starting a WebDriver session")?
            .json()
            .await?;
        let id = resp["value"]["sessionId"].as_str().with_context(|| format!("no session: {resp}"))?;
        Ok(Self { http, base: format!("{server}/session/{id}") })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp: Value = req.send().await?.json().await?;
        if let Some(err) = resp["value"].get("error") {
            bail!("WebDriver {path}: {err} {}", resp["value"]["message"]);
        }
        Ok(resp["value"].clone())
    }

    /// The first element matching a CSS selector.
    ///
    /// # Errors
    /// When none matches.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await?;
        Ok(Element(v[ELEMENT_KEY].as_str().context("element id")?.to_owned()))
    }

    /// The first element matching an XPath expression (e.g. a button by its text).
    ///
    /// # Errors
    /// When none matches.
    pub async fn find_xpath(&self, xpath: &str) -> anyhow::Result<Element> {
        let v = self.call(reqwest::Method::POST, "/element", Some(json!({"using": "xpath", "value": xpath}))).await?;
        Ok(Element(v[ELEMENT_KEY].as_str().context("element id")?.to_owned()))
    }

    /// Polls for an element until `within` passes.
    ///
    /// # Errors
    /// When it never appears.
    pub async fn wait_for(&self, css: &str, within: Duration) -> anyhow::Result<Element> {
        porthole_testkit::eventually::poll_until(&format!("waiting for {css}"), within, || self.find(css)).await
    }

    /// Clicks.
    ///
    /// # Errors
    /// When the element is gone or not clickable.
    pub async fn click(&self, e: &Element) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{}/click", e.0), Some(json!({}))).await.map(drop)
    }

    /// Types `text` into an input (after clearing it).
    ///
    /// # Errors
    /// When the element cannot take input.
    pub async fn type_into(&self, e: &Element, text: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, &format!("/element/{}/clear", e.0), Some(json!({}))).await?;
        self.call(reqwest::Method::POST, &format!("/element/{}/value", e.0), Some(json!({"text": text})))
            .await
            .map(drop)
    }

    /// The element's visible text.
    ///
    /// # Errors
    /// When the element is gone.
    pub async fn text(&self, e: &Element) -> anyhow::Result<String> {
        let v = self.call(reqwest::Method::GET, &format!("/element/{}/text", e.0), None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Runs JavaScript in the page and returns its result.
    ///
    /// # Errors
    /// When the script throws.
    pub async fn execute(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// A PNG screenshot of the window.
    ///
    /// # Errors
    /// When the driver cannot take one.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        Ok(base64::engine::general_purpose::STANDARD.decode(v.as_str().context("screenshot data")?)?)
    }

    /// Ends the session (closes the app).
    pub async fn end(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}
