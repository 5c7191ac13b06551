//! What the end-to-end suites share: finding the workspace's binaries and running
//! `porthole-gateway` as a real process.
//!
//! The suites themselves live in `tests/tests/*.rs`.
#![forbid(unsafe_code)]

pub mod bare;
pub mod desktop;
pub mod live;
pub mod sshd;
pub mod stack;
pub mod webdriver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use porthole_testkit::eventually::poll_until_blocking;

/// How long a process gets to say it is listening.
pub const STARTUP: Duration = Duration::from_secs(20);

/// The path of a workspace binary (`porthole-gateway`, …) built beside this test.
///
/// # Panics
/// When the binary has not been built (`cargo build --workspace` builds it; `make test` does).
#[must_use]
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace` (make test does)", path.display());
    path
}

/// A `porthole-gateway` process, stopped (SIGKILL) on drop.
#[derive(Debug)]
pub struct GatewayProcess {
    child: Option<Child>,
    log: PathBuf,
    /// The address it printed in `porthole-gateway listening on …`.
    pub addr: SocketAddr,
}

impl GatewayProcess {
    /// Runs `porthole-gateway --config <config>`, its stderr in `<log_dir>/gateway.log`, and
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
        let log = log_dir.join("gateway.log");
        let file = std::fs::File::create(&log)?;
        let child = cmd
            .env("LOG_LEVEL", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .context("while starting porthole-gateway")?;
        let mut me = Self { child: Some(child), log, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let addr = poll_until_blocking("listen", STARTUP, || {
            let text = me.log();
            if let Some(addr) = complete_lines(&text).find_map(|l| l.strip_prefix("porthole-gateway listening on ")) {
                return Ok(Some(addr.trim().parse::<SocketAddr>().context("listening address")?));
            }
            if let Some(status) = me.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                anyhow::bail!("porthole-gateway exited ({status}) before listening:\n{text}");
            }
            Ok(None)
        })
        .map_err(|e| e.context(format!("porthole-gateway; its log:\n{}", me.log())))?;
        me.addr = addr;
        Ok(me)
    }

    /// Everything it wrote to stderr so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `within` for it to exit by itself (after signals a test sent).
    ///
    /// # Errors
    /// When it does not exit in time (it is then killed).
    pub fn wait_exit(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let waited = poll_until_blocking("exit", within, || Ok(child.try_wait()?));
        if waited.is_err() {
            let _ = child.kill();
        }
        waited
    }

    /// Sends SIGTERM and waits (up to 15 s) for it to exit.
    ///
    /// # Errors
    /// When it does not exit in time (it is then killed).
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let waited = poll_until_blocking("exit after SIGTERM", Duration::from_secs(15), || Ok(child.try_wait()?));
        if waited.is_err() {
            let _ = child.kill();
        }
        waited.context("porthole-gateway ignored SIGTERM")
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The lines of a log another process is still writing, without the last one unless it is
/// finished: stderr is unbuffered, so a line can be read half-written.
pub fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive('\n').filter_map(|l| l.strip_suffix('\n')).map(|l| l.strip_suffix('\r').unwrap_or(l))
}
