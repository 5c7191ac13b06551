//! OpenSSL 3's `s_server` and `s_client` as child processes: a second, independent TLS stack
//! for interop tests. Their stdin is fed by a writer thread (commands such as `K` or data),
//! their stdout (the peer's plaintext) and stderr are collected in memory. Killed on drop.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::Context as _;

use crate::eventually::poll_until;
use crate::process::free_port;

/// Output of a child, kept in memory and capped (a test never needs more).
const OUTPUT_CAP: usize = 64 * 1024 * 1024;

/// An `openssl` child with piped stdin, stdout and stderr.
#[derive(Debug)]
pub struct OpenSsl {
    child: Child,
    /// Chunks for stdin; `None` closes it. The writer thread owns the pipe.
    input: Option<mpsc::Sender<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// `127.0.0.1:<port>` for `s_server`, unused for `s_client`.
    pub addr: SocketAddr,
}

impl OpenSsl {
    /// Starts `openssl s_server -accept 127.0.0.1:<free port> <args…>` and waits (at most
    /// `within`) until the port is listening, read from `/proc/net/tcp` so no probe connects.
    ///
    /// # Errors
    /// When `openssl` is not installed, exits early, or does not listen in time.
    pub async fn server(args: &[&str], within: Duration) -> anyhow::Result<Self> {
        let port = free_port();
        let accept = format!("127.0.0.1:{port}");
        let mut me = Self::spawn(&[&["s_server", "-accept", &accept], args].concat())?;
        me.addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut exited = None;
        poll_until("listen", within, || {
            exited = exited.or(me.child.try_wait().ok().flatten());
            let listening = is_listening(port);
            async move {
                match exited {
                    Some(status) => Err(format!("exited ({status}) before listening")),
                    None if listening => Ok(()),
                    None => Err("not listening yet".to_owned()),
                }
            }
        })
        .await
        .with_context(|| format!("openssl s_server on port {port}; its stderr: {}", me.stderr_text()))?;
        anyhow::ensure!(exited.is_none(), "openssl s_server exited: {}", me.stderr_text());
        Ok(me)
    }

    /// Starts `openssl s_client -connect <addr> <args…>`.
    ///
    /// # Errors
    /// When `openssl` cannot be started.
    pub fn client(addr: SocketAddr, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn(&[&["s_client", "-connect", &addr.to_string()], args].concat())
    }

    fn spawn(args: &[&str]) -> anyhow::Result<Self> {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("while starting openssl (Debian package openssl; `make test` installs it)")?;
        let stdin = child.stdin.take().context("openssl stdin")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || feed(stdin, &rx));
        let stdout = collect(child.stdout.take().context("openssl stdout")?);
        let stderr = collect(child.stderr.take().context("openssl stderr")?);
        Ok(Self { child, input: Some(tx), stdout, stderr, addr: SocketAddr::from(([127, 0, 0, 1], 0)) })
    }

    /// Queues `bytes` for the child's stdin (written in order by the writer thread).
    pub fn send(&self, bytes: &[u8]) {
        if let Some(tx) = &self.input {
            let _ = tx.send(bytes.to_vec());
        }
    }

    /// Closes the child's stdin once everything queued is written.
    pub fn close_stdin(&mut self) {
        self.input = None;
    }

    /// Everything the child wrote to stdout so far (for `-quiet` / `-brief`: the peer's data).
    #[must_use]
    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Everything the child wrote to stderr so far, as text.
    #[must_use]
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }

    /// Waits (at most `within`) until stdout holds at least `len` bytes, and returns them all.
    ///
    /// # Errors
    /// At the deadline, with how much arrived and the child's stderr.
    pub async fn wait_stdout(&self, len: usize, within: Duration) -> anyhow::Result<Vec<u8>> {
        poll_until(&format!("receive {len} bytes from openssl"), within, || {
            let out = self.stdout();
            async move { if out.len() >= len { Ok(out) } else { Err(format!("{} bytes so far", out.len())) } }
        })
        .await
        .with_context(|| format!("openssl stdout has {} bytes; stderr: {}", self.stdout().len(), self.stderr_text()))
    }

    /// Waits (at most `within`) for the child to exit on its own; `None` if it is still running.
    #[must_use]
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = &mut self.child;
        poll_until("exit", within, || {
            let status = child.try_wait().ok().flatten();
            async move { status.ok_or("still running") }
        })
        .await
        .ok()
    }

    /// Whether the child has exited (it is reaped if so).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (at most `within`) until stderr contains `needle` at least `count` times.
    ///
    /// # Errors
    /// At the deadline, with the stderr so far.
    pub async fn wait_stderr(&self, needle: &str, count: usize, within: Duration) -> anyhow::Result<()> {
        poll_until(&format!("see {needle:?} ×{count} on openssl's stderr"), within, || {
            let seen = self.stderr_text().matches(needle).count();
            async move { if seen >= count { Ok(()) } else { Err(format!("seen {seen}")) } }
        })
        .await
        .with_context(|| format!("openssl stderr: {}", self.stderr_text()))
    }

    /// The child's process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for OpenSsl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn feed(mut stdin: ChildStdin, rx: &mpsc::Receiver<Vec<u8>>) {
    while let Ok(chunk) = rx.recv() {
        if stdin.write_all(&chunk).and_then(|()| stdin.flush()).is_err() {
            return;
        }
    }
}

fn collect(mut from: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let to = Arc::clone(&sink);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            let Ok(mut out) = to.lock() else { return };
            let room = OUTPUT_CAP.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
        }
    });
    sink
}

/// Whether something listens on `127.0.0.1:<port>` (IPv4 table of `/proc/net/tcp`).
#[must_use]
pub fn is_listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&want.as_str()) && f.get(3) == Some(&"0A")
        })
    })
}

/// Runs `openssl <args…>` in `dir` to completion (key and certificate generation).
///
/// # Errors
/// When it cannot start or exits unsuccessfully; the error has its stderr.
pub fn run(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl").args(args).current_dir(dir).output().context("while running openssl")?;
    anyhow::ensure!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Where [`rsa_pki`] wrote its files.
#[derive(Debug, Clone)]
pub struct RsaPki {
    /// The CA certificate (PEM), what a client must trust.
    pub ca: std::path::PathBuf,
    /// The server certificate for `localhost` (PEM, RSA 2048).
    pub cert: std::path::PathBuf,
    /// Its private key (PEM).
    pub key: std::path::PathBuf,
}

/// Makes an RSA CA and an RSA server certificate for `localhost` with the `openssl` CLI (rcgen
/// with ring cannot generate RSA keys): what the `ECDHE-RSA-*` suites of TLS 1.2 need.
///
/// # Errors
/// When an `openssl` command fails.
pub fn rsa_pki(dir: &Path) -> anyhow::Result<RsaPki> {
    let ext = dir.join("rsa-leaf.ext");
    std::fs::write(&ext, "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")?;
    run(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa-ca.key",
            "-out",
            "rsa-ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=Porthole RSA Test CA",
        ],
    )?;
    run(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa.key",
            "-out",
            "rsa.csr",
            "-subj",
            "/CN=localhost",
        ],
    )?;
    run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "rsa.csr",
            "-CA",
            "rsa-ca.crt",
            "-CAkey",
            "rsa-ca.key",
            "-CAcreateserial",
            "-out",
            "rsa.crt",
            "-days",
            "2",
            "-extfile",
            "rsa-leaf.ext",
        ],
    )?;
    Ok(RsaPki { ca: dir.join("rsa-ca.crt"), cert: dir.join("rsa.crt"), key: dir.join("rsa.key") })
}
