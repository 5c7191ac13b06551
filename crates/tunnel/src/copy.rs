//! The bidirectional copy under [`crate::relay`]: like tokio's `copy_bidirectional_with_sizes`
//! (64 KiB per direction, half-close kept, flush when the reader stalls), except that a
//! direction holds its 64 KiB buffer only while bytes are in flight. An idle direction hands
//! its buffer back to a process-wide pool, so a thousand idle tunnels do not pin a thousand
//! touched buffers (the idle-memory target in `bench/`).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::pool::Pool;

/// Relay buffers kept for reuse at most 64 (64 KiB each: 4 MiB); other sizes are not pooled.
static POOL: Pool = Pool::new(64 * 1024, 64);

fn take(size: usize) -> Box<[u8]> {
    if size == POOL.size() { POOL.take() } else { vec![0u8; size].into_boxed_slice() }
}

fn give_back(buf: Box<[u8]>) {
    POOL.give_back(buf);
}

/// One direction: read from one side, write to the other.
struct Half {
    buf: Option<Box<[u8]>>,
    size: usize,
    pos: usize,
    cap: usize,
    read_done: bool,
    need_flush: bool,
    done: bool,
}

impl Half {
    fn new(size: usize) -> Self {
        Self { buf: None, size, pos: 0, cap: 0, read_done: false, need_flush: false, done: false }
    }

    fn poll<R, W>(&mut self, cx: &mut Context<'_>, mut r: Pin<&mut R>, mut w: Pin<&mut W>) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.pos == self.cap && !self.read_done {
                let size = self.size;
                let buf = self.buf.get_or_insert_with(|| take(size));
                let mut rb = ReadBuf::new(buf);
                match r.as_mut().poll_read(cx, &mut rb) {
                    Poll::Pending => {
                        // Nothing to send: flush what was written, and let the buffer go.
                        if let Some(b) = self.buf.take() {
                            give_back(b);
                        }
                        if self.need_flush {
                            ready!(w.as_mut().poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            self.read_done = true;
                            if let Some(b) = self.buf.take() {
                                give_back(b);
                            }
                        } else {
                            self.pos = 0;
                            self.cap = n;
                        }
                    }
                }
            }
            while self.pos < self.cap {
                let Some(buf) = self.buf.as_ref() else { break };
                let n = ready!(w.as_mut().poll_write(cx, &buf[self.pos..self.cap]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::WriteZero, "write zero bytes into the other side")));
                }
                self.pos += n;
                self.need_flush = true;
            }
            if self.pos == self.cap && self.read_done {
                ready!(w.as_mut().poll_flush(cx))?;
                // Half-close: the other side learns this direction is finished.
                ready!(w.as_mut().poll_shutdown(cx))?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// Copies `a` → `b` and `b` → `a` until both directions reach EOF, each direction shutting
/// down its writer when its reader ends (half-close), with `size`-byte buffers held only while
/// data moves.
///
/// # Errors
/// The first I/O error of either direction.
///
/// # Cancel safety
/// Dropping the future loses bytes that were read but not yet written.
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B, size: usize) -> io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut a_to_b = Half::new(size);
    let mut b_to_a = Half::new(size);
    poll_fn(|cx| {
        if !a_to_b.done
            && let Poll::Ready(r) = a_to_b.poll(cx, Pin::new(&mut *a), Pin::new(&mut *b))
        {
            r?;
            a_to_b.done = true;
        }
        if !b_to_a.done
            && let Poll::Ready(r) = b_to_a.poll(cx, Pin::new(&mut *b), Pin::new(&mut *a))
        {
            r?;
            b_to_a.done = true;
        }
        if a_to_b.done && b_to_a.done { Poll::Ready(Ok(())) } else { Poll::Pending }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn copies_both_ways_with_half_close_and_returns_buffers() {
        let (mut a, mut a_peer) = tokio::io::duplex(1024);
        let (mut b, mut b_peer) = tokio::io::duplex(1024);
        let task = tokio::spawn(async move { copy_bidirectional(&mut a, &mut b, 64 * 1024).await });
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let d2 = data.clone();
        let writer = tokio::spawn(async move {
            a_peer.write_all(&d2).await.unwrap();
            a_peer.shutdown().await.unwrap();
            let mut back = Vec::new();
            a_peer.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        b_peer.read_to_end(&mut got).await.unwrap();
        assert!(got == data, "every byte a → b, then EOF");
        b_peer.write_all(b"reply after half-close").await.unwrap();
        b_peer.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"reply after half-close");
        task.await.unwrap().unwrap();
        assert!(POOL.idle() > 0, "idle directions hand their buffers back");
    }
}
