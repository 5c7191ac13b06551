//! The data path: copy bytes both ways with 64 KiB buffers ([`crate::copy`]), keep half-close,
//! count bytes, end on idle timeout or shutdown, and pass an abort on as an abort: when one side
//! fails (a reset, TLS ended without close_notify, a TLS error), what was already relayed to the
//! other side is flushed (bounded) and the other side is reset too ([`Abort::abort`]), instead of
//! being closed cleanly as if the stream had ended.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::copy::{Fault, Which};
use crate::stream::Abort;

/// Relay buffer size, each direction.
pub const BUFFER: usize = 64 * 1024;

/// Time given to flush what was relayed to the surviving side before it is reset, and to
/// close both sides cleanly after an idle timeout or on shutdown.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The two sides of a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The side that asked for the tunnel (the local application; in the gateway, the client).
    Client,
    /// The far side (in the client, the proxy; in the gateway, the upstream service).
    Upstream,
}

impl std::fmt::Display for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Party::Client => "client",
            Party::Upstream => "upstream",
        })
    }
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Both sides closed.
    Closed,
    /// No bytes moved for the route's `idle_timeout`.
    IdleTimeout,
    /// The gateway is shutting down.
    Shutdown,
    /// One side failed (reset, TLS ended without close_notify, a TLS or socket error); the other
    /// side was reset in turn.
    Aborted {
        /// Which side failed.
        by: Party,
        /// The error's kind (`ConnectionReset`, `UnexpectedEof` for a TLS truncation, ...).
        kind: io::ErrorKind,
        /// The error, in words.
        reason: String,
    },
    /// An error that belongs to neither side.
    Error(String),
}

impl End {
    /// Whether the failure was a reset or a truncation (rather than, say, a TLS error).
    #[must_use]
    pub fn is_reset(&self) -> bool {
        matches!(
            self,
            End::Aborted {
                kind: io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof,
                ..
            }
        )
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed => f.write_str("closed"),
            End::IdleTimeout => f.write_str("idle timeout"),
            End::Shutdown => f.write_str("shutdown"),
            End::Aborted { by, reason, .. } => write!(f, "aborted by the {by}: {reason}"),
            End::Error(e) => write!(f, "error: {e}"),
        }
    }
}

/// Bytes moved and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Client → upstream.
    pub up: u64,
    /// Upstream → client.
    pub down: u64,
    /// Why it stopped.
    pub end: End,
}

/// Live byte counters of one relayed connection, readable while it runs (for "live sessions"
/// views) and after it ends.
#[derive(Debug)]
pub struct Counters {
    up: AtomicU64,
    down: AtomicU64,
    start: Instant,
    /// Milliseconds after `start` of the last read that returned data (either side).
    last: AtomicU64,
}

impl Counters {
    /// Fresh counters, starting now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// Bytes client → upstream so far.
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes upstream → client so far.
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }

    /// Counts bytes delivered to the client outside the relay (e.g. early data).
    pub fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts bytes delivered upstream outside the relay (e.g. early data).
    pub fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    /// Time since the relay started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn add(&self, side: Side, n: usize) {
        match side {
            Side::Up => self.up.fetch_add(n as u64, Ordering::Relaxed),
            Side::Down => self.down.fetch_add(n as u64, Ordering::Relaxed),
        };
        self.touch();
    }

    fn touch(&self) {
        self.last.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle: Duration) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed)) + idle
    }
}

/// Which counter a [`Metered`] stream feeds.
#[derive(Clone, Copy)]
enum Side {
    Up,
    Down,
}

/// A stream that counts what is read from it.
struct Metered<S> {
    inner: S,
    counters: Arc<Counters>,
    side: Side,
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.counters.add(self.side, n);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Abort> Abort for Metered<S> {
    fn take_error(&self) -> Option<io::Error> {
        self.inner.take_error()
    }
    fn abort(&mut self) {
        self.inner.abort();
    }
}

/// Relays `client` ⇄ `upstream` until both directions finish, an error, `idle` without traffic,
/// or `cancel`. When one side ends its writes, the other side's write half is shut down and
/// the opposite direction keeps flowing (half-close). Bytes are counted into `counters`.
///
/// When one side fails ([`End::Aborted`]), the other is flushed for at most a second and then
/// reset (`SO_LINGER 0`: RST, and no close_notify over TLS); a side that failed with a TLS
/// error gets the same second to send the alert rustls queued. After an idle timeout or on
/// shutdown both sides are closed cleanly (close_notify, FIN), each within a second.
///
/// # Cancel safety
/// Dropping the future drops both streams, closing them.
pub async fn relay<C, U>(
    client: C,
    upstream: U,
    counters: Arc<Counters>,
    idle: Option<Duration>,
    cancel: CancellationToken,
) -> Outcome
where
    C: AsyncRead + AsyncWrite + Abort + Unpin,
    U: AsyncRead + AsyncWrite + Abort + Unpin,
{
    let mut client = Metered { inner: client, counters: counters.clone(), side: Side::Up };
    let mut upstream = Metered { inner: upstream, counters: counters.clone(), side: Side::Down };
    let copy = crate::copy::copy_bidirectional(&mut client, &mut upstream, BUFFER);
    let end = supervise(copy, &counters, idle, cancel).await;
    match &end {
        End::Aborted { by: Party::Client, kind, .. } => pass_abort_on(&mut client, &mut upstream, *kind).await,
        End::Aborted { by: Party::Upstream, kind, .. } => pass_abort_on(&mut upstream, &mut client, *kind).await,
        End::IdleTimeout | End::Shutdown => {
            use tokio::io::AsyncWriteExt as _;
            let _ =
                tokio::time::timeout(CLOSE_GRACE, async { tokio::join!(client.shutdown(), upstream.shutdown()) }).await;
        }
        End::Closed | End::Error(_) => {}
    }
    Outcome { up: counters.up(), down: counters.down(), end }
}

/// `failed` went away: send its queued alert if it failed on TLS, deliver what `survivor` was
/// given, then reset `survivor`.
async fn pass_abort_on<F, S>(failed: &mut F, survivor: &mut S, kind: io::ErrorKind)
where
    F: AsyncWrite + Abort + Unpin,
    S: AsyncWrite + Abort + Unpin,
{
    use tokio::io::AsyncWriteExt as _;
    let alert = async {
        if kind == io::ErrorKind::InvalidData {
            let _ = failed.flush().await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, async { tokio::join!(alert, survivor.flush()) }).await;
    survivor.abort();
}

/// Runs a copy until it ends, the idle deadline passes or `cancel` fires.
async fn supervise(
    copy: impl std::future::Future<Output = Result<(), Fault>>,
    counters: &Counters,
    idle: Option<Duration>,
    cancel: CancellationToken,
) -> End {
    let watchdog = async {
        let Some(idle) = idle else {
            return std::future::pending::<()>().await;
        };
        loop {
            let deadline = counters.idle_deadline(idle);
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    tokio::select! {
        res = copy => match res {
            Ok(()) => End::Closed,
            Err(Fault { side, error }) => End::Aborted {
                by: if side == Which::A { Party::Client } else { Party::Upstream },
                kind: error.kind(),
                reason: error.to_string(),
            },
        },
        () = watchdog => End::IdleTimeout,
        () = cancel.cancelled() => End::Shutdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn half_close_keeps_other_direction() {
        let (client, mut client_peer) = tokio::io::duplex(1024);
        let (upstream, mut upstream_peer) = tokio::io::duplex(1024);
        let task = tokio::spawn(relay(client, upstream, Counters::new(), None, CancellationToken::new()));
        client_peer.write_all(b"request").await.unwrap();
        client_peer.shutdown().await.unwrap();
        let mut got = Vec::new();
        upstream_peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request", "upstream sees the request then EOF");
        upstream_peer.write_all(b"response after half-close").await.unwrap();
        upstream_peer.shutdown().await.unwrap();
        let mut back = Vec::new();
        client_peer.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"response after half-close", "the reply still flows after the client's EOF");
        let out = task.await.unwrap();
        assert_eq!((out.up, out.down, out.end), (7, 25, End::Closed));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_ends_relay() {
        let (client, _client_peer) = tokio::io::duplex(1024);
        let (upstream, _upstream_peer) = tokio::io::duplex(1024);
        let out =
            relay(client, upstream, Counters::new(), Some(Duration::from_secs(30)), CancellationToken::new()).await;
        assert_eq!(out.end, End::IdleTimeout);
    }
}
