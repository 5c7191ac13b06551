//! A `porthole-gateway` process without an identity provider (its IdP URL is never fetched
//! unless someone logs in): for suites that only need TLS, tunnels and minted tokens.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use porthole_gateway::token::TokenKeys;
use porthole_testkit::certs::TestPki;

use crate::GatewayProcess;

/// Gateway process, its CA and its token key.
pub struct BareGateway {
    /// The test CA that signed the gateway's certificate (`localhost`, `127.0.0.1`).
    pub pki: TestPki,
    /// Config, certificates, log.
    pub dir: tempfile::TempDir,
    /// The process.
    pub gateway: GatewayProcess,
    /// The CA's PEM file.
    pub ca_path: PathBuf,
    /// The config file: an argument unique to this process.
    pub config: PathBuf,
    signing_key_pem: String,
}

impl BareGateway {
    /// Starts the gateway with `routes` (YAML list items under `routes:`).
    ///
    /// # Errors
    /// When it does not start.
    pub fn start(routes: &str) -> anyhow::Result<Self> {
        Self::start_with(routes, "", &[])
    }

    /// Like [`BareGateway::start`], with extra top-level YAML `extra` (before `routes:`) and
    /// extra command-line arguments (`--drain 5s`).
    ///
    /// # Errors
    /// When it does not start.
    pub fn start_with(routes: &str, extra: &str, args: &[&str]) -> anyhow::Result<Self> {
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
                 idp_provider: oidc\nidp_provider_url: https://idp.invalid\nidp_client_id: porthole\n\
                 idp_client_secret: unused\n{extra}routes:\n{routes}",
                cert.cert.display(),
                cert.key.display(),
                base64::engine::general_purpose::STANDARD.encode(&signing_key_pem),
            ),
        )?;
        let mut cmd = std::process::Command::new(crate::bin("porthole-gateway"));
        cmd.arg("--config").arg(&config).args(args);
        let gateway = GatewayProcess::start_command(cmd, dir.path())?;
        Ok(Self { pki, dir, gateway, ca_path, config, signing_key_pem })
    }

    /// `https://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.gateway.addr.port())
    }

    /// A token for `sub` signed with the gateway's key, valid for an hour.
    ///
    /// # Panics
    /// On an invalid key (it is generated above).
    #[must_use]
    pub fn mint(&self, sub: &str) -> String {
        self.mint_for(sub, Duration::from_secs(3600))
    }

    /// A token for `sub` signed with the gateway's key that expires after `lifetime` (whole
    /// seconds: `exp` is in seconds).
    ///
    /// # Panics
    /// On an invalid key (it is generated above).
    #[must_use]
    pub fn mint_for(&self, sub: &str, lifetime: Duration) -> String {
        let (keys, _) = TokenKeys::new(Some(&self.signing_key_pem), self.url(), lifetime).expect("key");
        let claims = serde_json::json!({"sub": sub, "email": format!("{sub}@example.com")});
        keys.issue(claims.as_object().expect("object")).expect("sign")
    }

    /// The gateway's process id (found by its config path in `/proc`).
    ///
    /// # Panics
    /// When the process is gone.
    #[must_use]
    pub fn pid(&self) -> u32 {
        porthole_testkit::proc_cpu::pid_with_arg(self.config.to_str().expect("UTF-8 path"))
            .expect("the gateway process is running")
    }
}
