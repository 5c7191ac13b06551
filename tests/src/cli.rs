//! Running `porthole` against a [`TestGateway`]: its environment (file token store, the test
//! browser logging in as a given account), `porthole tcp` as a child killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use porthole_testkit::child::{KilledOnDrop, bin};
use porthole_testkit::gateway::{STARTUP, TestGateway};

/// `porthole` commands for a test gateway (with the identity provider).
pub trait PortholeCli {
    /// The token cache dir every `porthole` of this gateway shares.
    fn cache_dir(&self) -> PathBuf;

    /// The file `porthole-test-browser` appends one line to per launch.
    fn launches_file(&self) -> PathBuf;

    /// How many times the test browser was launched.
    fn launches(&self) -> usize {
        std::fs::read_to_string(self.launches_file()).map(|s| s.lines().count()).unwrap_or(0)
    }

    /// A `porthole` command with this gateway's environment: file token store in its cache
    /// dir, the test browser logging in as `email`.
    fn porthole(&self, email: &str) -> Command;

    /// `porthole tcp <destination> --pomerium-url <gateway> --alternate-ca-path <ca>
    /// --browser-cmd porthole-test-browser <extra…>` on a free local port.
    ///
    /// # Errors
    /// When it does not print `listening on` within [`STARTUP`].
    fn tcp(&self, destination: &str, email: &str, extra: &[&str]) -> anyhow::Result<Porthole>;

    /// `porthole udp …` with the same flags as [`PortholeCli::tcp`].
    ///
    /// # Errors
    /// When it does not print `listening on` within [`STARTUP`].
    fn udp(&self, destination: &str, email: &str, extra: &[&str]) -> anyhow::Result<Porthole>;
}

impl<S> PortholeCli for TestGateway<S> {
    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn launches_file(&self) -> PathBuf {
        self.dir.path().join("browser-launches.txt")
    }

    fn porthole(&self, email: &str) -> Command {
        let mut cmd = Command::new(bin("porthole"));
        cmd.env("PORTHOLE_TOKEN_STORE", "file")
            .env("PORTHOLE_CACHE_DIR", self.cache_dir())
            .env("PORTHOLE_TEST_EMAIL", email)
            .env("PORTHOLE_TEST_CA", &self.ca_path)
            .env("PORTHOLE_TEST_LAUNCHES", self.launches_file())
            .env("NO_COLOR", "1");
        cmd
    }

    fn tcp(&self, destination: &str, email: &str, extra: &[&str]) -> anyhow::Result<Porthole> {
        tunnel(self, "tcp", destination, email, extra)
    }

    fn udp(&self, destination: &str, email: &str, extra: &[&str]) -> anyhow::Result<Porthole> {
        tunnel(self, "udp", destination, email, extra)
    }
}

/// `porthole <kind> <destination>` with the test gateway's flags.
fn tunnel<S>(
    gw: &TestGateway<S>,
    kind: &str,
    destination: &str,
    email: &str,
    extra: &[&str],
) -> anyhow::Result<Porthole> {
    let mut cmd = gw.porthole(email);
    cmd.arg(kind)
        .arg(destination)
        .arg("--pomerium-url")
        .arg(gw.url())
        .arg("--alternate-ca-path")
        .arg(&gw.ca_path)
        .arg("--browser-cmd")
        .arg(bin("porthole-test-browser"))
        .args(extra);
    Porthole::spawn(cmd, &gw.dir.path().join(format!("porthole-{}.log", unique())))
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// A running `porthole tcp` or `porthole udp`, killed on drop.
pub struct Porthole {
    child: KilledOnDrop,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl Porthole {
    /// Spawns `cmd` (output to `log`) and waits for `listening on`.
    ///
    /// # Errors
    /// When it exits or does not listen within [`STARTUP`].
    pub fn spawn(cmd: Command, log: &Path) -> anyhow::Result<Self> {
        let mut child = KilledOnDrop::spawn(cmd, log)?;
        let addr = child.wait_for_line("listening on ", STARTUP)?;
        Ok(Self { addr: addr.parse()?, child })
    }

    /// Its output so far.
    #[must_use]
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// `true` while the process runs.
    pub fn running(&mut self) -> bool {
        self.child.running()
    }
}
