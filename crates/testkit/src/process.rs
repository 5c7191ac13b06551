//! Real servers as child processes (`redis-server`, `tinyproxy`), plus port helpers.
//!
//! Every child is killed when its handle is dropped. Readiness is polled with a deadline, never
//! slept for.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::eventually::poll_until;

/// How long a spawned server may take to accept connections.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(15);

/// Returns a loopback TCP port that was free a moment ago.
///
/// The port is found by binding `127.0.0.1:0` and closing the listener, so another process can
/// take it before the caller does: use it only for servers that cannot bind port 0 themselves.
///
/// # Panics
/// If no loopback port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind an ephemeral loopback port").port()
}

/// Waits until a TCP connection to `addr` succeeds, or fails after `within`.
///
/// # Errors
/// When nothing accepts on `addr` before the deadline; the error carries the last connect error.
pub async fn wait_for_port(addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
    poll_until(&format!("waiting for {addr} to accept"), within, || async { TcpStream::connect(addr).await.map(drop) })
        .await
}

/// A child process that is killed (and reaped) when dropped, with its output in a log file.
#[derive(Debug)]
pub struct KilledOnDrop {
    child: Child,
    log: PathBuf,
}

impl KilledOnDrop {
    /// Spawns `cmd` with stdin closed and stdout and stderr appended to `log`.
    ///
    /// # Errors
    /// When the log file cannot be created or the program cannot be started.
    pub fn spawn(mut cmd: Command, log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::File::create(log).with_context(|| format!("while creating {}", log.display()))?;
        let err = out.try_clone().context("while duplicating a log file handle")?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("while starting {:?}", cmd.get_program()))?;
        Ok(Self { child, log: log.to_owned() })
    }

    /// The child's process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the child's log, for error messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` on `127.0.0.1:<port>` with persistence off.
#[derive(Debug)]
pub struct Redis {
    /// The port it listens on (loopback only).
    pub port: u16,
    /// Its address, `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    _child: KilledOnDrop,
    _dir: tempfile::TempDir,
}

/// Starts `redis-server` on a free loopback port and waits until it answers `PING`.
///
/// # Errors
/// When `redis-server` is not installed (run `make test`), cannot start, or does not answer
/// `PING` within [`STARTUP_DEADLINE`]; the error includes the end of its log.
pub async fn spawn_redis() -> anyhow::Result<Redis> {
    let dir = tempfile::tempdir().context("while creating a directory for redis")?;
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path());
    let child = KilledOnDrop::spawn(cmd, &dir.path().join("redis.log"))
        .context("is redis-server installed? `make test` installs it")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if let Err(err) = poll_until("redis PING", STARTUP_DEADLINE, || redis_ping(addr)).await {
        anyhow::bail!("{err}\nredis log:\n{}", child.log_tail());
    }
    Ok(Redis { port, addr, _child: child, _dir: dir })
}

/// Sends an inline `PING` to the Redis server at `addr` and checks for `+PONG`.
///
/// # Errors
/// When the connection fails or the answer is not `+PONG`.
pub async fn redis_ping(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(b"PING\r\n").await?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await?;
    let answer = String::from_utf8_lossy(&buf[..n]);
    anyhow::ensure!(answer.starts_with("+PONG"), "unexpected PING answer {answer:?}");
    Ok(())
}

/// A `tinyproxy` forward proxy (HTTP and `CONNECT` to any port) on `127.0.0.1:<port>`.
#[derive(Debug)]
pub struct TinyProxy {
    /// The port it listens on (loopback only).
    pub port: u16,
    /// Its address, `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    child: KilledOnDrop,
    _dir: tempfile::TempDir,
}

impl TinyProxy {
    /// The proxy's log so far (it logs every request), for assertions and error messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        self.child.log_tail()
    }
}

/// Starts `/usr/bin/tinyproxy` in the foreground with its own config and waits for its port.
///
/// Only 127.0.0.1 may use it; with no `ConnectPort` line, `CONNECT` is allowed to every port.
///
/// # Errors
/// When tinyproxy is not installed (run `make test`), cannot start, or does not listen within
/// [`STARTUP_DEADLINE`]; the error includes the end of its log.
pub async fn spawn_tinyproxy() -> anyhow::Result<TinyProxy> {
    let dir = tempfile::tempdir().context("while creating a directory for tinyproxy")?;
    let port = free_port();
    let conf = dir.path().join("tinyproxy.conf");
    let pid = dir.path().join("tinyproxy.pid");
    // No LogFile and no Syslog: tinyproxy logs to stdout, which goes to our log file.
    let text = format!(
        "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nMaxClients 50\n\
         LogLevel Info\nPidFile \"{}\"\nDisableViaHeader Yes\n",
        pid.display()
    );
    std::fs::write(&conf, text).context("while writing tinyproxy.conf")?;
    let mut cmd = Command::new("/usr/bin/tinyproxy");
    cmd.arg("-d").arg("-c").arg(&conf);
    let child = KilledOnDrop::spawn(cmd, &dir.path().join("tinyproxy.log"))
        .context("is tinyproxy installed? `make test` installs it")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if let Err(err) = wait_for_port(addr, STARTUP_DEADLINE).await {
        anyhow::bail!("{err}\ntinyproxy log:\n{}", child.log_tail());
    }
    Ok(TinyProxy { port, addr, child, _dir: dir })
}
