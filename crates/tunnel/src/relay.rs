//! The data path: copy bytes both ways with 64 KiB buffers, keep half-close, count bytes, and
//! end on idle timeout or shutdown.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::io::PlainIo;
use crate::tls::stream::TlsStream;

/// Relay buffer size, each direction.
pub const BUFFER: usize = 64 * 1024;

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Both sides closed.
    Closed,
    /// No bytes moved for the route's `idle_timeout`.
    IdleTimeout,
    /// The gateway is shutting down.
    Shutdown,
    /// An I/O error on either side.
    Error(String),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed => f.write_str("closed"),
            End::IdleTimeout => f.write_str("idle timeout"),
            End::Shutdown => f.write_str("shutdown"),
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
        Arc::new(Self { up: AtomicU64::new(0), down: AtomicU64::new(0), start: Instant::now(), last: AtomicU64::new(0) })
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

/// Relays `client` ⇄ `upstream` until both directions finish, an error, `idle` without traffic,
/// or `cancel`. When one side ends its writes, the other side's write half is shut down and
/// the opposite direction keeps flowing (half-close). Bytes are counted into `counters`.
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
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut client = Metered { inner: client, counters: counters.clone(), side: Side::Up };
    let mut upstream = Metered { inner: upstream, counters: counters.clone(), side: Side::Down };
    let copy = crate::copy::copy_bidirectional(&mut client, &mut upstream, BUFFER);
    supervise(copy, &counters, idle, cancel).await
}

/// [`relay`] between a plain stream and a [`TlsStream`] without a relay buffer: plain bytes are
/// read straight into TLS records and opened records are written straight out
/// ([`TlsStream::poll_pump_from`] / [`TlsStream::poll_pump_into`]). `tls_is_upstream` says
/// which way is "up" for the counters (true in the client, false in the gateway).
///
/// # Cancel safety
/// Dropping the future drops both streams, closing them.
pub async fn relay_tls<P, D>(
    mut plain: P,
    mut tls: TlsStream<D>,
    tls_is_upstream: bool,
    counters: Arc<Counters>,
    idle: Option<Duration>,
    cancel: CancellationToken,
) -> Outcome
where
    P: PlainIo,
    D: crate::tls::stream::Side,
{
    let (from_side, into_side) = if tls_is_upstream { (Side::Up, Side::Down) } else { (Side::Down, Side::Up) };
    let (mut from_done, mut into_done) = (false, false);
    let copy = std::future::poll_fn(|cx| {
        // Into first: answering a key update queues a record the other direction then sends.
        if !into_done
            && let Poll::Ready(r) = tls.poll_pump_into(cx, &mut plain, &mut |n| counters.add(into_side, n))
        {
            r?;
            into_done = true;
        }
        if !from_done
            && let Poll::Ready(r) = tls.poll_pump_from(cx, &mut plain, &mut |n| counters.add(from_side, n))
        {
            r?;
            from_done = true;
        }
        if from_done && into_done { Poll::Ready(Ok::<(), io::Error>(())) } else { Poll::Pending }
    });
    supervise(copy, &counters, idle, cancel).await
}

/// Runs a copy until it ends, the idle deadline passes or `cancel` fires.
async fn supervise(copy: impl std::future::Future<Output = io::Result<()>>, counters: &Counters, idle: Option<Duration>, cancel: CancellationToken) -> Outcome {
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
    let end = tokio::select! {
        res = copy => match res {
            Ok(()) => End::Closed,
            Err(e) => End::Error(e.to_string()),
        },
        () = watchdog => End::IdleTimeout,
        () = cancel.cancelled() => End::Shutdown,
    };
    Outcome { up: counters.up(), down: counters.down(), end }
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
        let out = relay(client, upstream, Counters::new(), Some(Duration::from_secs(30)), CancellationToken::new()).await;
        assert_eq!(out.end, End::IdleTimeout);
    }
}
