//! `porthole tcp` end to end, against porthole-gateway and the real identity provider: real
//! `redis-cli`, real `ssh` through `ProxyCommand`, fifty connections sharing one login, the
//! bastion form, client certificates, denial, service accounts, `--no-browser`, and re-login.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use porthole_e2e::cli::PortholeCli as _;
use porthole_e2e::redis::redis_cli;
use porthole_e2e::sshd::Sshd;
use porthole_testkit::certs::TestPki;
use porthole_testkit::child::bin;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::process::spawn_redis;

fn echo_route(from: &str, echo: &EchoServer, extra: &str) -> String {
    format!("  - from: {from}\n    to: tcp://{}\n    allow_any_authenticated_user: true\n{extra}", echo.addr)
}

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
async fn redis_cli_through_porthole_tcp() {
    let redis = spawn_redis().await.expect("redis-server");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: alice@example.com\n            - claim/groups: admins\n",
        redis.addr
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let tunnel = stack.tcp("redis.corp.example.com:6379", "alice@example.com", &[]).unwrap();
    let cli = |args: &[&str], input: Option<&[u8]>| redis_cli(tunnel.addr, args, input);
    let out = cli(&["PING"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "PONG",
        "PING through the tunnel: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        tunnel.log()
    );
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let out = cli(&["-x", "SET", "big"], Some(&value));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK", "SET 1 MiB");
    let out = cli(&["GET", "big"], None);
    assert!(
        out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout) == value.as_slice(),
        "GET returns the 1 MiB value byte for byte"
    );
    assert_eq!(stack.launches(), 1, "one login for three connections");
    let log = tunnel.log();
    assert!(
        log.lines().next().unwrap().starts_with("listening on 127.0.0.1:"),
        "first line says where it listens: {log}"
    );
    assert!(log.contains("logged in to https://127.0.0.1:"), "{log}");
    assert!(log.contains(": connected"), "{log}");
    assert!(log.contains("disconnected (sent"), "byte counts per connection: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_proxycommand_through_listen_stdio() {
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(dir.path()).expect("sshd");
    let routes = format!(
        "  - from: tcp+https://ssh.corp.example.com:22\n    to: tcp://127.0.0.1:{}\n    allow_any_authenticated_user: true\n",
        sshd.port
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let mut proxy = stack.porthole("bob@example.com");
    proxy
        .arg("tcp")
        .arg("ssh.corp.example.com:22")
        .args(["--listen", "-", "--pomerium-url", &stack.url(), "--alternate-ca-path"])
        .arg(&stack.ca_path)
        .arg("--browser-cmd")
        .arg(bin("porthole-test-browser"));
    let proxy_command = format!(
        "{:?} {}",
        proxy.get_program(),
        proxy.get_args().map(|a| format!("'{}'", a.to_string_lossy())).collect::<Vec<_>>().join(" ")
    );
    let out = Command::new("ssh")
        .envs(proxy.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .args([
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-o")
        .arg(format!("ProxyCommand={}", proxy_command.replace('"', "")))
        .arg("-i")
        .arg(&sshd.client_key)
        .arg(format!("{}@ssh.corp.example.com", sshd.user))
        .arg("echo hello-from-sshd")
        .stdin(Stdio::null())
        .output()
        .expect("ssh (make test installs openssh-client)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello-from-sshd",
        "the remote command's output comes back through the tunnel: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stack.launches(), 1, "logged in once inside the ProxyCommand");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_connections_before_login_share_one_browser_launch() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &echo_route("tcp+https://echo.corp.example.com:7000", &echo, ""),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let tunnel = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    let addr = tunnel.addr;
    let tasks: Vec<_> = (0..50)
        .map(|i| std::thread::spawn(move || echo_through(addr, format!("connection {i:02}").as_bytes())))
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let got = t.join().unwrap().unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert_eq!(got, format!("connection {i:02}").as_bytes(), "connection {i} echoes its own bytes");
    }
    assert_eq!(stack.launches(), 1, "fifty waiting connections, exactly one browser launch:\n{}", tunnel.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bastion_form_and_denied_user_sentence() {
    let echo = EchoServer::start().await;
    let routes = echo_route("tcp+https://bastion.example.com:8443/inner.example.com:22", &echo, "")
        + &format!(
            "  - from: tcp+https://admins.corp.example.com:7000\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - claim/groups: admins\n",
            echo.addr
        );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    // The bastion form names the proxy in the URL; --pomerium-url is not needed.
    let port = stack.addr.port();
    let mut cmd = stack.porthole("bob@example.com");
    cmd.arg("tcp")
        .arg(format!("tcp+https://127.0.0.1:{port}/inner.example.com:22"))
        .arg("--alternate-ca-path")
        .arg(&stack.ca_path)
        .arg("--browser-cmd")
        .arg(bin("porthole-test-browser"));
    let bastion = porthole_e2e::cli::Porthole::spawn(cmd, &stack.dir.path().join("bastion.log")).unwrap();
    assert_eq!(echo_through(bastion.addr, b"via bastion").unwrap(), b"via bastion");

    let mut denied = stack.tcp("admins.corp.example.com:7000", "bob@example.com", &[]).unwrap();
    let mut s = TcpStream::connect(denied.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "a denied connection is closed");
    let sentence = "access denied to admins.corp.example.com:7000 for bob@example.com (403)";
    assert!(
        eventually(Duration::from_secs(10), || async { denied.log().contains(sentence) }).await,
        "the 403 sentence names the route and the user:\n{}",
        denied.log()
    );
    assert!(denied.running(), "the listener survives a denied connection");
    assert_eq!(echo_through(bastion.addr, b"still up").unwrap(), b"still up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_route_needs_the_certificate() {
    let echo = EchoServer::start().await;
    let clients = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = clients.write_ca_to(dir.path()).unwrap();
    let pair = clients.client_cert("alice").write_to(dir.path(), "alice").unwrap();
    let routes = echo_route(
        "tcp+https://mtls.corp.example.com:7001",
        &echo,
        &format!("    tls_downstream_client_ca_file: {}\n", ca.display()),
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let without = stack.tcp("mtls.corp.example.com:7001", "alice@example.com", &[]).unwrap();
    let mut s = TcpStream::connect(without.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
    assert!(
        eventually(Duration::from_secs(10), || async {
            without.log().contains("certificate") && without.log().contains("495")
        })
        .await,
        "without a certificate the 495 is explained:\n{}",
        without.log()
    );
    let with = stack
        .tcp(
            "mtls.corp.example.com:7001",
            "alice@example.com",
            &["--client-cert", pair.cert.to_str().unwrap(), "--client-key", pair.key.to_str().unwrap()],
        )
        .unwrap();
    assert_eq!(echo_through(with.addr, b"with cert").unwrap(), b"with cert", "{}", with.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cert_from_store_honours_the_config_dir() {
    // `--client-cert-from-store` reads `<PORTHOLE_CONFIG_DIR>/certs`, the directory the desktop
    // app uses for `clientCert.kind = "store"`; the OS config dir (here an empty XDG one) is
    // not consulted when PORTHOLE_CONFIG_DIR is set.
    let echo = EchoServer::start().await;
    let clients = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = clients.write_ca_to(dir.path()).unwrap();
    let config_dir = dir.path().join("config");
    let store = config_dir.join("certs");
    std::fs::create_dir_all(&store).unwrap();
    clients.client_cert("alice").write_to(&store, "alice").unwrap();
    let routes = echo_route(
        "tcp+https://mtls.corp.example.com:7001",
        &echo,
        &format!("    tls_downstream_client_ca_file: {}\n", ca.display()),
    );
    let stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() }).await.unwrap();
    let mut cmd = stack.porthole("alice@example.com");
    cmd.env("PORTHOLE_CONFIG_DIR", &config_dir)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
        .env_remove("PORTHOLE_CERT_DIR")
        .args(["tcp", "mtls.corp.example.com:7001", "--listen", "127.0.0.1:0", "--pomerium-url", &stack.url()])
        .arg("--alternate-ca-path")
        .arg(&stack.ca_path)
        .arg("--browser-cmd")
        .arg(bin("porthole-test-browser"))
        .arg("--client-cert-from-store");
    let log = stack.dir.path().join("porthole-store.log");
    let tunnel = porthole_e2e::cli::Porthole::spawn(cmd, &log)
        .unwrap_or_else(|e| panic!("porthole starts with the store in the config dir: {e:#}"));
    assert_eq!(
        echo_through(tunnel.addr, b"from the store").unwrap_or_default(),
        b"from the store",
        "the store's certificate passes mTLS:\n{}",
        tunnel.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_needs_no_browser() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &echo_route("tcp+https://echo.corp.example.com:7000", &echo, ""),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let token = stack.mint(&serde_json::json!({"sub": "robot", "email": "robot@example.com"}));
    let file = stack.dir.path().join("sa.jwt");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let a = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &["--service-account", &token]).unwrap();
    assert_eq!(echo_through(a.addr, b"sa").unwrap(), b"sa", "{}", a.log());
    let b = stack
        .tcp("echo.corp.example.com:7000", "alice@example.com", &["--service-account-file", file.to_str().unwrap()])
        .unwrap();
    assert_eq!(echo_through(b.addr, b"sa-file").unwrap(), b"sa-file", "{}", b.log());
    assert_eq!(stack.launches(), 0, "a service account never opens a browser");
    assert!(!a.log().contains(&token), "the token is never printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_browser_prints_the_url_and_waits() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &echo_route("tcp+https://echo.corp.example.com:7000", &echo, ""),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let tunnel = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &["--no-browser"]).unwrap();
    let addr = tunnel.addr;
    let conn = std::thread::spawn(move || echo_through(addr, b"after login"));
    let mut url = None;
    assert!(
        eventually(Duration::from_secs(20), || {
            let found = tunnel.log().lines().map(str::trim).find(|l| l.starts_with("https://")).map(str::to_owned);
            url = found;
            let ok = url.is_some();
            async move { ok }
        })
        .await,
        "the login URL is printed:\n{}",
        tunnel.log()
    );
    assert!(tunnel.log().contains("open this URL in a browser"), "{}", tunnel.log());
    // Someone opens it elsewhere: our stand-in browser, run by hand.
    let ok = Command::new(bin("porthole-test-browser"))
        .arg(url.unwrap())
        .env("PORTHOLE_TEST_CA", &stack.ca_path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "the printed URL completes a login");
    assert_eq!(conn.join().unwrap().unwrap(), b"after login", "the waiting connection proceeds");
    assert_eq!(stack.launches(), 0, "no browser was launched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_token_triggers_exactly_one_relogin() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &echo_route("tcp+https://echo.corp.example.com:7000", &echo, ""),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let first = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(first.addr, b"1").unwrap(), b"1");
    assert_eq!(stack.launches(), 1);
    drop(first);
    // A second run reuses the stored token: no browser.
    let second = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(second.addr, b"2").unwrap(), b"2");
    assert_eq!(stack.launches(), 1, "the stored token is reused across runs");
    drop(second);
    // Replace the stored token with one the gateway refuses (another key): one re-login.
    let cache = stack.cache_dir();
    let mut replaced = 0;
    for entry in walk(&cache) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        if text.split('.').count() == 3 && !entry.to_string_lossy().ends_with(".json") {
            let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
            let foreign = porthole_gateway::token::TokenKeys::new(Some(&other), stack.url(), Duration::from_secs(3600))
                .unwrap()
                .0;
            std::fs::write(&entry, foreign.issue(serde_json::json!({"sub":"alice"}).as_object().unwrap()).unwrap())
                .unwrap();
            replaced += 1;
        }
    }
    assert_eq!(replaced, 1, "exactly one stored token file in {}", cache.display());
    let third = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(third.addr, b"3").unwrap(), b"3", "{}", third.log());
    assert_eq!(stack.launches(), 2, "a refused token costs exactly one new login");
    drop(third);
    // An expired token (exp = now) is not even sent: one new login, no 401 at the gateway.
    let token_file = walk(&cache)
        .into_iter()
        .find(|p| std::fs::read_to_string(p).map(|t| t.split('.').count() == 3).unwrap_or(false))
        .unwrap();
    std::fs::write(&token_file, stack.mint_expired(&serde_json::json!({"sub": "alice"}))).unwrap();
    let refused_before = stack.log().matches("status=401").count();
    let fourth = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(fourth.addr, b"4").unwrap(), b"4", "{}", fourth.log());
    assert_eq!(stack.launches(), 3, "an expired token costs exactly one new login");
    assert_eq!(stack.log().matches("status=401").count(), refused_before, "the expired token was never sent");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_down_leaves_the_listener_up_and_json_events() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin("porthole"));
    cmd.env("PORTHOLE_TOKEN_STORE", "memory").env("PORTHOLE_CACHE_DIR", dir.path()).args([
        "tcp",
        "redis.corp.example.com:6379",
        "--pomerium-url",
        &format!("https://{dead}"),
        "--json",
    ]);
    // --json: the first line is a JSON `listening` event; parse the port from it.
    let log = dir.path().join("porthole.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file).spawn().unwrap();
    let mut addr = None;
    assert!(
        eventually(Duration::from_secs(20), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            addr = text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["event"] == "listening")
                .and_then(|v| v["addr"].as_str().map(str::to_owned));
            let ok = addr.is_some();
            async move { ok }
        })
        .await
    );
    let addr: std::net::SocketAddr = addr.unwrap().parse().unwrap();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "the local connection is closed when the proxy is down");
    }
    let events = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(10), || {
            let n = events().iter().filter(|e| e["event"] == "disconnected").count();
            async move { n == 2 }
        })
        .await,
        "{:?}",
        events()
    );
    let failed: Vec<_> = events().into_iter().filter(|e| e["event"] == "disconnected").collect();
    assert_eq!(failed[0]["code"], "proxy", "{failed:?}");
    assert!(failed[0]["error"].as_str().unwrap().contains(&format!("cannot reach {dead}")), "{failed:?}");
    assert!(matches!(child.try_wait(), Ok(None)), "the listener survives a proxy that is down");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_location_logout_and_clear() {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts {
        routes: &echo_route("tcp+https://echo.corp.example.com:7000", &echo, ""),
        idp: true,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let out = stack.porthole("alice@example.com").args(["cache", "location"]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        stack.cache_dir().to_string_lossy(),
        "cache location prints the cache dir"
    );
    let t = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(t.addr, b"x").unwrap(), b"x");
    drop(t);
    assert_eq!(stack.launches(), 1);
    let out = stack.porthole("alice@example.com").args(["logout", &stack.url()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("logged out of {}", stack.url())),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = stack.tcp("echo.corp.example.com:7000", "alice@example.com", &[]).unwrap();
    assert_eq!(echo_through(t.addr, b"y").unwrap(), b"y");
    drop(t);
    assert_eq!(stack.launches(), 2, "after logout the next connection logs in again");
    let out = stack.porthole("alice@example.com").args(["cache", "clear"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("removed 1 stored token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = walk(&stack.cache_dir())
        .into_iter()
        .filter(|p| std::fs::read_to_string(p).map(|s| s.split('.').count() == 3).unwrap_or(false))
        .collect();
    assert!(left.is_empty(), "no token is left on disk: {left:?}");
}
