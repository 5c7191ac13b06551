//! What the OpenSSL interop suites share: certificates on disk, the product's own client and
//! server TLS configurations, and our two entry points (`porthole_io::tls::connect` / `accept`)
//! used only through `AsyncRead + AsyncWrite`, so the suites hold whatever type they return.

#![allow(dead_code, reason = "each suite uses a part")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use porthole_gateway::tls::{ClientAuth, SniResolver, server_config};
use porthole_testkit::certs::{CertPair, TestPki};
use porthole_testkit::openssl::{OpenSsl, RsaPki, rsa_pki};
use porthole_tunnel::tls::{ClientIdentity, KeyPem, TlsOptions, client_config};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// Every wait in these suites: generous for a loaded 2-core machine, short next to a hang.
pub const WAIT: Duration = Duration::from_secs(10);

/// A test CA, a server certificate for `localhost`, a client certificate, all on disk.
pub struct Certs {
    /// Keeps the files.
    pub dir: tempfile::TempDir,
    /// The CA.
    pub pki: TestPki,
    /// `ca.crt`.
    pub ca: PathBuf,
    /// The ECDSA server certificate for `localhost`.
    pub server: CertPair,
    /// Its files.
    pub server_crt: PathBuf,
    /// Its key file.
    pub server_key: PathBuf,
    /// A client certificate ("porthole-client").
    pub client: CertPair,
}

impl Certs {
    /// Makes and writes everything.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::new();
        let ca = pki.write_ca_to(dir.path()).unwrap();
        let server = pki.server_cert(&["localhost"]);
        let paths = server.write_to(dir.path(), "server").unwrap();
        let client = pki.client_cert("porthole-client");
        Self { ca, server_crt: paths.cert, server_key: paths.key, server, client, pki, dir }
    }

    /// An RSA CA and server certificate (openssl CLI), for the `ECDHE-RSA-*` suites.
    pub fn rsa(&self) -> RsaPki {
        rsa_pki(self.dir.path()).unwrap()
    }

    /// A path as a `&str` argument.
    pub fn arg(p: &std::path::Path) -> &str {
        p.to_str().unwrap()
    }
}

/// The CLI's client configuration (the product's), trusting `ca_pem`, with an optional client
/// certificate.
pub fn our_client_config(ca_pem: &[u8], client: Option<&CertPair>) -> Arc<rustls::ClientConfig> {
    let opts = TlsOptions {
        disable_verification: false,
        ca_pem: Some(ca_pem.to_vec()),
        ca_label: None,
        client: client.map(|c| ClientIdentity::Pem {
            cert_pem: c.cert_pem.clone().into_bytes(),
            key_pem: KeyPem(c.key_pem.clone().into_bytes()),
        }),
    };
    client_config(&opts).unwrap()
}

/// The gateway's server configuration (the product's) with one certificate.
pub fn our_server_config(cert_pem: &[u8], key_pem: &[u8]) -> Arc<rustls::ServerConfig> {
    let resolver = SniResolver::new(&[(cert_pem.to_vec(), key_pem.to_vec(), "test".into())]).unwrap();
    Arc::new(server_config(resolver, ClientAuth::None).unwrap())
}

/// Our client: TCP to `addr`, then `stream::connect` for `localhost`, within [`WAIT`].
pub async fn our_client(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<impl AsyncRead + AsyncWrite + Unpin + Send> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(WAIT, porthole_io::tls::connect(config, name, tcp))
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("handshake did not finish within the deadline")))
}

/// Our server: accepts one TCP connection on `listener`, then `stream::accept`.
pub async fn our_server(
    listener: &TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<impl AsyncRead + AsyncWrite + Unpin + Send> {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept()).await.map_err(std::io::Error::other)??;
    tokio::time::timeout(WAIT, porthole_io::tls::accept(config, tcp))
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("handshake did not finish within the deadline")))
}

/// A loopback listener and its address.
pub async fn listen() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// `len` bytes of a pattern that is not periodic in small powers of two (binary).
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).wrapping_add((i >> 9) as u8)).collect()
}

/// `lines` lines of nine digits each, starting at `from`: safe on the stdin of an `openssl`
/// that reads command letters (`Q`, `K`, `R`… at the start of a read).
pub fn digits(from: usize, lines: usize) -> Vec<u8> {
    (from..from + lines).flat_map(|i| format!("{i:09}\n").into_bytes()).collect()
}

/// Waits until `openssl` reports its handshake done: `-brief` prints `Ciphersuite: …` on stderr,
/// a non-quiet `s_server` prints `CIPHER is …` on stdout. Data must be queued on an `s_server`'s
/// stdin only then: written while its handshake still runs, part of it can be lost (seen with
/// `openssl s_client` as the peer too, about one run in six).
pub async fn handshake_done(peer: &OpenSsl) {
    porthole_testkit::eventually::poll_until("openssl finishes its handshake", WAIT, || {
        let done =
            peer.stderr_text().contains("Ciphersuite: ") || peer.stdout().windows(10).any(|w| w == b"CIPHER is ");
        async move { if done { Ok(()) } else { Err("not yet") } }
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; openssl's stderr: {}", peer.stderr_text()));
}

/// Reads exactly `n` bytes within [`WAIT`].
pub async fn read_n(s: &mut (impl AsyncRead + Unpin), n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(WAIT, s.read_exact(&mut buf))
        .await
        .map_err(|_| std::io::Error::other(format!("{n} bytes did not arrive within {WAIT:?}")))??;
    Ok(buf)
}
