//! Hostile clients against real `porthole-gateway` processes, loopback only: slowloris heads are
//! closed after `timeout_read` while a real client is served; idle HTTP/1 and HTTP/2 connections
//! after `timeout_idle`; under `ulimit -n 256`, 300 idle connections do not keep a legitimate
//! CONNECT (through to a real `redis-server`) from being served within 5 s; a token before its
//! `nbf` gets `401`, a CONNECT without `Host` `400`.

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use porthole_testkit::child::bin;
use porthole_testkit::connect::{connect_on, tls_connect, tls_connect_from};
use porthole_testkit::gateway::{GatewayOpts, GatewayProcess, TestGateway};
use porthole_testkit::process::{Redis, spawn_redis};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// A gateway process (testkit's [`TestGateway`]) in front of a real redis.
struct Deployment {
    gateway: TestGateway,
    _redis: Redis,
}

impl std::ops::Deref for Deployment {
    type Target = TestGateway;

    fn deref(&self) -> &TestGateway {
        &self.gateway
    }
}

impl Deployment {
    /// Starts redis and a gateway whose config has `extra` top-level keys; `ulimit` runs the
    /// gateway under `ulimit -n <n>` (soft and hard).
    async fn start(extra: &str, ulimit: Option<u32>) -> Deployment {
        let redis = spawn_redis().await.expect("redis-server (make test installs it)");
        let routes = format!(
            "  - from: tcp+https://redis.corp.example.com:6379\n    to: tcp://{}\n    allowed_users: [alice@example.com]\n",
            redis.addr
        );
        let opts = GatewayOpts { routes: &routes, extra, ..GatewayOpts::default() };
        let gateway = TestGateway::start_with(opts, |config, dir| {
            let cmd = match ulimit {
                Some(n) => {
                    let mut c = Command::new("sh");
                    c.arg("-c")
                        .arg(format!("ulimit -n {n} && exec \"$0\" --config \"$1\""))
                        .arg(bin("porthole-gateway"))
                        .arg(config);
                    c
                }
                None => {
                    let mut c = Command::new(bin("porthole-gateway"));
                    c.arg("--config").arg(config);
                    c
                }
            };
            let process = GatewayProcess::start_command(cmd, dir)?;
            let addr = process.addr;
            Ok((process, addr))
        })
        .await
        .expect("gateway starts");
        Deployment { gateway, _redis: redis }
    }

    fn alice(&self) -> String {
        self.mint(&serde_json::json!({"sub": "alice", "email": "alice@example.com"}))
    }

    /// CONNECT to redis as alice from `from`, then PING → PONG.
    async fn redis_ping(&self, from: Option<IpAddr>) -> Result<(), String> {
        let stream = tls_connect_from(self.addr, self.pki.ca_pem(), &[b"http/1.1"], from)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        let mut r = connect_on(
            stream,
            "redis.corp.example.com:6379",
            &[("Authorization", &format!("Pomerium {}", self.alice()))],
        )
        .await;
        if r.status != 200 {
            return Err(format!("CONNECT answered {}", r.head));
        }
        r.stream.write_all(b"PING\r\n").await.map_err(|e| e.to_string())?;
        let mut pong = [0u8; 7];
        r.stream.read_exact(&mut pong).await.map_err(|e| e.to_string())?;
        if &pong != b"+PONG\r\n" {
            return Err(format!("redis answered {pong:?}"));
        }
        Ok(())
    }
}

/// Reads until the peer closes (EOF or error), at most `within`; `true` when it closed.
async fn closed_within(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slowloris_heads_are_closed_after_timeout_read_while_a_real_client_is_served() {
    const SLOW: usize = 50;
    let d = Deployment::start("timeout_read: 2s", None).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..SLOW {
        let (addr, ca) = (d.addr, d.pki.ca_pem().to_owned());
        tasks.push(tokio::spawn(async move {
            let mut s = tls_connect(addr, &ca, None).await.unwrap_or_else(|e| panic!("slow client {i}: {e}"));
            s.write_all(b"CONNECT redis.corp.example.com:6379 HTTP/1.1\r\nX-Slow: ").await.unwrap();
            let (mut rd, mut wr) = tokio::io::split(s);
            // One header byte every 500 ms, at most 20 (10 s): the head never ends.
            let dribble = tokio::spawn(async move {
                for _ in 0..20 {
                    if wr.write_all(b"a").await.is_err() || wr.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
            let closed = closed_within(&mut rd, Duration::from_secs(10)).await;
            dribble.abort();
            closed.then(|| started.elapsed())
        }));
    }
    let served = Instant::now();
    d.redis_ping(None).await.unwrap_or_else(|e| panic!("a real client during the slowloris: {e}\n{}", d.log()));
    let served = served.elapsed();
    assert!(served < Duration::from_secs(1), "the real client is served at once, not after the slow heads: {served:?}");
    for (i, t) in tasks.into_iter().enumerate() {
        let took =
            t.await.unwrap().unwrap_or_else(|| panic!("slow client {i} still open after 10 s; timeout_read is 2 s"));
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
            "slow client {i} closed after about timeout_read: {took:?}"
        );
    }
}

#[tokio::test]
async fn idle_http1_and_http2_connections_are_closed_after_timeout_idle() {
    let d = Deployment::start("timeout_idle: 2s", None).await;
    // HTTP/1.1: one request on a keep-alive connection, then nothing.
    let mut h1 = tls_connect(d.addr, d.pki.ca_pem(), None).await.unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut head = [0u8; 17];
    h1.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    // HTTP/2: the preface and an empty SETTINGS frame, then nothing (no stream ever opened).
    let mut h2 = tls_connect_from(d.addr, d.pki.ca_pem(), &[b"h2"], None).await.unwrap();
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "the gateway speaks HTTP/2");
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await.unwrap();
    let started = Instant::now();
    let (c1, c2) = tokio::join!(closed_within(&mut h1, Duration::from_secs(8)), async {
        let closed = closed_within(&mut h2, Duration::from_secs(8)).await;
        (closed, started.elapsed())
    });
    let h1_took = started.elapsed();
    assert!(c1, "an idle HTTP/1.1 connection must close after timeout_idle (2 s)\n{}", d.log());
    assert!(c2.0, "an HTTP/2 connection with no stream must close after timeout_idle (2 s)\n{}", d.log());
    assert!(
        c2.1 >= Duration::from_millis(1500) && c2.1 < Duration::from_secs(5),
        "HTTP/2 closed after about timeout_idle: {:?}",
        c2.1
    );
    assert!(h1_took < Duration::from_secs(5), "HTTP/1.1 closed after about timeout_idle: {h1_took:?}");
}

#[tokio::test]
async fn under_ulimit_256_300_idle_connections_do_not_lock_out_a_real_client() {
    const IDLE: usize = 300;
    let d = Deployment::start("", Some(256)).await;
    let log = d.log();
    assert!(log.contains("max_connections=112"), "the cap is (256 - 32 reserved) / 2 = 112 connections:\n{log}");
    // 300 idle TLS connections from 10 loopback addresses (30 each: under the per-IP cap, so
    // only the global cap can stop them).
    // Opened all at once, each given 3 s (connections the gateway cannot take are closed).
    let mut opening = tokio::task::JoinSet::new();
    for i in 0..IDLE {
        let from = IpAddr::from([127, 0, 0, 2 + (i % 10) as u8]);
        let (addr, ca) = (d.addr, d.pki.ca_pem().to_owned());
        opening.spawn(async move {
            tokio::time::timeout(Duration::from_secs(3), tls_connect_from(addr, &ca, &[b"http/1.1"], Some(from)))
                .await
                .ok()?
                .ok()
        });
    }
    let mut idle: Vec<_> = opening.join_all().await.into_iter().flatten().collect();
    let started = Instant::now();
    let served = tokio::time::timeout(Duration::from_secs(5), d.redis_ping(Some(IpAddr::from([127, 0, 0, 1])))).await;
    let took = started.elapsed();
    match served {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("the legitimate CONNECT failed after {took:?}: {e}\n{}", d.log()),
        Err(_) => {
            panic!("the legitimate CONNECT was not served within 5 s with {IDLE} idle connections open\n{}", d.log())
        }
    }
    // The oldest idle ones were closed to make room: at most the cap stays open.
    let mut open = idle.len();
    let deadline = Instant::now() + Duration::from_secs(3);
    while open > 112 && Instant::now() < deadline {
        let mut still = Vec::new();
        for mut s in idle.drain(..) {
            if !closed_within(&mut s, Duration::from_millis(5)).await {
                still.push(s);
            }
        }
        idle = still;
        open = idle.len();
    }
    assert!(open <= 112, "at most 112 of the {IDLE} idle connections are held, {open} are open");
    let accept_failures = d.log().matches("accept failed").count();
    assert_eq!(accept_failures, 0, "the cap keeps accept() from running out of descriptors:\n{}", d.log());
    drop(idle);
}

/// Under pressure one client IP holds at most 64 unauthenticated connections. `ulimit -n 256`
/// makes the gateway's cap (256 − 32) / 2 = 112 slots, so the per-IP share applies from the
/// 56th connection on (half the slots): with room to spare a burst from one IP is admitted
/// whole (`bench/run`'s 1,000 connections through porthole).
#[tokio::test]
async fn under_pressure_one_client_ip_holds_at_most_64_unauthenticated_connections() {
    let d = Deployment::start("", Some(256)).await;
    let greedy = IpAddr::from([127, 0, 0, 60]);
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (addr, ca) = (d.addr, d.pki.ca_pem().to_owned());
        opening.spawn(async move {
            tokio::time::timeout(Duration::from_secs(3), tls_connect_from(addr, &ca, &[b"http/1.1"], Some(greedy)))
                .await
                .ok()?
                .ok()
        });
    }
    let mut held: Vec<_> = opening.join_all().await.into_iter().flatten().collect();
    let mut open = held.len();
    let deadline = Instant::now() + Duration::from_secs(3);
    while open > 64 && Instant::now() < deadline {
        let mut still = Vec::new();
        for mut s in held.drain(..) {
            if !closed_within(&mut s, Duration::from_millis(5)).await {
                still.push(s);
            }
        }
        held = still;
        open = held.len();
    }
    assert!(open <= 64, "one IP holds at most 64 unauthenticated connections, {open} are open");
    assert!(open >= 60, "up to the cap they are accepted: {open}");
    d.redis_ping(None).await.unwrap_or_else(|e| panic!("another client is served: {e}\n{}", d.log()));
    // An authenticated connection no longer counts against its IP.
    let before = held.len();
    d.redis_ping(Some(greedy)).await.expect_err("the greedy IP is at its cap");
    drop(held.pop());
    let served = porthole_testkit::eventually::eventually(Duration::from_secs(5), || async {
        d.redis_ping(Some(greedy)).await.is_ok()
    })
    .await;
    assert!(served, "a freed slot lets the IP in again ({before} were open)\n{}", d.log());
}

#[tokio::test]
async fn future_nbf_is_401_and_connect_without_host_is_400() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let d = Deployment::start("", None).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"sub": "alice", "email": "alice@example.com", "iss": d.url(), "exp": now + 7200, "nbf": now + 3600});
    let key = EncodingKey::from_ec_pem(d.signing_key_pem.as_bytes()).unwrap();
    let early = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &key).unwrap();
    let stream = tls_connect(d.addr, d.pki.ca_pem(), None).await.unwrap();
    let r = connect_on(stream, "redis.corp.example.com:6379", &[("Authorization", &format!("Pomerium {early}"))]).await;
    assert_eq!(r.status, 401, "a token valid only from an hour on → 401: {}", r.head);

    let mut s = tls_connect(d.addr, d.pki.ca_pem(), None).await.unwrap();
    let req = format!("CONNECT redis.corp.example.com:6379 HTTP/1.1\r\nAuthorization: Pomerium {}\r\n\r\n", d.alice());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "a CONNECT without Host → 400: {answer:?}");
    assert!(answer.contains("needs a Host header"), "the body says what is missing: {answer:?}");
    d.redis_ping(None).await.expect("the same token with a proper request is served");
}
