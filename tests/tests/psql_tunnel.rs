//! `psql` through `porthole tcp`, one of the uses the README names: a real PostgreSQL server
//! (`initdb` + `postgres` from Debian's `postgresql` package, in a temporary directory, on a
//! loopback port) behind `porthole-gateway`, and the real `psql` client talking to the tunnel's
//! local port. The assertions are on the query results, byte for byte.
//!
//! PostgreSQL refuses to run as root: under root the server runs as the `postgres` user the
//! Debian package creates (`CommandExt::uid`/`gid`), and the data directory is handed to it.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use porthole_e2e::cli::PortholeCli as _;
use porthole_testkit::child::KilledOnDrop;
use porthole_testkit::eventually::poll_until_blocking;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::process::free_port;

/// How long `initdb`, the server's start, or one `psql` may take on a loaded 2-core machine.
const PG_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `cmd` to its end, its output in files (a pipe would stall a 1 MB answer while we poll),
/// and kills it if it has not ended within `within`.
fn run_within(mut cmd: Command, within: Duration) -> anyhow::Result<Output> {
    let dir = tempfile::tempdir()?;
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(&err)?)
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let waited = poll_until_blocking(&format!("{:?} to finish", cmd.get_program()), within, || Ok(child.try_wait()?));
    let status = waited.inspect_err(|_| {
        let _ = child.kill();
        let _ = child.wait();
    })?;
    Ok(Output { status, stdout: std::fs::read(out)?, stderr: std::fs::read(err)? })
}

/// The directory holding `initdb`, `postgres`, `pg_isready` and `psql` (the newest version
/// installed under `/usr/lib/postgresql`; Debian keeps them off `PATH`).
fn pg_bin_dir() -> anyhow::Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .with_context(|| format!("{} is missing: install the postgresql package (`make test` does)", root.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context("no PostgreSQL server under /usr/lib/postgresql: install postgresql")
}

/// Who the server runs as: `None` (this user) unless we are root, then the `postgres` account.
fn server_account() -> anyhow::Result<Option<(u32, u32)>> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next());
    if uid != Some("0") {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let entry = passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 3 && f[0] == "postgres");
    let entry =
        entry.context("running as root, and there is no `postgres` user to run PostgreSQL as (install postgresql)")?;
    Ok(Some((entry[2].parse()?, entry[3].parse()?)))
}

/// A PostgreSQL server in a temporary directory on `127.0.0.1:<port>`, trusting every local
/// connection; stopped on drop (a fast shutdown, so it removes its shared memory; killed if
/// that fails).
struct Postgres {
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    account: Option<(u32, u32)>,
    server: KilledOnDrop,
    _dir: tempfile::TempDir,
}

/// A command running `program` from `bin` as `account` (or as this user).
fn pg_command(bin: &Path, program: &str, account: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(bin.join(program));
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid);
    }
    cmd.env_remove("PGDATA").env("LC_ALL", "C");
    cmd
}

impl Postgres {
    fn start() -> anyhow::Result<Self> {
        let bin = pg_bin_dir()?;
        let account = server_account()?;
        let dir = tempfile::tempdir()?;
        let as_server = |program: &str| pg_command(&bin, program, account);
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("handing the data directory to postgres")?;
        }
        let data = dir.path().join("data");
        let mut initdb = as_server("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        let initdb = run_within(initdb, PG_DEADLINE).context("running initdb")?;
        anyhow::ensure!(
            initdb.status.success(),
            "initdb failed ({}):\n{}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stderr)
        );
        let port = free_port();
        let mut cmd = as_server("postgres");
        cmd.arg("-D").arg(&data).args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"]).arg(dir.path());
        cmd.args(["-c", "fsync=off", "-c", "max_connections=20"]);
        let server = KilledOnDrop::spawn(cmd, &dir.path().join("postgres.log")).context("starting postgres")?;
        let me = Self { port, bin, data, account, server, _dir: dir };
        poll_until_blocking("postgres accepting connections", PG_DEADLINE, || {
            let ready = Command::new(me.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
                .stdout(Stdio::null())
                .status()?;
            Ok(ready.success().then_some(()))
        })
        .with_context(|| format!("its log:\n{}", me.server.log_tail()))?;
        Ok(me)
    }

    /// Runs `psql -X -A -t -c <sql>` against `127.0.0.1:<port>` as the `postgres` role.
    fn psql(&self, port: u16, sql: &str) -> Output {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "20")
            .env_remove("PGPASSWORD");
        run_within(cmd, PG_DEADLINE).expect("psql (make test installs postgresql) ends within its deadline")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg_command(&self.bin, "pg_ctl", self.account)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "-t", "15", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_queries_a_real_postgres_through_porthole_tcp() {
    let pg = Postgres::start().expect("a PostgreSQL server");
    let direct = pg.psql(pg.port, "SELECT 40+2");
    assert_eq!(direct.stdout, b"42\n", "the server answers directly: {}", String::from_utf8_lossy(&direct.stderr));

    let routes = format!(
        "  - from: tcp+https://pg.corp.example.com:5432\n    to: tcp://127.0.0.1:{}\n    allowed_users: [alice@example.com]\n",
        pg.port
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let tunnel = stack.tcp("pg.corp.example.com:5432", "alice@example.com", &[]).unwrap();
    let port = tunnel.addr.port();

    let out = pg.psql(port, "SELECT 40+2");
    assert_eq!(
        out.stdout,
        b"42\n",
        "SELECT 40+2 through the tunnel: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        tunnel.log()
    );
    // A reply of 1 MB, and the server's own view of the session: the tunnel's peer is loopback.
    let out = pg.psql(port, "SELECT repeat('pq', 500000), inet_client_addr()");
    let expected = format!("{}|127.0.0.1\n", "pq".repeat(500_000));
    assert!(
        out.stdout == expected.as_bytes(),
        "1 MB row through the tunnel ({} bytes back): {}",
        out.stdout.len(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pg.psql(port, "SELECT nosuchcolumn");
    assert!(!out.status.success(), "an SQL error reaches psql as an error");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("column \"nosuchcolumn\" does not exist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(stack.launches(), 1, "one login for every psql connection");
    let log = tunnel.log();
    assert!(log.contains("disconnected (sent"), "each psql connection ends with its byte counts: {log}");
}
