//! The one kill-on-drop child wrapper every test uses ([`KilledOnDrop`]), the workspace's
//! binaries ([`bin`]), and reading the log of a process that is still writing it.
//!
//! Readiness is polled with a deadline, never slept for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::eventually::poll_until_blocking;

/// A child process that is killed (and reaped) when dropped, usually with its output in a log
/// file.
#[derive(Debug)]
pub struct KilledOnDrop {
    child: Option<Child>,
    log: Option<PathBuf>,
}

impl KilledOnDrop {
    /// Spawns `cmd` with stdin closed and stdout and stderr written to `log`.
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
        Ok(Self { child: Some(child), log: Some(log.to_owned()) })
    }

    /// Takes charge of a child spawned by the caller (with pipes of its own, say): it is
    /// killed on drop like any other. [`KilledOnDrop::log`] is then empty.
    #[must_use]
    pub fn adopt(child: Child) -> Self {
        Self { child: Some(child), log: None }
    }

    /// The child's process id (0 once it was stopped).
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its exit status if it has exited, `None` while it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// `true` while the process runs.
    pub fn running(&mut self) -> bool {
        self.child.is_some() && self.try_wait().is_none()
    }

    /// Everything in its log so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.log.as_ref().and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default()
    }

    /// The last 20 lines of its log, for error messages.
    #[must_use]
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits for a complete log line starting with `prefix` and returns the rest of it.
    ///
    /// # Errors
    /// When the child exits first or `within` passes; the error carries the log.
    pub fn wait_for_line(&mut self, prefix: &str, within: Duration) -> anyhow::Result<String> {
        poll_until_blocking(&format!("log a line starting {prefix:?}"), within, || {
            let text = self.log();
            if let Some(rest) = complete_lines(&text).find_map(|l| l.strip_prefix(prefix)) {
                return Ok(Some(rest.trim().to_owned()));
            }
            if let Some(status) = self.try_wait() {
                anyhow::bail!("it exited ({status}) first");
            }
            Ok(None)
        })
        .map_err(|e| e.context(format!("{:?}; its log:\n{}", self.log, self.log())))
    }

    /// Sends SIGTERM and waits up to `within` for it to exit (it is killed after that).
    ///
    /// # Errors
    /// When it was already stopped, or does not exit in time.
    pub fn terminate(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let waited = poll_until_blocking("exit after SIGTERM", within, || Ok(child.try_wait()?));
        if waited.is_err() {
            let _ = child.kill();
            let _ = child.wait();
        }
        waited.context("the process ignored SIGTERM")
    }
}

impl Drop for KilledOnDrop {
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

/// The path of a workspace binary (`porthole-gateway`, `porthole`, …) in the target directory
/// this test was built into; when it is missing (`cargo nextest run -p porthole-tunnel` builds
/// no other package's binaries), it is built first with `cargo build --workspace --bin <name>`.
///
/// # Panics
/// When it is missing and cannot be built.
#[must_use]
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let path = profile_dir.join(name);
    if !path.exists() {
        build(name, profile_dir);
    }
    assert!(path.exists(), "{} is not built; run `cargo build --workspace` (make test does)", path.display());
    path
}

/// `cargo build --workspace --bin name` into the target dir and profile of `profile_dir`.
fn build(name: &str, profile_dir: &Path) {
    let target_dir = profile_dir.parent().expect("target dir");
    let profile = profile_dir.file_name().and_then(|p| p.to_str()).unwrap_or("debug");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--workspace", "--bin", name, "--profile", profile])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
    assert!(out.status.success(), "`cargo build --bin {name}` failed:\n{}", String::from_utf8_lossy(&out.stderr));
}
