//! The client learns why the proxy cut a tunnel (issue 11, part 2), end to end: the real
//! identity provider, `porthole-gateway` as a process, `porthole tcp` and an echo upstream.
//! Here the proxy cuts the tunnel by restarting on the same port with a config where alice is
//! no longer allowed (or her token no longer valid: the probe must redial while no gateway
//! listens); `live_revoke` and the client's `revoked` test cover the cut by a live reload. Then `porthole` prints the sentence its one probe CONNECT learned. A connection the
//! local client closes first makes no probe: the gateways' access logs count every CONNECT.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use porthole_e2e::cli::{Porthole, PortholeCli as _};
use porthole_testkit::child::{KilledOnDrop, bin, complete_lines};
use porthole_testkit::echo::EchoServer;
use porthole_testkit::eventually::{eventually, poll_until_blocking};
use porthole_testkit::gateway::{GatewayOpts, GatewayProcess, STARTUP, TestGateway};

const DESTINATION: &str = "db.corp.example.com:5432";

/// SIGTERM cuts live tunnels at once (the default drain lets them run for 30 s).
const NO_DRAIN: &[&str] = &["--drain", "0s"];

/// The route to the echo server, allowed to `email` only.
fn route(echo: &EchoServer, email: &str) -> String {
    format!(
        "  - from: tcp+https://{DESTINATION}\n    to: tcp://{}\n    policy:\n      - allow:\n          or:\n            - email:\n                is: {email}\n",
        echo.addr
    )
}

/// A local connection that has echoed `msg` through the tunnel.
fn open_echoing(addr: SocketAddr, msg: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect to porthole's port");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).expect("the echo comes back through the tunnel");
    assert_eq!(got, msg);
    s
}

/// Reads until the tunnel ends (EOF or reset): the proxy cut it. The socket stays open.
fn wait_eof(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Access-log lines of a gateway: every CONNECT ends in one `tunnel refused` or `tunnel closed`.
fn access_lines(stack: &TestGateway, what: &str) -> Vec<String> {
    complete_lines(&stack.log()).filter(|l| l.contains(what)).map(str::to_owned).collect()
}

/// Stops the stack's gateway (SIGTERM with no drain time: it cuts live tunnels), runs `meanwhile`, and starts a new
/// one on the same port, with the same IdP, certificate and key, its config changed by `edit`.
fn restart(stack: &mut TestGateway, edit: impl FnOnce(String) -> String, meanwhile: impl FnOnce()) {
    let port = stack.addr.port();
    stack.terminate().expect("the first gateway stops");
    meanwhile();
    let text = std::fs::read_to_string(stack.dir.path().join("gateway.yaml")).expect("the stack's config");
    let text = edit(text.replace("address: 127.0.0.1:0", &format!("address: 127.0.0.1:{port}")));
    let dir = stack.dir.path().join("second");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.yaml");
    std::fs::write(&config, text).unwrap();
    let second = GatewayProcess::start(&config, &dir).expect("the second gateway starts on the same port");
    stack.addr = second.addr;
    stack.gateway = Some(second);
    assert_eq!(stack.addr.port(), port, "same port: the client's --pomerium-url still points at it");
}

/// Waits for `sentence` in porthole's output, on the line of the cut connection.
async fn assert_prints(tunnel: &Porthole, peer: SocketAddr, sentence: &str) {
    let line = format!("{peer}: {sentence}");
    let printed = eventually(Duration::from_secs(30), || async { complete_lines(&tunnel.log()).any(|l| l == line) });
    assert!(printed.await, "porthole prints {line:?}:\n{}", tunnel.log());
}

/// Alice's two open tunnels are cut by a gateway whose new config no longer allows her: the
/// client probes once (403) for both and prints the revoked sentence for each; the probe opens
/// no browser. Before it, a connection the local client closed first made no probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_user_is_told_after_one_probe_and_a_local_close_makes_none() {
    let echo = EchoServer::start().await;
    let mut stack = TestGateway::start(GatewayOpts {
        routes: &route(&echo, "alice@example.com"),
        idp: true,
        args: NO_DRAIN,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let tunnel = stack.tcp(DESTINATION, "alice@example.com", &[]).unwrap();

    // The local client closes first: the tunnel ends cleanly and nobody asks the proxy why.
    let mut first = open_echoing(tunnel.addr, b"first");
    first.shutdown(Shutdown::Write).unwrap();
    wait_eof(&mut first);
    drop(first);
    let closed = eventually(Duration::from_secs(10), || async { access_lines(&stack, "tunnel closed").len() == 1 });
    assert!(closed.await, "the first tunnel's access line:\n{}", stack.log());
    // The next CONNECT is the marker: a probe for the first connection would come before it.
    let mut second = open_echoing(tunnel.addr, b"second");
    let second_peer = second.local_addr().unwrap();
    // Two CONNECTs so far: the first one without a token (302, the login) and its retry.
    let refused = access_lines(&stack, "tunnel refused");
    assert_eq!(
        (access_lines(&stack, "tunnel closed").len(), refused.len()),
        (1, 1),
        "a connection the local client closed first makes no probe CONNECT:\n{}",
        stack.log()
    );
    assert!(refused[0].contains("status=302"), "the only refusal is the login redirect: {}", refused[0]);
    assert!(!tunnel.log().contains("revoked"), "{}", tunnel.log());
    let mut third = open_echoing(tunnel.addr, b"third");
    let third_peer = third.local_addr().unwrap();

    // Both live tunnels are cut together: each is told why, and one probe serves both.
    restart(&mut stack, |config| config.replace("is: alice@example.com", "is: bob@example.com"), || {});
    wait_eof(&mut second);
    wait_eof(&mut third);
    drop((second, third));
    let sentence = "access to db.corp.example.com:5432 was revoked for alice@example.com (403)";
    assert_prints(&tunnel, second_peer, sentence).await;
    assert_prints(&tunnel, third_peer, sentence).await;
    let refused = access_lines(&stack, "tunnel refused");
    assert_eq!(
        refused.len(),
        1,
        "exactly one probe CONNECT reached the new gateway for the two cut tunnels:\n{}",
        stack.log()
    );
    assert!(refused[0].contains("status=403") && refused[0].contains("alice@example.com"), "{}", refused[0]);
    assert_eq!(stack.launches(), 1, "the probe never opens a browser:\n{}", tunnel.log());
}

/// `porthole tcp --json`, killed on drop: events as JSON lines on stderr.
struct JsonPorthole {
    child: KilledOnDrop,
    addr: SocketAddr,
}

impl JsonPorthole {
    fn start(stack: &TestGateway, email: &str) -> Self {
        let log = stack.dir.path().join("porthole-json.log");
        let mut cmd = stack.porthole(email);
        cmd.arg("tcp")
            .arg(DESTINATION)
            .args(["--json", "--pomerium-url", &stack.url(), "--alternate-ca-path"])
            .arg(&stack.ca_path)
            .arg("--browser-cmd")
            .arg(bin("porthole-test-browser"));
        let child = KilledOnDrop::spawn(cmd, &log).expect("porthole starts");
        let mut me = Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)) };
        me.addr = poll_until_blocking("listening event", STARTUP, || {
            Ok(me
                .events()
                .into_iter()
                .find(|e| e["event"] == "listening")
                .and_then(|e| e["addr"].as_str()?.parse().ok()))
        })
        .unwrap_or_else(|e| panic!("{e:#}: {}", me.child.log()));
        me
    }

    /// Every complete JSON line so far.
    fn events(&self) -> Vec<serde_json::Value> {
        let text = self.child.log();
        complete_lines(&text).filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

/// A gateway restarted with a new signing key no longer accepts alice's token: the probe,
/// redialling while the gateway restarts, gets 401 and `porthole --json` reports the session as
/// expired, without logging in, while the local client still holds its end of the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_session_is_told_as_expired_without_a_login() {
    let echo = EchoServer::start().await;
    let mut stack = TestGateway::start(GatewayOpts {
        routes: &route(&echo, "alice@example.com"),
        idp: true,
        args: NO_DRAIN,
        ..GatewayOpts::default()
    })
    .await
    .unwrap();
    let tunnel = JsonPorthole::start(&stack, "alice@example.com");
    let mut conn = open_echoing(tunnel.addr, b"hello");
    let peer = conn.local_addr().unwrap().to_string();

    let new_key = base64::engine::general_purpose::STANDARD.encode(rcgen::KeyPair::generate().unwrap().serialize_pem());
    let new_config = |config: String| {
        config
            .lines()
            .map(|l| if l.starts_with("signing_key:") { format!("signing_key: {new_key}") } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    // The tunnel ends while no gateway listens: the probe redials until the new one is up. The
    // local client keeps its end open (an idle psql would): the reason comes all the same.
    restart(&mut stack, new_config, || wait_eof(&mut conn));
    let revoked = poll_until_blocking("the revoked event", Duration::from_secs(30), || {
        Ok(tunnel.events().into_iter().find(|e| e["event"] == "revoked"))
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}", tunnel.events()));
    assert_eq!(
        revoked,
        serde_json::json!({
            "event": "revoked", "peer": 1, "peer_addr": peer,
            "message": "your session expired: log in again", "code": "session_expired",
            "cause": { "kind": "sessionExpired" },
        }),
        "the JSON event after the cut"
    );
    let refused = access_lines(&stack, "tunnel refused");
    assert_eq!(refused.len(), 1, "exactly one probe CONNECT:\n{}", stack.log());
    assert!(refused[0].contains("status=401"), "{}", refused[0]);
    assert_eq!(stack.launches(), 1, "the probe never logs in: {:?}", tunnel.events());
    drop(conn);
}
