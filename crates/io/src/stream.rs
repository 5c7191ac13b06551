//! The streams a tunnel relays: a TCP socket, a TLS connection over one, or any other byte
//! stream (stdin and stdout for ssh's `ProxyCommand`, a chained proxy), and [`Abort`], what the
//! relay needs beyond reads and writes to make an abort look like an abort.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
pub use tokio_util::either::Either;

/// Any byte stream, boxed.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + ?Sized> Io for T {}

/// The plain side of a tunnel: `Left` a TCP socket (a local client, an upstream), `Right`
/// anything else. tokio-util's `Either` forwards reads and (vectored) writes to the one it holds.
pub type Stream = Either<TcpStream, Box<dyn Io>>;

/// How the relay tells a peer that vanished and passes the news on. Streams that are not
/// sockets keep the defaults: nothing to look at, and dropping them is all they can do.
pub trait Abort {
    /// Takes the pending error of the socket under this stream (`ECONNRESET` after the peer
    /// reset it), without reading: the relay asks while it is blocked writing to the other
    /// side, when nothing reads from this one. `None` when there is none or no socket.
    fn take_error(&self) -> Option<io::Error> {
        None
    }

    /// Makes closing this stream a reset: `SO_LINGER 0` on the socket under it, so dropping it
    /// sends RST (and, for TLS, no close_notify). Bytes still in the kernel's send queue are
    /// discarded, as a reset does; the relay flushes first.
    fn abort(&mut self) {}
}

/// The socket's pending error, or `None` (an error reading it is ignored: nothing to report).
fn socket_error(tcp: &TcpStream) -> Option<io::Error> {
    SockRef::from(tcp).take_error().ok().flatten()
}

fn reset_on_close(tcp: &TcpStream) {
    if let Err(e) = SockRef::from(tcp).set_linger(Some(std::time::Duration::ZERO)) {
        tracing::debug!(error = %e, "SO_LINGER 0 failed; the connection will close with FIN");
    }
}

impl Abort for TcpStream {
    fn take_error(&self) -> Option<io::Error> {
        socket_error(self)
    }
    fn abort(&mut self) {
        reset_on_close(self);
    }
}

impl Abort for tokio_rustls::client::TlsStream<TcpStream> {
    fn take_error(&self) -> Option<io::Error> {
        socket_error(self.get_ref().0)
    }
    fn abort(&mut self) {
        reset_on_close(self.get_ref().0);
    }
}

impl Abort for tokio_rustls::server::TlsStream<TcpStream> {
    fn take_error(&self) -> Option<io::Error> {
        socket_error(self.get_ref().0)
    }
    fn abort(&mut self) {
        reset_on_close(self.get_ref().0);
    }
}

impl<L: Abort, R: Abort> Abort for Either<L, R> {
    fn take_error(&self) -> Option<io::Error> {
        match self {
            Either::Left(l) => l.take_error(),
            Either::Right(r) => r.take_error(),
        }
    }
    fn abort(&mut self) {
        match self {
            Either::Left(l) => l.abort(),
            Either::Right(r) => r.abort(),
        }
    }
}

impl<T: Abort + ?Sized> Abort for Box<T> {
    fn take_error(&self) -> Option<io::Error> {
        (**self).take_error()
    }
    fn abort(&mut self) {
        (**self).abort();
    }
}

/// Boxed streams (stdio, a chained proxy): only dropping them.
impl Abort for dyn Io {}

impl<T: Abort + ?Sized> Abort for &mut T {
    fn take_error(&self) -> Option<io::Error> {
        (**self).take_error()
    }
    fn abort(&mut self) {
        (**self).abort();
    }
}

/// A stream that can only be dropped to end it (e.g. hyper's upgraded HTTP/2 stream): the
/// [`Abort`] defaults around any reader/writer.
#[derive(Debug)]
pub struct DropOnly<T>(pub T);

impl<T> Abort for DropOnly<T> {}

impl<T: AsyncRead + Unpin> AsyncRead for DropOnly<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DropOnly<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// In-memory pipes (tests): only dropping them.
impl Abort for tokio::io::DuplexStream {}

/// A stream whose first reads return `prefix` (bytes already read from it to look at the
/// request, e.g. to tell CONNECT-UDP over HTTP/1.1 from what hyper serves), then the stream's.
/// Writes, [`Abort`] and the socket stay the inner stream's.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    taken: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, with `prefix` to be read first.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self { prefix, taken: 0, inner }
    }

    /// The inner stream (any prefix bytes not read yet are lost).
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.taken < self.prefix.len() {
            let n = (self.prefix.len() - self.taken).min(buf.remaining());
            let start = self.taken;
            buf.put_slice(&self.prefix[start..start + n]);
            self.taken += n;
            if self.taken == self.prefix.len() {
                self.prefix = Vec::new();
                self.taken = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<S: Abort> Abort for Prefixed<S> {
    fn take_error(&self) -> Option<io::Error> {
        self.inner.take_error()
    }
    fn abort(&mut self) {
        self.inner.abort();
    }
}

#[cfg(test)]
mod prefixed_tests {
    use tokio::io::AsyncReadExt as _;

    use super::Prefixed;

    #[tokio::test]
    async fn the_prefix_is_read_first_then_the_stream() {
        let (mut theirs, ours) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut theirs, b" world").await.unwrap();
        drop(theirs);
        let mut s = Prefixed::new(b"hello".to_vec(), ours);
        let mut got = String::new();
        s.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "hello world");
    }
}
