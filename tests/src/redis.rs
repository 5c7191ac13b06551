//! `redis-cli` against a local port (a tunnel's), as the suites that carry Redis run it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};

/// Runs `redis-cli -h <ip> -p <port> <args>` with `input` on stdin, and waits for it.
///
/// # Panics
/// When `redis-cli` is not installed (`make test` installs redis-tools).
#[must_use]
pub fn redis_cli(addr: SocketAddr, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = Command::new("redis-cli")
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli (make test installs redis-tools)");
    if let Some(i) = input {
        child.stdin.take().unwrap().write_all(i).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// `redis-cli PING` on `127.0.0.1:<port>`: its answer (`PONG`), or what it said instead.
#[must_use]
pub fn redis_ping(port: u16) -> String {
    let out = redis_cli(SocketAddr::from(([127, 0, 0, 1], port)), &["PING"], None);
    String::from_utf8_lossy(&out.stdout).trim().to_owned() + &String::from_utf8_lossy(&out.stderr)
}
