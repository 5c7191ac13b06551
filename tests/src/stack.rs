//! A whole local deployment for end-to-end tests: the real identity provider, a test CA,
//! `porthole-gateway` as a process with the given routes, and helpers to run `porthole`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use porthole_gateway::token::TokenKeys;
use porthole_testkit::certs::TestPki;
use porthole_testkit::idp::{self, Idp};

use crate::{GatewayProcess, STARTUP, bin};
use porthole_testkit::eventually::poll_until_blocking;

/// IdP + CA + gateway process.
pub struct Stack {
    /// The test CA (server and client certificates).
    pub pki: TestPki,
    /// Scratch directory: config, certificates, logs, token cache.
    pub dir: tempfile::TempDir,
    /// The gateway process.
    pub gateway: GatewayProcess,
    /// The identity provider.
    pub idp: Idp,
    /// PEM file of the CA (for `--alternate-ca-path`).
    pub ca_path: PathBuf,
    signing_key_pem: String,
}

impl Stack {
    /// Starts everything; `routes` is YAML list items under `routes:`.
    ///
    /// # Errors
    /// When a part does not start.
    pub async fn start(routes: &str) -> anyhow::Result<Self> {
        let idp = Idp::start().await?;
        let pki = TestPki::new();
        let dir = tempfile::tempdir()?;
        let cert = pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server")?;
        let ca_path = pki.write_ca_to(dir.path())?;
        let signing_key_pem = rcgen::KeyPair::generate()?.serialize_pem();
        let config = dir.path().join("gateway.yaml");
        std::fs::write(
            &config,
            format!(
                "address: 127.0.0.1:0\ncertificate_file: {}\ncertificate_key_file: {}\nsigning_key: {}\n\
                 idp_provider: oidc\nidp_provider_url: {}\nidp_client_id: {}\nidp_client_secret: {}\n\
                 idp_scopes: openid profile email groups\nroutes:\n{routes}",
                cert.cert.display(),
                cert.key.display(),
                base64::engine::general_purpose::STANDARD.encode(&signing_key_pem),
                idp.issuer_str(),
                idp::CLIENT_ID,
                idp::CLIENT_SECRET,
            ),
        )?;
        let gateway = GatewayProcess::start(&config, dir.path())?;
        Ok(Self { pki, dir, gateway, idp, ca_path, signing_key_pem })
    }

    /// `https://127.0.0.1:<port>`: the `--pomerium-url` for this gateway.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.gateway.addr.port())
    }

    /// A token signed with the gateway's key (a service account, or a pre-seeded login).
    ///
    /// # Panics
    /// On an invalid key (it is generated above).
    #[must_use]
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        let (keys, _) =
            TokenKeys::new(Some(&self.signing_key_pem), self.url(), Duration::from_secs(3600)).expect("key");
        keys.issue(claims.as_object().expect("object")).expect("sign")
    }

    /// A token signed with the gateway's key that is already expired (`exp` = now).
    ///
    /// # Panics
    /// On an invalid key (it is generated above).
    #[must_use]
    pub fn mint_expired(&self, claims: &serde_json::Value) -> String {
        let (keys, _) = TokenKeys::new(Some(&self.signing_key_pem), self.url(), Duration::ZERO).expect("key");
        keys.issue(claims.as_object().expect("object")).expect("sign")
    }

    /// The token cache dir every `porthole` of this stack shares.
    #[must_use]
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The file `porthole-test-browser` appends one line to per launch.
    #[must_use]
    pub fn launches_file(&self) -> PathBuf {
        self.dir.path().join("browser-launches.txt")
    }

    /// How many times the test browser was launched.
    #[must_use]
    pub fn launches(&self) -> usize {
        std::fs::read_to_string(self.launches_file()).map(|s| s.lines().count()).unwrap_or(0)
    }

    /// A `porthole` command with this stack's environment: file token store in the stack's
    /// cache dir, the test browser logging in as `email`.
    #[must_use]
    pub fn porthole(&self, email: &str) -> Command {
        let mut cmd = Command::new(bin("porthole"));
        cmd.env("PORTHOLE_TOKEN_STORE", "file")
            .env("PORTHOLE_CACHE_DIR", self.cache_dir())
            .env("PORTHOLE_TEST_EMAIL", email)
            .env("PORTHOLE_TEST_CA", &self.ca_path)
            .env("PORTHOLE_TEST_LAUNCHES", self.launches_file())
            .env("NO_COLOR", "1");
        cmd
    }

    /// `porthole tcp <destination> --pomerium-url <gateway> --alternate-ca-path <ca>
    /// --browser-cmd porthole-test-browser <extra…>` on a free local port.
    ///
    /// # Errors
    /// When it does not print `listening on` within [`STARTUP`].
    pub fn tcp(&self, destination: &str, email: &str, extra: &[&str]) -> anyhow::Result<Porthole> {
        let mut cmd = self.porthole(email);
        cmd.arg("tcp")
            .arg(destination)
            .arg("--pomerium-url")
            .arg(self.url())
            .arg("--alternate-ca-path")
            .arg(&self.ca_path)
            .arg("--browser-cmd")
            .arg(bin("porthole-test-browser"))
            .args(extra);
        Porthole::spawn(cmd, &self.dir.path().join(format!("porthole-{}.log", unique())))
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// A running `porthole tcp`, killed on drop.
pub struct Porthole {
    child: Child,
    log: PathBuf,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl Porthole {
    /// Spawns `cmd` (stderr to `log`) and waits for `listening on`.
    ///
    /// # Errors
    /// When it exits or does not listen within [`STARTUP`].
    pub fn spawn(mut cmd: Command, log: &std::path::Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(log)?;
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file).spawn().context("starting porthole")?;
        let mut me = Self { child, log: log.to_owned(), addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)) };
        let addr = poll_until_blocking("listen", STARTUP, || {
            let text = me.log();
            if let Some(a) = crate::complete_lines(&text).find_map(|l| l.strip_prefix("listening on ")) {
                return Ok(Some(a.trim().parse::<std::net::SocketAddr>()?));
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                anyhow::bail!("porthole exited ({status}):\n{text}");
            }
            Ok(None)
        })
        .map_err(|e| e.context(format!("porthole; its log:\n{}", me.log())))?;
        me.addr = addr;
        Ok(me)
    }

    /// Its stderr so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `true` while the process runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Porthole {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
