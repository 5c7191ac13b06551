//! The plain (unencrypted) side of a tunnel: a TCP socket, or any other byte stream (stdin and
//! stdout for ssh's `ProxyCommand`, a chained proxy). TCP keeps its concrete type so the relay
//! can read straight into TLS record slots with one `readv` ([`PlainIo::poll_read_slots`]).

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Any byte stream, boxed.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + ?Sized> Io for T {}

/// A stream the relay can read into several buffers at once.
pub trait PlainIo: AsyncRead + AsyncWrite + Unpin + Send {
    /// Reads into `slots` in order, like `readv`; `Ok(0)` is end of stream. The default fills
    /// only the first slot.
    ///
    /// # Errors
    /// The stream's read error.
    fn poll_read_slots(&mut self, cx: &mut Context<'_>, slots: &mut [IoSliceMut<'_>]) -> Poll<io::Result<usize>> {
        read_first_slot(self, cx, slots)
    }
}

/// Reads into the first slot only: for streams without vectored reads.
fn read_first_slot<R: AsyncRead + Unpin + ?Sized>(r: &mut R, cx: &mut Context<'_>, slots: &mut [IoSliceMut<'_>]) -> Poll<io::Result<usize>> {
    let Some(first) = slots.first_mut() else { return Poll::Ready(Ok(0)) };
    let mut rb = ReadBuf::new(first);
    ready!(Pin::new(r).poll_read(cx, &mut rb))?;
    Poll::Ready(Ok(rb.filled().len()))
}

impl PlainIo for TcpStream {
    fn poll_read_slots(&mut self, cx: &mut Context<'_>, slots: &mut [IoSliceMut<'_>]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_read_ready(cx))?;
            match self.try_read_vectored(slots) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }
}

/// The plain side of a tunnel.
pub enum Stream {
    /// A TCP socket (a local client, an upstream).
    Tcp(TcpStream),
    /// Anything else.
    Other(Box<dyn Io>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Tcp(s) => f.debug_tuple("Tcp").field(s).finish(),
            Stream::Other(_) => f.write_str("Other"),
        }
    }
}

impl PlainIo for Stream {
    fn poll_read_slots(&mut self, cx: &mut Context<'_>, slots: &mut [IoSliceMut<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => s.poll_read_slots(cx, slots),
            Stream::Other(s) => read_first_slot(s, cx, slots),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Other(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Other(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Other(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
