//! The one way tests build a gateway: [`TestGateway`] writes a config (a test CA's server
//! certificate, a fresh token key, the routes, optionally the real identity provider) and runs
//! it — as a `porthole-gateway` process ([`TestGateway::start`]), or in-process through a
//! function the caller passes ([`TestGateway::start_with`], used by the gateway's own tests).
//!
//! The testkit does not link `porthole-gateway`: every crate's tests can use it without a
//! dependency cycle, and tokens are signed here with the key the config gives the gateway.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::certs::{CertPair, TestPki};
use crate::child::{KilledOnDrop, bin};
use crate::connect::{Reply, connect_on, tls_connect};
use crate::idp::{self, Idp};

/// How long a gateway process gets to say it is listening.
pub const STARTUP: Duration = Duration::from_secs(20);

/// What the gateway serves.
#[derive(Debug, Default, Clone, Copy)]
pub struct GatewayOpts<'a> {
    /// YAML list items under `routes:` (each starting with `  - from:`); `{dir}` is replaced
    /// by the gateway's temp dir.
    pub routes: &'a str,
    /// Extra top-level YAML (e.g. `downstream_mtls:`), `{dir}` replaced likewise.
    pub extra: &'a str,
    /// Start the real identity provider (otherwise the IdP URL is [`GatewayOpts::idp_url`]).
    pub idp: bool,
    /// The IdP URL when none is started here (one that is down, or started later on its
    /// port); by default a closed loopback port, fetched only when someone logs in.
    pub idp_url: Option<&'a str>,
    /// Extra `porthole-gateway` arguments (`--drain 5s`), for [`TestGateway::start`].
    pub args: &'a [&'a str],
}

/// A gateway for tests and what a test needs to talk to it; `S` is what runs it
/// ([`GatewayProcess`] by default).
pub struct TestGateway<S = GatewayProcess> {
    /// The test CA that signed the gateway's certificate (`localhost`, `127.0.0.1`).
    pub pki: TestPki,
    /// Config, certificates, logs, and anything else the test keeps there.
    pub dir: tempfile::TempDir,
    /// The CA's PEM file (for `--alternate-ca-path`).
    pub ca_path: PathBuf,
    /// The config file (`<dir>/gateway.yaml`), whose text is [`TestGateway::yaml`].
    pub config: PathBuf,
    /// The config text.
    pub yaml: String,
    /// The identity provider, when [`GatewayOpts::idp`] asked for it.
    pub idp: Option<Idp>,
    /// The running gateway (`None` once a test took it, to stop or replace it).
    pub gateway: Option<S>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The token signing key (PEM) the config gives the gateway.
    pub signing_key_pem: String,
}

impl TestGateway<GatewayProcess> {
    /// Writes the config and runs `porthole-gateway --config <it>` as a process.
    ///
    /// # Errors
    /// When a part does not start; the error has the gateway's log.
    pub async fn start(opts: GatewayOpts<'_>) -> anyhow::Result<Self> {
        Self::start_with(opts, |config, dir| {
            let mut cmd = Command::new(bin("porthole-gateway"));
            cmd.arg("--config").arg(config).args(opts.args);
            let process = GatewayProcess::start_command(cmd, dir)?;
            let addr = process.addr;
            Ok((process, addr))
        })
        .await
    }

    /// The gateway's process id.
    ///
    /// # Panics
    /// When the process was taken.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.process().child.id()
    }

    /// Everything the gateway wrote to stderr so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.gateway.as_ref().map(GatewayProcess::log).unwrap_or_default()
    }

    /// Sends SIGTERM to the gateway process and waits (up to 15 s) for it to exit.
    ///
    /// # Errors
    /// When it was taken, or does not exit in time (it is then killed).
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.gateway.as_mut().context("the gateway process was taken")?.terminate()
    }

    fn process(&self) -> &GatewayProcess {
        self.gateway.as_ref().expect("the gateway process is running")
    }
}

impl<S> TestGateway<S> {
    /// Writes the config and calls `serve(config file, dir)`, which starts the gateway and
    /// returns it and its address.
    ///
    /// # Errors
    /// When the IdP, the files or `serve` fail.
    pub async fn start_with(
        opts: GatewayOpts<'_>,
        serve: impl FnOnce(&Path, &Path) -> anyhow::Result<(S, SocketAddr)>,
    ) -> anyhow::Result<Self> {
        let idp =
            if opts.idp { Some(Idp::start().await.context("while starting the identity provider")?) } else { None };
        let pki = TestPki::new();
        let dir = tempfile::tempdir()?;
        let cert = pki.server_cert(&["localhost", "127.0.0.1"]).write_to(dir.path(), "server")?;
        let ca_path = pki.write_ca_to(dir.path())?;
        let signing_key_pem = rcgen::KeyPair::generate()?.serialize_pem();
        let issuer = idp.as_ref().map_or(opts.idp_url.unwrap_or("http://127.0.0.1:9"), Idp::issuer_str);
        let in_dir = |text: &str| text.replace("{dir}", &dir.path().display().to_string());
        let yaml = format!(
            "address: 127.0.0.1:0\ncertificate_file: {cert}\ncertificate_key_file: {key}\nsigning_key: {signing}\n\
             idp_provider: oidc\nidp_provider_url: {issuer}\nidp_client_id: {client}\nidp_client_secret: {secret}\n\
             idp_scopes: [openid, profile, email, groups]\n{extra}\nroutes:\n{routes}\n",
            cert = cert.cert.display(),
            key = cert.key.display(),
            signing = base64::engine::general_purpose::STANDARD.encode(&signing_key_pem),
            client = idp::CLIENT_ID,
            secret = idp::CLIENT_SECRET,
            extra = in_dir(opts.extra),
            routes = in_dir(opts.routes),
        );
        let config = dir.path().join("gateway.yaml");
        std::fs::write(&config, &yaml)?;
        let (gateway, addr) =
            serve(&config, dir.path()).with_context(|| format!("the test gateway, with this config:\n{yaml}"))?;
        Ok(Self { pki, dir, ca_path, config, yaml, idp, gateway: Some(gateway), addr, signing_key_pem })
    }

    /// `https://127.0.0.1:<port>`: the `--pomerium-url` for this gateway, and its token issuer.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// A token signed with the gateway's key for `claims`, valid for an hour, as a login
    /// (or a service account) would get.
    #[must_use]
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        self.mint_for(claims, unix_now() + 3600)
    }

    /// Like [`TestGateway::mint`], but expired a minute ago.
    #[must_use]
    pub fn mint_expired(&self, claims: &serde_json::Value) -> String {
        self.mint_for(claims, unix_now() - 60)
    }

    /// A token for user `sub` (`<sub>@example.com`), valid for an hour.
    #[must_use]
    pub fn mint_user(&self, sub: &str) -> String {
        self.mint(&serde_json::json!({"sub": sub, "email": format!("{sub}@example.com")}))
    }

    /// A token for one of the identity provider's accounts, minted directly.
    ///
    /// # Panics
    /// When `email` is not one of [`idp::ACCOUNTS`].
    #[must_use]
    pub fn token_for(&self, email: &str) -> String {
        let account = idp::ACCOUNTS.iter().find(|a| a.email == email).expect("one of the IdP's accounts");
        self.mint(&serde_json::json!({
            "sub": account.sub, "email": account.email, "groups": account.groups, "department": account.department,
        }))
    }

    /// The claims plus `iss`, `iat`, `exp` and `jti`, signed ES256 as the gateway signs.
    /// A token for user `sub` (`<sub>@example.com`) that expires `lifetime` from now (whole
    /// seconds: `exp` is in seconds).
    #[must_use]
    pub fn mint_user_for(&self, sub: &str, lifetime: Duration) -> String {
        let claims = serde_json::json!({"sub": sub, "email": format!("{sub}@example.com")});
        self.mint_for(&claims, unix_now() + lifetime.as_secs())
    }

    fn mint_for(&self, claims: &serde_json::Value, exp: u64) -> String {
        let mut claims = claims.as_object().expect("claims are a JSON object").clone();
        claims.insert("iss".into(), self.url().into());
        claims.insert("iat".into(), unix_now().into());
        claims.insert("exp".into(), exp.into());
        claims.insert(
            "jti".into(),
            format!("test-{}", SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())).into(),
        );
        let key =
            jsonwebtoken::EncodingKey::from_ec_pem(self.signing_key_pem.as_bytes()).expect("the generated P-256 key");
        jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &key).expect("sign")
    }

    /// Opens TLS to the gateway (optionally with a client certificate).
    ///
    /// # Errors
    /// When the connection or the handshake fails.
    pub async fn tls(&self, client: Option<&CertPair>) -> std::io::Result<TlsStream<TcpStream>> {
        tls_connect(self.addr, self.pki.ca_pem(), client).await
    }

    /// Sends `CONNECT authority` with `headers` and reads the response head.
    ///
    /// # Panics
    /// When TLS to the gateway fails.
    pub async fn connect(&self, authority: &str, headers: &[(&str, &str)], client: Option<&CertPair>) -> Reply {
        let stream = self.tls(client).await.expect("TLS to the gateway");
        connect_on(stream, authority, headers).await
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A `porthole-gateway` process, killed on drop.
#[derive(Debug)]
pub struct GatewayProcess {
    child: KilledOnDrop,
    /// The address it printed in `porthole-gateway listening on …`.
    pub addr: SocketAddr,
}

impl GatewayProcess {
    /// Runs `porthole-gateway --config <config>`, its output in `<log_dir>/gateway.log`, and
    /// waits for the `listening on` line.
    ///
    /// # Errors
    /// When it cannot start, exits, or does not listen within [`STARTUP`]; the error has its log.
    pub fn start(config: &Path, log_dir: &Path) -> anyhow::Result<Self> {
        let mut cmd = Command::new(bin("porthole-gateway"));
        cmd.arg("--config").arg(config);
        Self::start_command(cmd, log_dir)
    }

    /// Like [`GatewayProcess::start`] for a prepared command (a wrapper such as
    /// `sh -c 'ulimit -n 256; exec …'`, extra environment) that ends in `porthole-gateway`.
    ///
    /// # Errors
    /// As [`GatewayProcess::start`].
    pub fn start_command(mut cmd: Command, log_dir: &Path) -> anyhow::Result<Self> {
        cmd.env("LOG_LEVEL", "info").env("NO_COLOR", "1");
        let mut child =
            KilledOnDrop::spawn(cmd, &log_dir.join("gateway.log")).context("while starting porthole-gateway")?;
        let addr = child.wait_for_line("porthole-gateway listening on ", STARTUP)?;
        let addr = addr.parse().with_context(|| format!("the listening address {addr:?}"))?;
        Ok(Self { child, addr })
    }

    /// Everything it wrote so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Sends SIGTERM and waits (up to 15 s) for it to exit.
    ///
    /// # Errors
    /// When it does not exit in time (it is then killed).
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.child.terminate(Duration::from_secs(15))
    }

    /// Waits up to `within` for it to exit by itself (after signals a test sent).
    ///
    /// # Errors
    /// When it does not exit in time (it is killed when dropped).
    pub fn wait_exit(&mut self, within: Duration) -> anyhow::Result<std::process::ExitStatus> {
        crate::eventually::poll_until_blocking("exit", within, || Ok(self.child.try_wait()))
    }
}
