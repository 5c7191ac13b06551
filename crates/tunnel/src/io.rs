//! The plain (unencrypted) side of a tunnel: a TCP socket, or any other byte stream (stdin and
//! stdout for ssh's `ProxyCommand`, a chained proxy). TCP keeps its concrete type so the relay
//! can read straight into TLS record slots with one `readv` ([`PlainIo::poll_read_slots`]).

use std::io::{self, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
pub use tokio_util::either::Either;

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

/// The plain side of a tunnel: `Left` a TCP socket (a local client, an upstream), `Right`
/// anything else. tokio-util's `Either` forwards reads and (vectored) writes to the one it holds.
pub type Stream = Either<TcpStream, Box<dyn Io>>;

impl PlainIo for Stream {
    fn poll_read_slots(&mut self, cx: &mut Context<'_>, slots: &mut [IoSliceMut<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Either::Left(tcp) => tcp.poll_read_slots(cx, slots),
            Either::Right(other) => read_first_slot(other, cx, slots),
        }
    }
}
