//! Learning why the proxy ended a tunnel: which side ended first ([`Watched`] streams record
//! it in [`FirstEnd`]), the rule for when to ask ([`should_probe`]: only when the proxy ended
//! it while the local client was still connected), and [`Probes`], which asks once for the
//! ends of one tunnel that come together (see `connect::probe` for what a probe costs).
//!
//! The engine asks as soon as the proxy's side ends first ([`FirstEnd::proxy_first`]), not when
//! the relay is over: an idle `psql` notices the closed connection only at its next query, and
//! the person should learn why before that.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use porthole_io::relay::{End, Party};
use porthole_io::stream::Abort;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::auth::Token;
use crate::connect::Connector;
use crate::connect::probe::{Why, explain};

/// Ends that come within this long of a probe share its answer: a proxy that cuts a user's
/// tunnels cuts them together, and one probe says why for all of them.
pub(crate) const SHARE_WINDOW: Duration = Duration::from_secs(1);

/// How long after a cut the probe waits before dialling. A proxy that cut its tunnels because
/// it is shutting down (a restart with a new config) may still accept for a moment and answer
/// with its old config; by then it has closed its listener and the probe reaches its successor
/// (or is refused and dials again). The ends that come meanwhile share the probe.
pub(crate) const PROBE_DELAY: Duration = Duration::from_millis(500);

/// A side of one relayed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The local client.
    Local = 1,
    /// The proxy.
    Proxy = 2,
}

/// Which side of a connection ended first: its reads reached EOF or failed, or a write to it
/// failed. Set once.
#[derive(Debug, Default)]
pub(crate) struct FirstEnd {
    side: AtomicU8,
    set: Notify,
}

impl FirstEnd {
    fn mark(&self, side: Side) {
        if self.side.compare_exchange(0, side as u8, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            // A stored permit: a waiter that starts later still wakes.
            self.set.notify_one();
        }
    }

    /// The side that ended first, if one has.
    pub(crate) fn get(&self) -> Option<Side> {
        match self.side.load(Ordering::Acquire) {
            1 => Some(Side::Local),
            2 => Some(Side::Proxy),
            _ => None,
        }
    }

    /// Resolves when the proxy is the side that ended first; never when the local client is.
    ///
    /// # Cancel safety
    /// Cancel safe (one waiter per connection).
    pub(crate) async fn proxy_first(&self) {
        loop {
            match self.get() {
                Some(Side::Proxy) => return,
                Some(Side::Local) => return std::future::pending().await,
                None => self.set.notified().await,
            }
        }
    }
}

/// Whether to ask the proxy why a tunnel ended: only when the proxy ended it (EOF, reset,
/// truncation) while the local client was still connected. Never after the local client
/// ended first, never on the user's own stop, and never for a tunnel that failed otherwise.
pub(crate) fn should_probe(end: &End, first: Option<Side>) -> bool {
    match end {
        End::Closed => first == Some(Side::Proxy),
        End::Aborted { by: Party::Upstream, .. } => first != Some(Side::Local),
        End::Aborted { by: Party::Client, .. } | End::IdleTimeout | End::Shutdown | End::Error(_) => false,
    }
}

/// A stream that records in a [`FirstEnd`] when it ends.
pub(crate) struct Watched<S> {
    inner: S,
    side: Side,
    first: Arc<FirstEnd>,
}

impl<S> Watched<S> {
    /// Watches `inner`, one `side` of a connection.
    pub(crate) fn new(inner: S, side: Side, first: Arc<FirstEnd>) -> Self {
        Self { inner, side, first }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let room = buf.remaining() > 0;
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &res {
            Poll::Ready(Ok(())) if room && buf.filled().len() == before => self.first.mark(self.side),
            Poll::Ready(Err(_)) => self.first.mark(self.side),
            _ => {}
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Err(_)) = &res {
            self.first.mark(self.side);
        }
        res
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Abort> Abort for Watched<S> {
    fn take_error(&self) -> Option<io::Error> {
        self.inner.take_error()
    }
    fn abort(&mut self) {
        self.inner.abort();
    }
}

/// What a connection that the proxy ended needs to ask why: the token it was opened with,
/// and when it ended.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// The token its CONNECT carried (the probe sends the same one).
    pub(crate) token: Option<Token>,
    /// When the relay ended.
    pub(crate) ended: Instant,
}

/// One tunnel's probes: the last answer, shared by the ends within [`SHARE_WINDOW`] of it that
/// sent the same token. The lock is held while a probe runs, so ends that come meanwhile wait
/// for its answer instead of sending their own.
#[derive(Debug, Default)]
pub(crate) struct Probes {
    last: tokio::sync::Mutex<Option<Last>>,
}

#[derive(Debug)]
struct Last {
    sent: Instant,
    token: Option<Token>,
    why: Option<Why>,
}

impl Probes {
    /// Why the proxy ended the connection of `ticket`: an expired token answers without a
    /// probe; else the answer of a probe shared with ends close to it, or of a new one.
    pub(crate) async fn why(&self, connector: &Connector, ticket: &Ticket) -> Option<Why> {
        let now_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if ticket.token.as_ref().is_some_and(|t| t.is_expired(now_unix, 0)) {
            tracing::debug!("the token has expired: no probe needed");
            return Some(Why::session_expired());
        }
        let mut last = self.last.lock().await;
        if let Some(l) = last.as_ref()
            && l.token == ticket.token
            && l.sent + SHARE_WINDOW >= ticket.ended
        {
            return l.why.clone();
        }
        tokio::time::sleep(PROBE_DELAY).await;
        let sent = Instant::now();
        tracing::debug!("the proxy ended the tunnel: one probe CONNECT to learn why");
        let answer = connector.probe(ticket.token.as_ref().map(Token::expose)).await;
        let destination = &connector.target().destination;
        let why = explain(&answer, destination, ticket.token.as_ref());
        if let (Err(e), None) = (&answer, &why) {
            tracing::debug!(error = %e, "the probe explains nothing");
        }
        *last = Some(Last { sent, token: ticket.token.clone(), why: why.clone() });
        why
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aborted(by: Party) -> End {
        End::Aborted { by, kind: io::ErrorKind::ConnectionReset, reason: "reset".into() }
    }

    /// The rule: probe only when the proxy ended the tunnel while the local client was still
    /// connected.
    #[test]
    fn probe_only_when_the_proxy_ended_first() {
        assert!(should_probe(&End::Closed, Some(Side::Proxy)), "clean EOF from the proxy first");
        assert!(!should_probe(&End::Closed, Some(Side::Local)), "the local client closed first");
        assert!(!should_probe(&End::Closed, None), "nobody is known to have ended first");
        assert!(should_probe(&aborted(Party::Upstream), None), "the proxy reset the tunnel");
        assert!(should_probe(&aborted(Party::Upstream), Some(Side::Proxy)), "the proxy truncated the TLS stream");
        assert!(!should_probe(&aborted(Party::Upstream), Some(Side::Local)), "a reset after the local client's close");
        assert!(!should_probe(&aborted(Party::Client), Some(Side::Local)), "the local client vanished");
        assert!(!should_probe(&End::Shutdown, Some(Side::Proxy)), "the user stopped the tunnel");
        assert!(!should_probe(&End::IdleTimeout, None), "idle");
        assert!(!should_probe(&End::Error("x".into()), Some(Side::Proxy)), "an error of neither side");
    }

    fn jwt(claims: &str) -> Token {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        Token::new(format!("{}.{}.sig", b64("{}"), b64(claims)))
    }

    /// An expired token is answered without a probe; ends that come together with the same
    /// token share one probe; another token asks again. The proxy answers 403 to every CONNECT
    /// and counts them.
    #[tokio::test]
    async fn one_probe_per_burst_and_none_for_an_expired_token() {
        use std::sync::atomic::AtomicUsize;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connects = Arc::new(AtomicUsize::new(0));
        let counted = connects.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
            }
        });
        let target = crate::target::parse(&format!("http://127.0.0.1:{port}/db.corp:5432"), None).unwrap();
        let connector = Connector::new(target, None);
        let probes = Probes::default();
        let ticket = |token: &Token| Ticket { token: Some(token.clone()), ended: Instant::now() };

        let expired = jwt(r#"{"email":"alice@example.com","exp":1}"#);
        assert_eq!(probes.why(&connector, &ticket(&expired)).await, Some(Why::session_expired()), "no 403 asked");
        assert_eq!(connects.load(Ordering::SeqCst), 0, "an expired token sends no probe");

        let alice = jwt(r#"{"email":"alice@example.com"}"#);
        let revoked = Some(Why {
            message: "access to db.corp:5432 was revoked for alice@example.com (403)".into(),
            code: crate::code::ErrorCode::Revoked,
        });
        let (a, b) = (ticket(&alice), ticket(&alice));
        assert_eq!(probes.why(&connector, &a).await, revoked);
        assert_eq!(probes.why(&connector, &b).await, revoked, "the second end shares the answer");
        assert_eq!(connects.load(Ordering::SeqCst), 1, "one probe for two ends that came together");

        let bob = jwt(r#"{"email":"bob@example.com"}"#);
        assert!(probes.why(&connector, &ticket(&bob)).await.is_some_and(|w| w.message.contains("bob@example.com")));
        assert_eq!(connects.load(Ordering::SeqCst), 2, "another token is another question");
    }

    /// A watched stream records the first side whose reads end, and only the first.
    #[tokio::test]
    async fn first_end_is_the_first_eof() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let first = Arc::new(FirstEnd::default());
        let (a, mut a_peer) = tokio::io::duplex(64);
        let (b, mut b_peer) = tokio::io::duplex(64);
        let mut local = Watched::new(a, Side::Local, first.clone());
        let mut proxy = Watched::new(b, Side::Proxy, first.clone());
        b_peer.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(proxy.read(&mut buf).await.unwrap(), 2);
        assert_eq!(first.get(), None, "bytes are not an end");
        b_peer.shutdown().await.unwrap();
        assert_eq!(proxy.read(&mut buf).await.unwrap(), 0);
        a_peer.shutdown().await.unwrap();
        assert_eq!(local.read(&mut buf).await.unwrap(), 0);
        assert_eq!(first.get(), Some(Side::Proxy), "the proxy's EOF came first");
    }
}
