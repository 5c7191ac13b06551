//! Tests of the login callback server over real loopback sockets: only the secret path takes a
//! token, a stalled or oversized request holds nothing up, and a stalled one is closed after
//! [`HEAD_TIMEOUT`] (on tokio's paused clock).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::*;

/// A callback server waiting for its token: its address, secret path and the waiting task.
async fn start() -> (SocketAddr, String, JoinHandle<Token>) {
    let server = CallbackServer::bind().await.expect("a loopback port");
    let addr = server.listener.local_addr().expect("bound");
    let path = server.path.clone();
    assert_eq!(server.redirect_uri(), format!("http://{addr}{path}"), "the redirect names this listener and path");
    (addr, path, tokio::spawn(server.token()))
}

/// Sends `request` on a new connection and reads the answer until the server closes.
async fn send(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("the callback listens");
    s.write_all(request).await.expect("the request is sent");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes within 10 s")
        .expect("a clean read");
    String::from_utf8_lossy(&out).into_owned()
}

fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn callback_only_accepts_the_secret_path() {
    let (addr, path, waiter) = start().await;
    for target in ["/?pomerium_jwt=planted".to_owned(), "/callback/00?pomerium_jwt=planted".to_owned(), path.clone()] {
        let answer = send(addr, &get(&target)).await;
        assert!(
            answer.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{target}: a token off the secret path is refused: {answer}"
        );
        assert!(answer.ends_with("\r\n\r\nnot found\n"), "{target}: the 404 page: {answer}");
    }
    assert!(!waiter.is_finished(), "no planted token is taken");
    let answer = send(addr, &get(&format!("{path}?pomerium_jwt=a.b.c"))).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "the real callback: {answer}");
    assert!(answer.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"), "the page is plain text: {answer}");
    assert!(answer.contains("\r\nConnection: close\r\n"), "the connection closes: {answer}");
    assert!(answer.ends_with("\r\n\r\nlogin complete, you may close this page\n"), "the page: {answer}");
    let token = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the token is handed over")
        .expect("no panic");
    assert_eq!(token, Token::new("a.b.c"));
}

/// Before the callback ran on hyper, one connection was served at a time with a 10 s read
/// timeout: this test then failed after 2 s with the token still waiting.
#[tokio::test]
async fn a_silent_connection_does_not_hold_up_the_callback() {
    let (addr, path, waiter) = start().await;
    let _silent = TcpStream::connect(addr).await.expect("connect");
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.expect("half a head");
    let mut real = TcpStream::connect(addr).await.expect("connect");
    real.write_all(&get(&format!("{path}?pomerium_jwt=a.b.c"))).await.expect("the callback");
    let started = std::time::Instant::now();
    let token = tokio::time::timeout(Duration::from_secs(2), waiter).await;
    let token = token.unwrap_or_else(|_| {
        panic!("the real callback completes while two connections stall ({:?})", started.elapsed())
    });
    assert_eq!(token.expect("no panic"), Token::new("a.b.c"));
}

#[tokio::test]
async fn an_oversized_head_is_refused_and_the_callback_still_works() {
    let (addr, path, waiter) = start().await;
    let big = format!("GET {path}?pomerium_jwt=a.b.c HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES + 1));
    let answer = send(addr, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "a head over {MAX_HEAD_BYTES} bytes is refused: {answer:.80}");
    assert!(!waiter.is_finished(), "the oversized request's token is not taken");
    let answer = send(addr, &get(&format!("{path}?pomerium_jwt=d.e.f"))).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let token = tokio::time::timeout(Duration::from_secs(10), waiter).await.expect("the token is handed over");
    assert_eq!(token.expect("no panic"), Token::new("d.e.f"));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_connection_is_closed_after_the_head_timeout() {
    let (addr, _path, _waiter) = start().await;
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled.write_all(b"GET / HTTP/1.1\r\n").await.expect("half a head");
    let started = tokio::time::Instant::now();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(HEAD_TIMEOUT * 2, stalled.read_to_end(&mut out)).await;
    assert!(closed.is_ok(), "the server closes a connection whose head does not come within {HEAD_TIMEOUT:?}");
    let waited = started.elapsed();
    assert!(waited >= HEAD_TIMEOUT, "not before the head timeout: {waited:?}");
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "a timeout, not a page: {answer}");
}

#[test]
fn a_callback_token_with_line_breaks_or_spaces_is_refused() {
    // Found by the `login_callback` fuzz target: `%0D%0A` in `pomerium_jwt` decoded into
    // the token, and the next CONNECT request carried an injected header line.
    let path = "/callback/00";
    let head = |q: &str| format!("GET {path}?pomerium_jwt={q} HTTP/1.1\r\nHost: x\r\n\r\n");
    for bad in ["a.b.c%0D%0AX-Evil:%201", "a.b%0Ac", "a+b", "a.b.c%00", "a.b.%C3%A9"] {
        let got = parse_callback(head(bad).as_bytes(), path).expect("an HTTP request");
        assert_eq!(got.token, None, "{bad:?} is not a token");
    }
    let good = parse_callback(head("eyJh.eyJz-_.c2l").as_bytes(), path).expect("an HTTP request");
    assert_eq!(good.token, Some(Token::new("eyJh.eyJz-_.c2l")), "a JWT's characters pass");
}

#[test]
fn secret_paths_differ() {
    assert_ne!(secret_path(), secret_path());
    assert_eq!(secret_path().len(), "/callback/".len() + 32);
}
