//! One login per proxy even when the token store cannot keep the token: `porthole tcp` with
//! the file store in a cache directory below a regular file (every load and store fails), the
//! real gateway and identity provider, and the test browser counting its launches.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use porthole_e2e::bin;
use porthole_e2e::stack::{Porthole, Stack};
use porthole_testkit::echo::EchoServer;

/// Writes `msg` through the local port and reads the echo.
fn echo_through(addr: std::net::SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got)?;
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_store_costs_one_login_for_three_connections() {
    let echo = EchoServer::start().await;
    let routes = format!(
        "  - from: tcp+https://echo.corp.example.com:7000\n    to: tcp://{}\n    allow_any_authenticated_user: true\n",
        echo.addr
    );
    let stack = Stack::start(&routes).await.unwrap();
    // A cache directory below a regular file: creating, reading and writing in it all fail.
    let blocker = stack.dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"a regular file").unwrap();
    let cache = blocker.join("cache");
    let mut cmd = stack.porthole("alice@example.com");
    cmd.env("PORTHOLE_TOKEN_STORE", "file")
        .env("PORTHOLE_CACHE_DIR", &cache)
        .arg("tcp")
        .arg("echo.corp.example.com:7000")
        .args(["--pomerium-url", &stack.url(), "--alternate-ca-path"])
        .arg(&stack.ca_path)
        .arg("--browser-cmd")
        .arg(bin("porthole-test-browser"));
    let tunnel = Porthole::spawn(cmd, &stack.dir.path().join("porthole-unwritable.log")).unwrap();

    for i in 0..3 {
        let msg = format!("connection {i}");
        let got = echo_through(tunnel.addr, msg.as_bytes())
            .unwrap_or_else(|e| panic!("connection {i}: {e}\n{}", tunnel.log()));
        assert_eq!(got, msg.as_bytes(), "connection {i} echoes its own bytes through the tunnel");
    }
    let log = tunnel.log();
    assert_eq!(stack.launches(), 1, "the token kept in memory serves connections 2 and 3 without a login:\n{log}");
    assert_eq!(
        log.matches("could not store the token").count(),
        1,
        "the store failure is reported once per process, not per connection:\n{log}"
    );
    assert!(
        log.contains("kept in memory until this process exits"),
        "the warning says what happens to the token:\n{log}"
    );
    assert!(
        log.matches("could not read the stored token").count() <= 1,
        "a failing load is reported at most once:\n{log}"
    );
    assert!(!cache.exists(), "nothing was written below the regular file");
    assert!(log.contains("logged in to https://127.0.0.1:"), "{log}");
}
