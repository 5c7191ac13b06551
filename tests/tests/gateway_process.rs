//! `porthole-gateway` as a real process: log in through the real identity provider with
//! headless Chromium, then reach a real `redis-server` through a CONNECT tunnel; the access log
//! records the tunnel without the token; SIGTERM stops it cleanly.

use std::time::Duration;

use porthole_testkit::browser::login_with_chromium;
use porthole_testkit::callback::CallbackCatcher;
use porthole_testkit::connect::{connect_on, tls_connect};
use porthole_testkit::eventually::eventually;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use porthole_testkit::idp::{ALICE, BOB, PASSWORD};
use porthole_testkit::login::fetch_login_url;
use porthole_testkit::process::spawn_redis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn read_exactly(stream: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).await.expect("read from the tunnel");
    buf
}

#[tokio::test]
async fn chromium_login_then_redis_through_the_gateway_process() {
    let redis = spawn_redis().await.expect("redis-server (make test installs it)");
    let routes = format!(
        "  - from: tcp+https://redis.corp.example.com:6379\n\
         \x20   to: tcp://{}\n\
         \x20   policy:\n\
         \x20     - allow:\n\
         \x20         or:\n\
         \x20           - email:\n\
         \x20               is: alice@example.com\n\
         \x20           - claim/groups: 'admins'\n",
        redis.addr
    );
    let mut stack = TestGateway::start(GatewayOpts { routes: &routes, idp: true, ..GatewayOpts::default() })
        .await
        .expect("IdP and gateway start");
    let (pki, gateway) = (&stack.pki, stack.gateway.as_ref().expect("running"));
    let base = stack.url();

    // A real browser walks the login: gateway sign-in → IdP form → callback → loopback.
    let catcher = CallbackCatcher::start().await.unwrap();
    let login_url = fetch_login_url(&base, &catcher.redirect_uri, Some(pki.ca_pem())).await.expect("login URL");
    let token = login_with_chromium(&catcher, &login_url, ALICE.email, PASSWORD)
        .await
        .unwrap_or_else(|e| panic!("Chromium login: {e:#}\n{}", gateway.log()));

    let stream = tls_connect(gateway.addr, pki.ca_pem(), None).await.unwrap();
    let auth = format!("Pomerium {token}");
    let mut r = connect_on(stream, "redis.corp.example.com:6379", &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 200, "alice's browser-issued token opens the redis route: {}\n{}", r.head, gateway.log());
    let s = &mut r.stream;
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    assert_eq!(read_exactly(s, 7).await, b"+PONG\r\n", "redis answers PING through the tunnel");
    let value: Vec<u8> = (0..1024 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let mut set = format!("*3\r\n$3\r\nSET\r\n$7\r\nbig-key\r\n${}\r\n", value.len()).into_bytes();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    s.write_all(&set).await.unwrap();
    assert_eq!(read_exactly(s, 5).await, b"+OK\r\n", "SET of 1 MiB");
    s.write_all(b"*2\r\n$3\r\nGET\r\n$7\r\nbig-key\r\n").await.unwrap();
    let header = format!("${}\r\n", value.len());
    assert_eq!(read_exactly(s, header.len()).await, header.as_bytes());
    assert!(read_exactly(s, value.len()).await == value, "GET returns the 1 MiB value byte for byte");
    assert_eq!(read_exactly(s, 2).await, b"\r\n");
    s.shutdown().await.unwrap();
    drop(r);

    // bob (a real login without a browser) is refused with a sentence naming him.
    let client = porthole_testkit::login::LoginClient::new(Some(pki.ca_pem())).unwrap();
    let url = client.fetch_login_url(&base, "http://127.0.0.1:1").await.unwrap();
    let bob = client.login(&url, BOB.email, PASSWORD).await.unwrap();
    let stream = tls_connect(gateway.addr, pki.ca_pem(), None).await.unwrap();
    let r = connect_on(stream, "redis.corp.example.com:6379", &[("Authorization", &format!("Pomerium {bob}"))]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body_text().trim(), "access denied to redis.corp.example.com:6379 for bob@example.com");

    // One access-log line for the tunnel: who, where, bytes; never the token.
    let logged = eventually(Duration::from_secs(10), || async { gateway.log().contains("tunnel closed") }).await;
    let log = gateway.log();
    assert!(logged, "an access-log line when the tunnel ends:\n{log}");
    let line = log.lines().find(|l| l.contains("tunnel closed")).unwrap();
    assert!(line.contains("user=alice@example.com"), "{line}");
    assert!(line.contains("route=redis.corp.example.com:6379"), "{line}");
    let up: u64 = field(line, "bytes_up").parse().unwrap();
    let down: u64 = field(line, "bytes_down").parse().unwrap();
    assert!(up > 1024 * 1024 && down > 1024 * 1024, "bytes each way are counted: {line}");
    assert!(line.contains("end=closed"), "{line}");
    assert!(!log.contains(&token) && !log.contains(&bob), "no token ever reaches the log");

    let status = stack.terminate().unwrap();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {line}")) + name.len() + 1;
    line[start..].split_whitespace().next().unwrap()
}
