//! Shared harness for the gateway's integration tests: a gateway on `127.0.0.1:0` with test
//! certificates, and a raw TLS client that speaks CONNECT byte by byte.
#![allow(dead_code, missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use porthole_gateway::token::TokenKeys;
use porthole_gateway::{Gateway, Running};
use porthole_testkit::certs::{CertPair, TestPki};
use porthole_testkit::idp::{self, Idp};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
        let (keys, _) = TokenKeys::new(Some(&self.signing_key_pem), self.base_url(), Duration::from_secs(3600)).unwrap();
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

/// A client config trusting `ca_pem`, ALPN `http/1.1`, with an optional client certificate.
pub fn client_config(ca_pem: &str, client: Option<&CertPair>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match client {
        Some(pair) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes()).map(Result::unwrap).collect();
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg
}

pub async fn tls_connect(addr: SocketAddr, ca_pem: &str, client: Option<&CertPair>) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(ca_pem, client)));
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// A CONNECT response: status, the raw head, any body, and the stream for relaying.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
    pub stream: TlsStream<TcpStream>,
    /// Bytes read past the head of a 200 (belong to the tunnel).
    pub early: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn connect_on(mut stream: TlsStream<TcpStream>, authority: &str, headers: &[(&str, &str)]) -> Reply {
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: Go-http-client/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write CONNECT");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut chunk).await.expect("read response");
        assert!(n > 0, "gateway closed before answering: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut rest = buf[end..].to_vec();
    let mut reply = Reply { status, head, body: Vec::new(), stream, early: Vec::new() };
    if status == 200 {
        reply.early = rest;
        return reply;
    }
    if let Some(len) = reply.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        while rest.len() < len {
            let n = reply.stream.read(&mut chunk).await.expect("read body");
            if n == 0 {
                break;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
    }
    reply.body = rest;
    reply
}
