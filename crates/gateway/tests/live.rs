//! Live access against an in-process gateway: a reload swaps the routes and revokes, within a
//! second and as a reset, the tunnel of a user the new policy no longer admits; an invalid
//! config is refused with its lines; the counts of a reload; and a drain answers new HTTP/2
//! CONNECTs `503` while the tunnel already open on that connection runs on.

mod support;

use std::time::{Duration, Instant};

use http_body_util::Empty;
use porthole_gateway::reload::{Reload, Trigger};
use porthole_testkit::echo::EchoServer;
use support::{Opts, Stack, h2_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn route(from: &str, echo: &EchoServer, access: &str) -> String {
    format!("  - from: tcp+https://{from}\n    to: tcp://{}\n    {access}\n", echo.addr)
}

/// The stack's config written to `gateway.yaml`, with `routes` in place of its routes.
fn write_config(stack: &Stack, routes: &str) -> std::path::PathBuf {
    let head = stack.yaml.find("\nroutes:\n").expect("routes line") + "\nroutes:\n".len();
    let path = stack.dir.path().join("gateway.yaml");
    std::fs::write(&path, format!("{}{routes}", &stack.yaml[..head])).unwrap();
    path
}

fn applied(added: usize, changed: usize, removed: usize, revoked: usize) -> Reload {
    Reload::Applied { added, changed, removed, revoked, restart_needed: Vec::new() }
}

async fn tunnel(stack: &Stack, authority: &str, who: &str) -> porthole_testkit::connect::Reply {
    let token = stack.token_for(who);
    let mut r = stack.connect(authority, &[("Authorization", &format!("Pomerium {token}"))], None).await;
    assert_eq!(r.status, 200, "{who} may open {authority}: {}", r.head);
    r.stream.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    r.stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ping");
    r
}

#[tokio::test]
async fn a_reload_revokes_the_user_the_new_policy_drops_within_a_second_as_a_reset() {
    let echo = EchoServer::start().await;
    let both = route("db.example.com:7000", &echo, "allowed_users: [alice@example.com, bob@example.com]");
    let stack = support::start(Opts { routes: &both, ..Default::default() }).await;
    let running = stack.gateway.as_ref().unwrap();
    let path = write_config(&stack, &both);
    let reloader = running.reloader(path.clone());
    let mut alice = tunnel(&stack, "db.example.com:7000", "alice@example.com").await;
    let mut bob = tunnel(&stack, "db.example.com:7000", "bob@example.com").await;
    assert_eq!(running.live_tunnels(), 2);

    write_config(&stack, &route("db.example.com:7000", &echo, "allowed_users: [bob@example.com]"));
    let started = Instant::now();
    let outcome = reloader.reload(Trigger::Signal);
    assert_eq!(outcome, applied(0, 1, 0, 1));
    let mut buf = [0u8; 16];
    let seen = tokio::time::timeout(Duration::from_secs(1), alice.stream.read(&mut buf)).await;
    let took = started.elapsed();
    let Ok(seen) = seen else { panic!("alice's tunnel still open 1 s after the reload") };
    assert_eq!(
        seen.as_ref().map_err(std::io::Error::kind).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "a revoked HTTP/1.1 tunnel is reset, not closed cleanly (got {seen:?} after {took:?})"
    );
    bob.stream.write_all(b"still").await.unwrap();
    let mut got = [0u8; 5];
    bob.stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"still", "bob is still allowed: his tunnel goes on");
    let token = stack.token_for("alice@example.com");
    let r = stack.connect("db.example.com:7000", &[("Authorization", &format!("Pomerium {token}"))], None).await;
    assert_eq!(r.status, 403, "a new CONNECT by alice meets the new policy");
}

#[tokio::test]
async fn an_invalid_config_is_refused_with_its_lines_and_the_old_one_serves() {
    let echo = EchoServer::start().await;
    let one = route("one.example.com:7000", &echo, "allow_any_authenticated_user: true");
    let stack = support::start(Opts { routes: &one, ..Default::default() }).await;
    let path = write_config(&stack, &one);
    let reloader = stack.gateway.as_ref().unwrap().reloader(path.clone());
    let _live = tunnel(&stack, "one.example.com:7000", "alice@example.com").await;
    let bad = one.clone()
        + "  - from: tcp+https://two.example.com:7000\n    to: tcp://no-port.example.com:99999\n    allow_any_authenticated_user: maybe\n";
    write_config(&stack, &bad);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let Reload::Refused(problems) = reloader.reload(Trigger::Signal) else { panic!("an invalid config is refused") };
    let shown = path.display().to_string();
    assert_eq!(
        problems,
        vec![
            format!(
                "{shown}:{}: routes[1].to: `tcp://no-port.example.com:99999`: `99999` is not a port number",
                line("no-port")
            ),
            format!("{shown}:{}: routes[1].allow_any_authenticated_user: expected true or false", line("maybe")),
        ],
        "every problem, with file and line as --validate prints them"
    );
    let _still = tunnel(&stack, "one.example.com:7000", "alice@example.com").await;
    assert_eq!(stack.gateway.as_ref().unwrap().live_tunnels(), 2, "no live tunnel was touched");
    assert_eq!(reloader.reload(Trigger::FileChanged), Reload::Unchanged, "the same text again is not re-read");
}

#[tokio::test]
async fn a_reload_counts_routes_added_changed_and_removed() {
    let echo = EchoServer::start().await;
    let any = "allow_any_authenticated_user: true";
    let before = route("a.example.com:1", &echo, any) + &route("b.example.com:1", &echo, any);
    let stack = support::start(Opts { routes: &before, ..Default::default() }).await;
    let path = write_config(&stack, &before);
    let reloader = stack.gateway.as_ref().unwrap().reloader(path);
    // a moves down a line (same route), b changes its policy, c is new; nothing is removed yet.
    let after = format!("  # a comment\n{}", route("a.example.com:1", &echo, any))
        + &route("b.example.com:1", &echo, "allowed_domains: [example.com]")
        + &route("c.example.com:1", &echo, any);
    write_config(&stack, &after);
    assert_eq!(reloader.reload(Trigger::Signal), applied(1, 1, 0, 0));
    write_config(&stack, &route("c.example.com:1", &echo, any));
    assert_eq!(reloader.reload(Trigger::Signal), applied(0, 0, 2, 0));
    // Settings read only at start: applied is the rest, and they are named.
    let path = stack.dir.path().join("gateway.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("address: 127.0.0.1:0\n", "address: 127.0.0.1:1\ncookie_expire: 1h\n");
    std::fs::write(&path, text + &route("d.example.com:1", &echo, any)).unwrap();
    assert_eq!(
        reloader.reload(Trigger::Signal),
        Reload::Applied {
            added: 1,
            changed: 0,
            removed: 0,
            revoked: 0,
            restart_needed: vec!["address", "cookie_expire"]
        }
    );
    assert_eq!(stack.gateway.as_ref().unwrap().local_addr(), stack.addr, "the listener stays where it is");
}

#[tokio::test]
async fn a_drain_answers_new_http2_connects_503_while_the_open_tunnel_runs() {
    let echo = EchoServer::start().await;
    let routes = route("db.example.com:7000", &echo, "allow_any_authenticated_user: true");
    let mut stack = support::start(Opts { routes: &routes, ..Default::default() }).await;
    let token = stack.token_for("alice@example.com");
    let connect = || {
        http::Request::connect("db.example.com:7000")
            .header("authorization", format!("Pomerium {token}"))
            .body(Empty::new())
            .unwrap()
    };
    let (mut send, _conn) = h2_client(&stack).await;
    let resp = send.send_request(connect()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut tunnel = hyper_util::rt::TokioIo::new(hyper::upgrade::on(resp).await.unwrap());

    let running = stack.gateway.take().unwrap();
    let stopping = running.stopping();
    let drain = tokio::spawn(running.drain(Duration::from_secs(30), std::future::pending()));
    stopping.cancelled().await;
    let refused = send.send_request(connect()).await.unwrap();
    assert_eq!(refused.status(), 503, "a new CONNECT on an open HTTP/2 connection during the drain");
    for i in 0..5u8 {
        tunnel.write_all(&[i]).await.unwrap();
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(2), tunnel.read_exact(&mut b)).await.expect("echo").unwrap();
        assert_eq!(b[0], i, "the tunnel open before the drain still echoes");
    }
    tunnel.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tunnel.read_to_end(&mut rest)).await.unwrap().unwrap();
    let drained = tokio::time::timeout(Duration::from_secs(10), drain).await.expect("the drain ends with its tunnel");
    let drained = drained.unwrap();
    assert_eq!((drained.finished, drained.cut), (1, 0), "the tunnel finished on its own; none was cut");
}

#[tokio::test]
async fn a_reload_while_the_upstream_is_dialled_is_not_missed() {
    // An upstream proxy that answers only when told to: the CONNECT is between its policy
    // check and its registration as a live tunnel while the reload runs.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let (asked_tx, asked) = tokio::sync::oneshot::channel::<()>();
    let (answer, answer_rx) = tokio::sync::oneshot::channel::<()>();
    let upstream = tokio::spawn(async move {
        let (mut s, _) = proxy.accept().await.unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).await.unwrap();
            head.push(b[0]);
        }
        let _ = asked_tx.send(());
        let _ = answer_rx.await;
        s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    });
    let to = format!("  - from: tcp+https://db.example.com:7000\n    to: http://{proxy_addr}\n    ");
    let both = format!("{to}allowed_users: [alice@example.com, bob@example.com]\n");
    let stack = support::start(Opts { routes: &both, ..Default::default() }).await;
    let path = write_config(&stack, &both);
    let reloader = stack.gateway.as_ref().unwrap().reloader(path);
    let token = stack.token_for("alice@example.com");
    let stream = stack.tls(None).await.unwrap();
    let auth = format!("Pomerium {token}");
    let connecting = tokio::spawn(async move {
        porthole_testkit::connect::connect_on(stream, "db.example.com:7000", &[("Authorization", &auth)]).await
    });
    tokio::time::timeout(Duration::from_secs(5), asked).await.expect("the gateway dials the upstream").unwrap();
    write_config(&stack, &format!("{to}allowed_users: [bob@example.com]\n"));
    assert_eq!(reloader.reload(Trigger::Signal), applied(0, 1, 0, 0));
    answer.send(()).unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), connecting).await.unwrap().unwrap();
    assert_eq!(reply.status, 403, "the policy in force when the tunnel would open decides: {}", reply.head);
    assert_eq!(stack.gateway.as_ref().unwrap().live_tunnels(), 0);
    upstream.abort();
}
