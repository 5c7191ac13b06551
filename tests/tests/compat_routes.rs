//! Compatibility with the route tables people already run under Pomerium, against a real
//! `porthole-gateway` process: a config mixing TCP routes with HTTP, SSH and UDP routes (the
//! shapes of Pomerium's docs, in our own values) starts, warns once per skipped route with
//! file:line, and serves its TCP routes — wildcard `from` hosts, a port-less `from`, a port-less
//! `to`; the login and routes APIs answer as Pomerium's.

use porthole_testkit::connect::Reply;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::gateway::{GatewayOpts, TestGateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The routes: what a Pomerium user's config holds, plus TCP routes to `echo`.
fn routes(echo: &EchoServer) -> String {
    format!(
        "  - from: https://grafana.example.com
    to: http://grafana.internal:3000
    prefix: /dashboards
    pass_identity_headers: true
    allow_any_authenticated_user: true
  - from: tcp+https://*.example.com:22
    to: tcp://{echo}
    allow_any_authenticated_user: true
  - from: ssh://jump
    to: ssh://10.1.2.3:22
    allow_any_authenticated_user: true
  - from: tcp+https://db.example.com:22
    to: tcp://{echo}
    allowed_users: [nobody@example.com]
  - from: udp+https://dns.example.com:53
    to: udp://10.1.2.53:53
    allow_any_authenticated_user: true
  - from: tcp+https://postgres.example.com:5432
    to: tcp://{echo}
    allow_any_authenticated_user: true
  - from: tcp+https://anyport.example.com
    to: tcp://{echo}
    allow_any_authenticated_user: true
  - from: tcp+https://web.example.com:8080
    to: tcp://127.0.0.1
    allow_any_authenticated_user: true
  - from: tcp+https://named.example.com:6379
    name: Cache
    to: tcp://{echo}
    allow_any_authenticated_user: true
",
        echo = echo.addr
    )
}

async fn start() -> (TestGateway, EchoServer) {
    let echo = EchoServer::start().await;
    let stack = TestGateway::start(GatewayOpts { routes: &routes(&echo), ..GatewayOpts::default() })
        .await
        .expect("a config with HTTP, SSH and UDP routes starts");
    (stack, echo)
}

/// 1-based line of the first line of the config that contains `needle` (a trailing `$`: that
/// ends with it).
fn line_of(stack: &TestGateway, needle: &str) -> usize {
    let found = |l: &str| needle.strip_suffix('$').map_or_else(|| l.contains(needle), |end| l.ends_with(end));
    stack.yaml.lines().position(found).expect("the line is in the config") + 1
}

/// `CONNECT authority` as alice; on 200, echoes `payload` through the tunnel.
async fn connect(stack: &TestGateway, authority: &str, payload: &[u8]) -> (u16, Vec<u8>, Reply) {
    let auth = format!("Pomerium {}", stack.mint_user("alice"));
    let mut r = stack.connect(authority, &[("Authorization", &auth)], None).await;
    let mut echoed = Vec::new();
    if r.status == 200 {
        r.stream.write_all(payload).await.unwrap();
        echoed = r.early.clone();
        let mut buf = vec![0u8; payload.len()];
        let need = payload.len() - echoed.len();
        tokio::time::timeout(std::time::Duration::from_secs(10), r.stream.read_exact(&mut buf[..need]))
            .await
            .expect("the echo comes back within 10 s")
            .unwrap();
        echoed.extend_from_slice(&buf[..need]);
    }
    (r.status, echoed, r)
}

#[tokio::test]
async fn non_tcp_routes_are_skipped_with_a_warning_naming_file_and_line() {
    let (stack, _echo) = start().await;
    let log = stack.log();
    let file = stack.config.display().to_string();
    let warning = |needle: &str, field: &str, message: &str| {
        format!("warning: {file}:{}: {field}: {message}", line_of(&stack, needle))
    };
    for expected in [
        warning(
            "https://grafana",
            "routes[0].from",
            "https routes are HTTP routes; porthole-gateway serves TCP routes only; this route is skipped",
        ),
        warning(
            "ssh://jump",
            "routes[2].from",
            "ssh routes are Pomerium's SSH routes; porthole-gateway serves TCP routes only (a `tcp+https://host:22` \
             route tunnels SSH); this route is skipped",
        ),
        warning(
            "tcp://127.0.0.1$",
            "routes[7].to",
            "`tcp://127.0.0.1` has no port: connecting to port 80, as Pomerium does (Envoy's default for an \
             upstream without TLS); write `tcp://127.0.0.1:PORT` to choose another",
        ),
    ] {
        assert_eq!(log.matches(&expected).count(), 1, "once: {expected}\n--- log:\n{log}");
    }
    assert_eq!(log.matches("this route is skipped").count(), 2, "one warning per skipped route:\n{log}");
    assert!(!log.contains("udp+https://dns"), "the udp+ route is served, not skipped:\n{log}");
    assert!(!log.contains("pass_identity_headers"), "a skipped route's keys are not judged:\n{log}");
}

#[test]
fn validate_accepts_the_mixed_config_and_names_each_skip() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (stack, _echo) = rt.block_on(start());
    let out = std::process::Command::new(porthole_testkit::child::bin("porthole-gateway"))
        .arg("--config")
        .arg(&stack.config)
        .arg("--validate")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "--validate accepts it: {err}");
    let file = stack.config.display().to_string();
    for needle in ["https://grafana", "ssh://jump"] {
        let at = format!("warning: {file}:{}: ", line_of(&stack, needle));
        assert!(err.lines().any(|l| l.starts_with(&at) && l.ends_with("this route is skipped")), "{at}…\n{err}");
    }
}

#[tokio::test]
async fn wildcard_routes_match_any_subdomain_and_exact_routes_win() {
    let (stack, _echo) = start().await;
    for host in ["foo.example.com:22", "a.b.example.com:22", "FOO.example.com:22"] {
        let (status, echoed, r) = connect(&stack, host, b"wild-bytes").await;
        assert_eq!(status, 200, "{host} through `*.example.com:22`: {}{}", r.head, r.body_text());
        assert_eq!(echoed, b"wild-bytes", "{host}: bytes echo back through the wildcard route");
    }
    for host in ["foo.example.com:23", "foo.example.org:22", "example.com:22"] {
        let (status, _, r) = connect(&stack, host, b"").await;
        assert_eq!(status, 404, "{host} matches no route: {}", r.head);
    }
    let (status, _, r) = connect(&stack, "db.example.com:22", b"").await;
    assert_eq!(status, 403, "the exact db.example.com:22 route (nobody allowed) wins over the wildcard: {}", r.head);
}

#[tokio::test]
async fn port_less_from_matches_every_port_and_port_less_to_dials_80() {
    let (stack, _echo) = start().await;
    for authority in ["anyport.example.com:1", "anyport.example.com:65535"] {
        let (status, echoed, r) = connect(&stack, authority, b"any-port").await;
        assert_eq!((status, echoed.as_slice()), (200, &b"any-port"[..]), "{authority}: {}", r.head);
    }
    let (status, _, r) = connect(&stack, "web.example.com:8080", b"GET / HTTP/1.0\r\n\r\n").await;
    if status != 200 {
        // Nothing listens on 127.0.0.1:80 here: the answer names the port the gateway dialled.
        assert_eq!(status, 503, "{}", r.head);
        assert!(r.body_text().contains("127.0.0.1:80"), "the dial went to port 80: {}", r.body_text());
    }
}

#[tokio::test]
async fn login_and_routes_apis_answer_as_pomerium() {
    let (stack, _echo) = start().await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(stack.pki.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let login = format!("{}/.pomerium/api/v1/login", stack.url());

    let r = client.get(&login).send().await.unwrap();
    assert_eq!(r.status(), 404, "no pomerium_redirect_uri: Pomerium's router answers 404");
    assert_eq!(r.text().await.unwrap(), "Not Found\n");

    let bad = client
        .get(format!("{login}?pomerium_redirect_uri=https%3A%2F%2Fevil.example.com%2F"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.headers()["content-type"], "application/json");
    assert_eq!(bad.headers()["x-pomerium-intercepted-response"], "true");
    assert_eq!(bad.text().await.unwrap(), "{\"Status\":400}\n", "Pomerium's JSON error body, byte for byte");

    let r = client.post(format!("{login}?pomerium_redirect_uri=http%3A%2F%2F127.0.0.1%3A1")).send().await.unwrap();
    assert_eq!(r.status(), 405);

    let token = stack.mint_user("alice");
    let routes = client
        .get(format!("{}/.pomerium/api/v1/routes", stack.url()))
        .header("Authorization", format!("Bearer Pomerium-{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(routes.status(), 200);
    let v: serde_json::Value = routes.json().await.unwrap();
    let got: Vec<(&str, &str)> = v["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("tcp+https://*.example.com:22", "*"),
            ("udp+https://dns.example.com:53", "dns"),
            ("tcp+https://postgres.example.com:5432", "postgres"),
            ("tcp+https://anyport.example.com", "anyport"),
            ("tcp+https://web.example.com:8080", "web"),
            ("tcp+https://named.example.com:6379", "Cache"),
        ],
        "alice's routes (not db: nobody is allowed there), named as Pomerium's portal names them: {v}"
    );
    assert_eq!(v["routes"][0]["type"], "tcp");
    assert_eq!(v["routes"][1]["type"], "udp", "a udp+ route is a `udp` route, as in Pomerium's portal");
    assert_eq!(v["routes"][1]["connect_command"], "porthole udp dns.example.com:53");
}
