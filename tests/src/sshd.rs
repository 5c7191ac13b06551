//! A real `sshd` on a loopback port for the `ProxyCommand` test, with a throwaway host key and
//! a client key authorised for the current user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

/// A running `sshd`, killed on drop.
pub struct Sshd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The client private key authorised to log in.
    pub client_key: PathBuf,
    /// The user it lets in (the current user).
    pub user: String,
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .context("ssh-keygen (make test installs openssh-client)")?
        .success();
    anyhow::ensure!(ok, "ssh-keygen failed");
    Ok(())
}

impl Sshd {
    /// Starts `/usr/sbin/sshd -D` on a free loopback port, configured from `dir`.
    ///
    /// # Errors
    /// When sshd is missing or does not accept connections within 10 s.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("id_ed25519");
        keygen(&host_key)?;
        keygen(&client_key)?;
        let authorized = dir.join("authorized_keys");
        std::fs::copy(dir.join("id_ed25519.pub"), &authorized)?;
        let port = porthole_testkit::process::free_port();
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "root".into());
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nAllowUsers {user}\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display(),
            ),
        )?;
        std::fs::create_dir_all("/run/sshd").ok();
        let log = std::fs::File::create(dir.join("sshd.log"))?;
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("/usr/sbin/sshd (make test installs openssh-server)")?;
        let mut me = Self { child, port, client_key, user };
        porthole_testkit::eventually::poll_until_blocking(
            &format!("listen on {port}"),
            Duration::from_secs(10),
            || {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Some(()));
                }
                if let Ok(Some(s)) = me.child.try_wait() {
                    let log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
                    anyhow::bail!("sshd exited ({s}):\n{log}");
                }
                Ok(None)
            },
        )
        .context("sshd")?;
        Ok(me)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
