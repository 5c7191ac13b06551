//! Shared harness for the gateway's integration tests: a gateway on `127.0.0.1:0` with test
//! certificates, and a raw TLS client that speaks CONNECT byte by byte.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use porthole_gateway::token::TokenKeys;
use porthole_gateway::{Gateway, Running};
use porthole_testkit::certs::{CertPair, TestPki};
pub use porthole_testkit::connect::{Reply, connect_on, tls_connect};
use porthole_testkit::idp::{self, Idp};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A running gateway and what a test needs to talk to it.
pub struct Stack {
    pub pki: TestPki,
    pub dir: tempfile::TempDir,
    pub gateway: Option<Running>,
    pub addr: SocketAddr,
    pub idp: Option<Idp>,
    pub signing_key_pem: String,
    pub yaml: String,
}

/// Options for [`Stack::start`].
#[derive(Default)]
pub struct Opts<'a> {
    /// YAML list items under `routes:` (each starting with `  - from:`).
    pub routes: &'a str,
    /// Extra top-level YAML (e.g. `downstream_mtls:`), `{dir}` replaced by the temp dir.
    pub extra: &'a str,
    /// Start the real identity provider.
    pub idp: bool,
}

impl Stack {
    pub async fn start(opts: Opts<'_>) -> Stack {
        let pki = TestPki::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let server = pki.server_cert(&["localhost", "127.0.0.1"]);
        let paths = server.write_to(dir.path(), "server").expect("write server cert");
        let signing_key_pem = rcgen::KeyPair::generate().expect("P-256 key").serialize_pem();
        let idp = if opts.idp { Some(Idp::start().await.expect("start the identity provider")) } else { None };
        let issuer = idp.as_ref().map(|i| i.issuer_str().to_owned()).unwrap_or_else(|| "http://127.0.0.1:9".into());
        let yaml = format!(
            "address: 127.0.0.1:0\n\
             certificate_file: {cert}\n\
             certificate_key_file: {key}\n\
             signing_key: {signing}\n\
             idp_provider: oidc\n\
             idp_provider_url: {issuer}\n\
             idp_client_id: {client}\n\
             idp_client_secret: {secret}\n\
             idp_scopes: [openid, profile, email, groups]\n\
             {extra}\n\
             routes:\n{routes}\n",
            cert = paths.cert.display(),
            key = paths.key.display(),
            signing = base64::engine::general_purpose::STANDARD.encode(&signing_key_pem),
            client = idp::CLIENT_ID,
            secret = idp::CLIENT_SECRET,
            extra = opts.extra.replace("{dir}", &dir.path().display().to_string()),
            routes = opts.routes.replace("{dir}", &dir.path().display().to_string()),
        );
        let loaded = porthole_gateway::config::parse_str(&yaml, dir.path())
            .unwrap_or_else(|e| panic!("test config must load: {e:?}\n{yaml}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gateway = Gateway::new(loaded.config).expect("gateway builds").serve(listener).expect("serve");
        let addr = gateway.local_addr();
        Stack { pki, dir, gateway: Some(gateway), addr, idp, signing_key_pem, yaml }
    }

    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Signs a token with the gateway's key, as a login would, for `claims`.
    pub fn mint(&self, claims: serde_json::Value) -> String {
        let (keys, _) =
            TokenKeys::new(Some(&self.signing_key_pem), self.base_url(), Duration::from_secs(3600)).unwrap();
        keys.issue(claims.as_object().expect("claims object")).expect("sign")
    }

    /// A token for one of the identity provider's accounts, minted directly.
    pub fn token_for(&self, email: &str) -> String {
        let account = idp::ACCOUNTS.iter().find(|a| a.email == email).expect("known account");
        self.mint(serde_json::json!({
            "sub": account.sub, "email": account.email, "groups": account.groups, "department": account.department,
        }))
    }

    /// Opens TLS to the gateway (optionally with a client certificate).
    pub async fn tls(&self, client: Option<&CertPair>) -> std::io::Result<TlsStream<TcpStream>> {
        tls_connect(self.addr, self.pki.ca_pem(), client).await
    }

    /// Sends `CONNECT authority` with `headers` and reads the response head.
    pub async fn connect(&self, authority: &str, headers: &[(&str, &str)], client: Option<&CertPair>) -> Reply {
        let stream = self.tls(client).await.expect("TLS to the gateway");
        connect_on(stream, authority, headers).await
    }
}
