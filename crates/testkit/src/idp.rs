//! The test identity provider: `oidc-provider` run by `crates/testkit/node/idp.mjs`.
//!
//! The IdP knows one confidential client ([`CLIENT_ID`], [`CLIENT_SECRET`], `client_secret_basic`;
//! [`CLIENT_ID_POST`] is the same with `client_secret_post`), accepts any
//! `https://127.0.0.1:<port>/oauth2/callback` or `https://localhost:<port>/oauth2/callback`
//! redirect URI, requires PKCE (S256), and has the accounts in [`ACCOUNTS`], all with the
//! password [`PASSWORD`]. Its login page is one plain HTML form (`login`, `password`); consent is
//! granted automatically. `email`, `groups` and `department` are in the ID token.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

/// The client id of the gateway at the IdP (token endpoint auth: `client_secret_basic`).
pub const CLIENT_ID: &str = "porthole-gateway";
/// A second client id with the same secret whose token endpoint auth is `client_secret_post`.
pub const CLIENT_ID_POST: &str = "porthole-gateway-post";
/// The client secret of both clients.
pub const CLIENT_SECRET: &str = "porthole-gateway-secret";
/// The password of every account.
pub const PASSWORD: &str = "password";
/// The scopes the gateway should ask for.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "groups"];

/// How long the IdP may take to print its issuer.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// An account of the test IdP and the claims it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestAccount {
    /// The login name and the `email` claim (`email_verified` is always true).
    pub email: &'static str,
    /// The `sub` claim: a stable short id.
    pub sub: &'static str,
    /// The `groups` claim.
    pub groups: &'static [&'static str],
    /// The custom `department` claim (with the `profile` scope).
    pub department: &'static str,
}

/// alice: groups `admins`, `dev`; department `eng`.
pub const ALICE: TestAccount =
    TestAccount { email: "alice@example.com", sub: "alice", groups: &["admins", "dev"], department: "eng" };
/// bob: group `dev`; department `sales`.
pub const BOB: TestAccount =
    TestAccount { email: "bob@example.com", sub: "bob", groups: &["dev"], department: "sales" };
/// carol: another domain, no groups; department `eng`.
pub const CAROL: TestAccount = TestAccount { email: "carol@other.org", sub: "carol", groups: &[], department: "eng" };
/// Every account of the test IdP (must match `idp.mjs`).
pub const ACCOUNTS: &[TestAccount] = &[ALICE, BOB, CAROL];

/// The repository root (where `package.json` and `node_modules` are).
#[must_use]
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the testkit crate lives two levels below the repository root")
}

/// Fails with a clear message when the npm packages are not installed.
///
/// # Errors
/// When `node_modules/<package>` is missing under the repository root.
pub fn require_node_package(package: &str) -> anyhow::Result<PathBuf> {
    let root = repo_root();
    let dir = root.join("node_modules").join(package);
    anyhow::ensure!(
        dir.join("package.json").is_file(),
        "npm package `{package}` is missing from {}: run `make test` or `npm ci` first",
        root.join("node_modules").display()
    );
    Ok(root)
}

/// A running test IdP. The node process is killed when this is dropped.
#[derive(Debug)]
pub struct Idp {
    /// The issuer, `http://127.0.0.1:<port>` (as a `Url` it gains a trailing `/`; use
    /// [`Idp::issuer_str`] where the exact issuer string matters).
    pub issuer: Url,
    issuer_str: String,
    _stdin: ChildStdin,
    _child: Child,
    _log: tempfile::NamedTempFile,
}

impl Idp {
    /// Starts `node crates/testkit/node/idp.mjs` and waits for its issuer line.
    ///
    /// # Errors
    /// When `node_modules` is missing ("run `make test` or `npm ci` first"), `node` cannot be
    /// started, or the IdP does not print its issuer within [`STARTUP_DEADLINE`]; the error
    /// includes the IdP's stderr.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on_port(0).await
    }

    /// As [`Idp::start`], listening on `port` (0: any free port). Each start generates a new
    /// RSA signing key (always with the `kid` `porthole-test`), so restarting on the same port
    /// is a key rotation under the same issuer.
    ///
    /// # Errors
    /// As [`Idp::start`]; also when `port` is taken.
    pub async fn start_on_port(port: u16) -> anyhow::Result<Self> {
        let root = require_node_package("oidc-provider")?;
        let log = tempfile::NamedTempFile::new().context("while creating the IdP log file")?;
        let mut child = Command::new("node")
            .arg(root.join("crates/testkit/node/idp.mjs"))
            .arg("--port")
            .arg(port.to_string())
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().context("while opening the IdP log file")?)
            .kill_on_drop(true)
            .spawn()
            .context("while starting `node` (is Node.js installed? `make test` installs it)")?;
        let stdin = child.stdin.take().context("IdP stdin")?;
        let stdout = child.stdout.take().context("IdP stdout")?;
        let stderr_of = |log: &tempfile::NamedTempFile| std::fs::read_to_string(log.path()).unwrap_or_default();

        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        let read = tokio::time::timeout(STARTUP_DEADLINE, stdout.read_line(&mut line)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            Ok(Ok(_)) => anyhow::bail!("the IdP exited before printing its issuer:\n{}", stderr_of(&log)),
            Ok(Err(err)) => anyhow::bail!("reading the IdP's stdout: {err}\n{}", stderr_of(&log)),
            Err(_) => anyhow::bail!("the IdP printed no issuer within {STARTUP_DEADLINE:?}:\n{}", stderr_of(&log)),
        }
        #[derive(serde::Deserialize)]
        struct Ready {
            issuer: String,
        }
        let ready: Ready = serde_json::from_str(line.trim())
            .with_context(|| format!("the IdP's first line is not its issuer: {line:?}"))?;
        // Keep draining stdout so a stray line can never fail the IdP with EPIPE.
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
        });
        Ok(Self {
            issuer: Url::parse(&ready.issuer).context("the IdP's issuer is not a URL")?,
            issuer_str: ready.issuer,
            _stdin: stdin,
            _child: child,
            _log: log,
        })
    }

    /// Stops the IdP and waits until its process has exited (its port is free again).
    ///
    /// # Errors
    /// When the process cannot be killed or reaped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self._child.kill().await.context("while stopping the IdP")
    }

    /// Stops the IdP and starts a new one on the same port: same issuer, new signing key (same
    /// `kid`), no sessions. This is how a provider's key rotation looks to a relying party that
    /// cached the old key.
    ///
    /// # Errors
    /// As [`Idp::stop`] and [`Idp::start_on_port`].
    pub async fn restart_with_new_key(&mut self) -> anyhow::Result<()> {
        let port = self.issuer.port().context("the issuer has a port")?;
        self._child.kill().await.context("while stopping the IdP")?;
        let fresh = Self::start_on_port(port).await?;
        anyhow::ensure!(fresh.issuer_str == self.issuer_str, "the restarted IdP has another issuer");
        *self = fresh;
        Ok(())
    }

    /// The exact issuer string, `http://127.0.0.1:<port>` (no trailing slash), as in ID tokens.
    #[must_use]
    pub fn issuer_str(&self) -> &str {
        &self.issuer_str
    }

    /// The discovery document URL, `<issuer>/.well-known/openid-configuration`.
    #[must_use]
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer_str)
    }
}
