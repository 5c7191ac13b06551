//! The bidirectional copy under [`crate::relay`]: like tokio's `copy_bidirectional_with_sizes`
//! (64 KiB per direction, half-close kept, flush when the reader stalls), except that
//!
//! - a direction holds its 64 KiB buffer only while bytes are in flight: an idle direction
//!   hands it back to a process-wide pool, so a thousand idle tunnels do not pin a thousand
//!   touched buffers (the idle-memory target in `bench/`);
//! - an error says which side it came from ([`Fault`]), so the relay can tell who aborted;
//! - a direction blocked writing still notices that the side it reads from was reset. Nothing
//!   reads that side while the writer is stuck (an upstream that stopped reading), so once a
//!   second ([`HANGUP_CHECK`]) the relay asks its socket for a pending error
//!   ([`Abort::take_error`]). The error is kept and served after the bytes that arrived before
//!   it, as long as the writer still moves; a writer that moved nothing for a whole interval
//!   after the reset ends the copy with it.
//!
//! A side that only half-closed (FIN) is not an error: its last bytes may still be wanted and
//! the other direction goes on. If those bytes can never be delivered (the writer never
//! unblocks), nothing moves either way and the relay's `idle` deadline ends the tunnel: in the
//! gateway that is the route's `idle_timeout`, else the global `timeout_idle` (5 min).

use std::future::{Future as _, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::pool::Pool;
use crate::stream::Abort;

/// Relay buffers kept for reuse at most 64 (64 KiB each: 4 MiB); other sizes are not pooled.
static POOL: Pool = Pool::new(64 * 1024, 64);

/// How often a direction blocked writing looks for a reset of the side it reads from.
pub const HANGUP_CHECK: Duration = Duration::from_secs(1);

fn take(size: usize) -> Box<[u8]> {
    if size == POOL.size() { POOL.take() } else { vec![0u8; size].into_boxed_slice() }
}

fn give_back(buf: Box<[u8]>) {
    POOL.give_back(buf);
}

/// One of the two streams given to [`copy_bidirectional`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The first (`a`).
    A,
    /// The second (`b`).
    B,
}

/// An I/O error and the stream it happened on (the one read from or written to).
#[derive(Debug)]
pub struct Fault {
    /// Where.
    pub side: Which,
    /// What.
    pub error: io::Error,
}

/// Which end of a direction failed.
enum Role {
    Reader,
    Writer,
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
    /// The last poll stopped because the writer was not ready.
    write_blocked: bool,
    /// Bytes were written since the last hang-up check.
    progress: bool,
    /// The reader's socket error, taken while blocked; served when the reader runs dry.
    hangup: Option<io::Error>,
}

impl Half {
    fn new(size: usize) -> Self {
        Self {
            buf: None,
            size,
            pos: 0,
            cap: 0,
            read_done: false,
            need_flush: false,
            done: false,
            write_blocked: false,
            progress: false,
            hangup: None,
        }
    }

    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut r: Pin<&mut R>,
        mut w: Pin<&mut W>,
    ) -> Poll<Result<(), (Role, io::Error)>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        self.write_blocked = false;
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
                            match w.as_mut().poll_flush(cx) {
                                Poll::Pending => {
                                    self.write_blocked = true;
                                    return Poll::Pending;
                                }
                                Poll::Ready(r) => r.map_err(|e| (Role::Writer, e))?,
                            }
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err((Role::Reader, e))),
                    Poll::Ready(Ok(())) => {
                        let n = rb.filled().len();
                        if n == 0 {
                            if let Some(e) = self.hangup.take() {
                                // The reset seen while blocked, after every byte before it.
                                return Poll::Ready(Err((Role::Reader, e)));
                            }
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
                let n = match w.as_mut().poll_write(cx, &buf[self.pos..self.cap]) {
                    Poll::Pending => {
                        self.write_blocked = true;
                        return Poll::Pending;
                    }
                    Poll::Ready(r) => r.map_err(|e| (Role::Writer, e))?,
                };
                if n == 0 {
                    let e = io::Error::new(io::ErrorKind::WriteZero, "write zero bytes into the other side");
                    return Poll::Ready(Err((Role::Writer, e)));
                }
                self.pos += n;
                self.need_flush = true;
                self.progress = true;
            }
            if self.pos == self.cap && self.read_done {
                // Flush, then half-close: the other side learns this direction is finished.
                let closed = match w.as_mut().poll_flush(cx) {
                    Poll::Ready(Ok(())) => w.as_mut().poll_shutdown(cx),
                    other => other,
                };
                return match closed {
                    Poll::Pending => {
                        self.write_blocked = true;
                        Poll::Pending
                    }
                    Poll::Ready(r) => Poll::Ready(r.map_err(|e| (Role::Writer, e))),
                };
            }
        }
    }

    /// Called every [`HANGUP_CHECK`] while blocked writing: takes the reader's pending error;
    /// returns it once a whole interval after it passed without a byte written.
    fn check_hangup(&mut self, reader: &(impl Abort + ?Sized)) -> Option<io::Error> {
        let stalled = !std::mem::take(&mut self.progress);
        if self.hangup.is_some() && stalled {
            return self.hangup.take();
        }
        if self.hangup.is_none() {
            self.hangup = reader.take_error();
        }
        None
    }
}

/// Copies `a` → `b` and `b` → `a` until both directions reach EOF, each direction shutting
/// down its writer when its reader ends (half-close), with `size`-byte buffers held only while
/// data moves.
///
/// # Errors
/// The first I/O error of either direction, with the stream it happened on; a reset of a side
/// that nothing reads because the other side stopped reading (see the module docs).
///
/// # Cancel safety
/// Dropping the future loses bytes that were read but not yet written.
pub async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B, size: usize) -> Result<(), Fault>
where
    A: AsyncRead + AsyncWrite + Abort + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Abort + Unpin + ?Sized,
{
    let mut a_to_b = Half::new(size);
    let mut b_to_a = Half::new(size);
    // Armed the first time a direction blocks writing; a few hundred bytes per stuck tunnel.
    let mut tick: Option<Pin<Box<Sleep>>> = None;
    let fault = |side, (role, error)| match role {
        Role::Reader => Fault { side, error },
        Role::Writer => Fault { side: if side == Which::A { Which::B } else { Which::A }, error },
    };
    poll_fn(|cx| {
        if !a_to_b.done
            && let Poll::Ready(r) = a_to_b.poll(cx, Pin::new(&mut *a), Pin::new(&mut *b))
        {
            r.map_err(|e| fault(Which::A, e))?;
            a_to_b.done = true;
        }
        if !b_to_a.done
            && let Poll::Ready(r) = b_to_a.poll(cx, Pin::new(&mut *b), Pin::new(&mut *a))
        {
            r.map_err(|e| fault(Which::B, e))?;
            b_to_a.done = true;
        }
        if a_to_b.done && b_to_a.done {
            return Poll::Ready(Ok(()));
        }
        let blocked = (!a_to_b.done && a_to_b.write_blocked) || (!b_to_a.done && b_to_a.write_blocked);
        if blocked {
            let t = tick.get_or_insert_with(|| Box::pin(tokio::time::sleep(HANGUP_CHECK)));
            if t.as_mut().poll(cx).is_ready() {
                t.as_mut().reset(Instant::now() + HANGUP_CHECK);
                if !a_to_b.done
                    && a_to_b.write_blocked
                    && let Some(error) = a_to_b.check_hangup(&*a)
                {
                    return Poll::Ready(Err(Fault { side: Which::A, error }));
                }
                if !b_to_a.done
                    && b_to_a.write_blocked
                    && let Some(error) = b_to_a.check_hangup(&*b)
                {
                    return Poll::Ready(Err(Fault { side: Which::B, error }));
                }
                // Registers the timer again.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
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
        let task =
            tokio::spawn(async move { copy_bidirectional(&mut a, &mut b, 64 * 1024).await.map_err(|f| f.error) });
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
