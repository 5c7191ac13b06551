//! What the live-access suites (`tests/tests/live_*.rs`) share: editing a running gateway's
//! config the way an editor saves it, signalling the process, and echo tunnels opened with a
//! raw CONNECT that can tell when the gateway ended them.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use porthole_testkit::connect::{connect_on, tls_connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long one echo through a tunnel may take.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

/// Replaces everything after the `routes:` line of `config` with `routes`, as an editor saves:
/// a new file beside it, renamed over the old one.
///
/// # Errors
/// When the file cannot be read or written, or has no `routes:` line.
pub fn replace_routes(config: &Path, routes: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config)?;
    let head = text.find("\nroutes:\n").context("the config has a `routes:` line")? + "\nroutes:\n".len();
    write_by_rename(config, &format!("{}{routes}", &text[..head]))
}

/// Writes `text` to `path` by writing `path.tmp` and renaming it over `path`.
///
/// # Errors
/// When either step fails.
pub fn write_by_rename(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The 1-based number of the first line of `config` that contains `needle`.
///
/// # Panics
/// When no line does.
#[must_use]
pub fn line_of(config: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(config).expect("read the config");
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("{needle} in the config"))
}

/// Sends `signal` (`HUP`, `TERM`) to process `pid` with `kill`.
///
/// # Errors
/// When `kill` fails.
pub fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status()?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid}: {status}");
    Ok(())
}

/// The id of the gateway process started with `config`.
///
/// # Panics
/// When it is not running.
#[must_use]
pub fn pid_of(config: &Path) -> u32 {
    porthole_testkit::proc_cpu::pid_with_arg(config.to_str().expect("UTF-8 path")).expect("the gateway runs")
}

/// A tunnel through the gateway, opened with a raw HTTP/1.1 CONNECT.
pub struct Tunnel {
    stream: TlsStream<TcpStream>,
}

impl Tunnel {
    /// CONNECTs to `authority` through the gateway at `addr` with `token`.
    ///
    /// # Errors
    /// When TLS fails or the answer is not `200` (the error has the answer).
    pub async fn open(addr: SocketAddr, ca_pem: &str, authority: &str, token: &str) -> anyhow::Result<Self> {
        let stream = tls_connect(addr, ca_pem, None).await?;
        let auth = format!("Pomerium {token}");
        let reply = connect_on(stream, authority, &[("Authorization", &auth)]).await;
        anyhow::ensure!(reply.status == 200, "CONNECT {authority}: {}{}", reply.head, reply.body_text());
        Ok(Self { stream: reply.stream })
    }

    /// Sends `msg` and reads it back from the echo server behind the tunnel.
    ///
    /// # Errors
    /// When the tunnel is closed, reset or slow.
    pub async fn echo(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let round = async {
            self.stream.write_all(msg).await?;
            let mut got = vec![0u8; msg.len()];
            self.stream.read_exact(&mut got).await?;
            anyhow::ensure!(got == msg, "the echo differs");
            Ok(())
        };
        tokio::time::timeout(ECHO_TIMEOUT, round).await.context("no echo within 5 s")?
    }

    /// Waits up to `within` for the gateway to end the tunnel: `Some(how)` (`eof`, or the read
    /// error) when it did, `None` when it was still open at the deadline.
    pub async fn ended_within(&mut self, within: Duration) -> Option<String> {
        let mut buf = [0u8; 256];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => return Some("eof".into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Some(format!("{:?}: {e}", e.kind())),
            }
        }
    }

    /// Half-closes the tunnel (the echo server then closes it): a tunnel that ends on its own.
    ///
    /// # Errors
    /// When the shutdown fails.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.stream.shutdown().await?;
        let mut rest = Vec::new();
        tokio::time::timeout(ECHO_TIMEOUT, self.stream.read_to_end(&mut rest)).await??;
        Ok(())
    }
}

/// The log lines that contain every one of `needles`.
#[must_use]
pub fn lines_with<'a>(log: &'a str, needles: &[&str]) -> Vec<&'a str> {
    porthole_testkit::child::complete_lines(log).filter(|l| needles.iter().all(|n| l.contains(n))).collect()
}
