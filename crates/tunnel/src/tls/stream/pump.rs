//! The relay's zero-copy directions over a [`TlsStream`]: plain bytes are read with one `readv`
//! straight into the payload slots of up to four records and sealed where they lie; opened
//! records' plaintext goes out with one `writev`. No relay buffer, no payload `memcpy` — what
//! `bench/` showed costing as much as the AES itself.

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::AsyncWrite;

use super::{POOL, Side, TlsStream};
use crate::io::PlainIo;
use crate::tls::record::{MAX_FRAGMENT, Version, content};

/// Records filled per read.
const SLOTS: usize = 4;

impl<D: Side> TlsStream<D> {
    /// Plain → TLS until `src` ends, then close_notify and FIN. `on_bytes` sees every chunk read.
    ///
    /// # Errors
    /// Either side's I/O error, or a sealing failure.
    pub fn poll_pump_from<P: PlainIo + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut P,
        on_bytes: &mut dyn FnMut(usize),
    ) -> Poll<io::Result<()>> {
        loop {
            if self.write_closed {
                return Pin::new(&mut *self).poll_shutdown(cx);
            }
            if self.wstart < self.wend {
                ready!(self.poll_drain(cx, false))?;
            }
            // Rotate keys before a read could run past the suite's limit (TLS 1.3).
            if self.tx.seq() + SLOTS as u64 + 1 >= self.tx_limit {
                if self.kernel.protocol_version() != rustls::ProtocolVersion::TLSv1_3 {
                    return Poll::Ready(Err(super::invalid("TLS 1.2 confidentiality limit reached; reconnect")));
                }
                self.update_tx_keys()?;
                continue;
            }
            let off = self.tx.payload_offset();
            let stride = self.tx.sealed_len(MAX_FRAGMENT);
            let buf = self.wbuf.get_or_insert_with(|| POOL.take());
            let read = {
                let mut chunks = buf[..SLOTS * stride].chunks_mut(stride);
                let mut slots: [IoSliceMut<'_>; SLOTS] =
                    std::array::from_fn(|_| IoSliceMut::new(chunks.next().map_or(&mut [][..], |c| &mut c[off..off + MAX_FRAGMENT])));
                src.poll_read_slots(cx, &mut slots)
            };
            let n = match read {
                Poll::Pending => {
                    // Nothing to send: the buffer goes back to the pool while idle.
                    if let Some(buf) = self.wbuf.take() {
                        POOL.give_back(buf);
                    }
                    return Poll::Pending;
                }
                Poll::Ready(r) => r?,
            };
            if n == 0 {
                return Pin::new(&mut *self).poll_shutdown(cx);
            }
            on_bytes(n);
            let mut left = n;
            let mut end = 0;
            for slot in 0..SLOTS {
                if left == 0 {
                    break;
                }
                let m = left.min(MAX_FRAGMENT);
                end = slot * stride + self.tx.seal(content::APPLICATION_DATA, &mut buf[slot * stride..], m).map_err(super::invalid)?;
                left -= m;
            }
            self.wstart = 0;
            self.wend = end;
        }
    }

    /// TLS → plain until the peer ends, then FIN on `dst`. `on_bytes` sees every chunk written.
    ///
    /// # Errors
    /// Either side's I/O error, a record that does not open, or a fatal alert.
    pub fn poll_pump_into<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut W,
        on_bytes: &mut dyn FnMut(usize),
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.early.is_empty() {
                let n = ready!(Pin::new(&mut *dst).poll_write(cx, &self.early))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.early.drain(..n);
                on_bytes(n);
                continue;
            }
            while self.open_next()? {}
            if !self.plain.is_empty() {
                let written = {
                    let Some(buf) = self.rbuf.as_deref() else { return Poll::Ready(Err(super::invalid("plaintext without a buffer"))) };
                    let mut iov = [IoSlice::new(&[]); 8];
                    let mut k = 0;
                    for (a, b) in self.plain.iter() {
                        iov[k] = IoSlice::new(&buf[a..b]);
                        k += 1;
                    }
                    ready!(Pin::new(&mut *dst).poll_write_vectored(cx, &iov[..k]))?
                };
                if written == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.plain.consume(written);
                on_bytes(written);
                continue;
            }
            if self.read_eof {
                return Pin::new(&mut *dst).poll_shutdown(cx);
            }
            if self.poll_fill(cx)?.is_pending() {
                ready!(Pin::new(&mut *dst).poll_flush(cx))?;
                return Poll::Pending;
            }
        }
    }

    /// Whether records are TLS 1.3's.
    #[must_use]
    pub fn is_tls13(&self) -> bool {
        self.rx_version() == Version::Tls13
    }
}
