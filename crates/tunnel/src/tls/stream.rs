//! A TLS stream over TCP whose handshake is rustls' (unbuffered API) and whose records are
//! sealed and opened here ([`super::record`]), in place in pooled 72 KiB buffers — user-space
//! kernel TLS. Compared with `tokio-rustls` this reads up to 72 KiB per syscall instead of
//! 4 KiB, decrypts in place instead of into a fresh `Vec` per record, and writes up to four
//! full records per syscall. Session tickets and key updates go through rustls'
//! [`KernelConnection`], so resumption and long transfers behave as with rustls itself.
//!
//! Both ends use it: [`connect`] for the CLI and desktop app, [`accept`] for the gateway.
//!
//! - `handshake`: driving rustls' unbuffered handshake, then the hand-over of the keys.
//! - `pump`: the relay's zero-copy directions ([`TlsStream::poll_pump_from`] / `_into`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustls::client::ClientConnectionData;
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::ProtocolVersion;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::record::{self, Keys, MAX_FRAGMENT, RecordError, Version, content};
use crate::pool::Pool;

mod handshake;
mod pump;

pub use handshake::{accept, connect};

/// Record buffers: four full records and change each way; kept for reuse at most 64 (4.5 MiB).
static POOL: Pool = Pool::new(72 * 1024, 64);

/// What the handshake settled, kept after the connection object is gone.
#[derive(Debug, Clone, Default)]
pub struct Negotiated {
    /// The client's certificate chain, leaf first ([`accept`] only; empty after [`connect`]).
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The ALPN protocol both sides agreed on.
    pub alpn: Option<Vec<u8>>,
    /// Whether the handshake resumed an earlier session (a ticket, no certificate exchange).
    pub resumed: bool,
}

/// The side-specific part of a post-handshake message: clients store session tickets.
pub trait Side: Send + Sync + Unpin + 'static {
    /// Handles a `new_session_ticket` body.
    ///
    /// # Errors
    /// A rustls error when the ticket is malformed or not expected on this side.
    fn new_session_ticket(conn: &mut KernelConnection<Self>, body: &[u8]) -> Result<(), rustls::Error>
    where
        Self: Sized;
}

impl Side for ClientConnectionData {
    fn new_session_ticket(conn: &mut KernelConnection<Self>, body: &[u8]) -> Result<(), rustls::Error> {
        conn.handle_new_session_ticket(body)
    }
}

impl Side for ServerConnectionData {
    fn new_session_ticket(_: &mut KernelConnection<Self>, _: &[u8]) -> Result<(), rustls::Error> {
        Err(rustls::Error::General("a client sent a session ticket".into()))
    }
}

/// A TLS connection past its handshake.
pub struct TlsStream<D: Side> {
    tcp: TcpStream,
    kernel: KernelConnection<D>,
    rx: Keys,
    tx: Keys,
    /// The cipher suite's limit on records under one key (TLS 1.3 updates keys before it).
    tx_limit: u64,
    negotiated: Negotiated,
    /// Plaintext that arrived during the handshake, served first.
    early: Vec<u8>,
    rbuf: Option<Box<[u8]>>,
    /// Undecrypted bytes: `rbuf[rstart..rend]`.
    rstart: usize,
    rend: usize,
    /// Decrypted, not yet read: `rbuf[a..b]` for each range, oldest first.
    plain: Plain,
    read_eof: bool,
    wbuf: Option<Box<[u8]>>,
    /// Sealed, not yet written: `wbuf[wstart..wend]`.
    wstart: usize,
    wend: usize,
    write_closed: bool,
    /// A record failed to open or a fatal alert came: every later read fails too (TLS forbids
    /// going on past a bad record; skipping it would let an attacker drop data silently).
    failed: bool,
}

impl<D: Side> std::fmt::Debug for TlsStream<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream").field("tcp", &self.tcp).field("rx", &self.rx).field("tx", &self.tx).finish_non_exhaustive()
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Ranges of decrypted plaintext in the read buffer, oldest first (at most one per record).
#[derive(Debug, Default)]
struct Plain {
    ranges: [(usize, usize); 8],
    head: usize,
    len: usize,
}

impl Plain {
    fn is_full(&self) -> bool {
        self.head + self.len == self.ranges.len()
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, a: usize, b: usize) {
        if a < b {
            self.ranges[self.head + self.len] = (a, b);
            self.len += 1;
        }
    }

    fn front(&self) -> Option<(usize, usize)> {
        (self.len > 0).then(|| self.ranges[self.head])
    }

    fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges[self.head..self.head + self.len].iter().copied()
    }

    /// Marks `n` bytes read, across ranges.
    fn consume(&mut self, mut n: usize) {
        while n > 0 && self.len > 0 {
            let r = &mut self.ranges[self.head];
            let take = n.min(r.1 - r.0);
            r.0 += take;
            n -= take;
            if r.0 == r.1 {
                self.head += 1;
                self.len -= 1;
            }
        }
        if self.len == 0 {
            self.head = 0;
        }
    }
}

impl<D: Side> TlsStream<D> {
    /// What the handshake settled.
    #[must_use]
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The TCP socket underneath.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Opens the next whole buffered record, if any, and acts on it. Returns whether one was
    /// opened (always `false` while the plaintext queue is full).
    fn open_next(&mut self) -> io::Result<bool> {
        if self.failed {
            return Err(invalid("the TLS connection already failed"));
        }
        if self.plain.is_full() || self.read_eof {
            return Ok(false);
        }
        let opened = self.open_one();
        self.failed = opened.is_err();
        opened
    }

    fn open_one(&mut self) -> io::Result<bool> {
        let Some(buf) = self.rbuf.as_mut() else { return Ok(false) };
        let Some(len) = record::record_len(&buf[self.rstart..self.rend]).map_err(invalid)? else { return Ok(false) };
        if self.rend - self.rstart < len {
            return Ok(false);
        }
        let start = self.rstart;
        self.rstart += len;
        let (typ, range) = self.rx.open(&mut buf[start..start + len]).map_err(invalid)?;
        let (a, b) = (start + range.start, start + range.end);
        match typ {
            content::APPLICATION_DATA => self.plain.push(a, b),
            content::ALERT => {
                // close_notify (0) ends the peer's writes; user_canceled (90) is a warning.
                match buf.get(a..b) {
                    Some([_, 0]) => self.read_eof = true,
                    Some([1, 90]) => {}
                    Some([_, d]) => return Err(invalid(format!("the peer sent TLS alert {d}"))),
                    _ => return Err(invalid(RecordError::Malformed("alert"))),
                }
            }
            content::HANDSHAKE => {
                let body = buf[a..b].to_vec();
                self.post_handshake(&body)?;
            }
            _ => return Err(invalid(RecordError::Malformed("unexpected content type after the handshake"))),
        }
        Ok(true)
    }

    /// Session tickets and key updates (each message whole within one record, as every
    /// implementation sends them).
    fn post_handshake(&mut self, mut msgs: &[u8]) -> io::Result<()> {
        while let [typ, a, b, c, rest @ ..] = msgs {
            let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
            if rest.len() < len {
                return Err(invalid("a post-handshake message split across TLS records is not supported"));
            }
            let (body, tail) = rest.split_at(len);
            match *typ {
                4 => D::new_session_ticket(&mut self.kernel, body).map_err(tls_error)?,
                24 => {
                    let (seq, secrets) = self.kernel.update_rx_secret().map_err(tls_error)?;
                    self.rx = Keys::new(Version::Tls13, seq, &secrets).map_err(invalid)?;
                    if body == [1] {
                        self.update_tx_keys()?;
                    }
                }
                // TLS 1.2 HelloRequest: renegotiation is not supported, and ignoring the
                // request is what RFC 5246 §7.4.1.1 allows a client to do.
                0 if self.rx_version() == Version::Tls12 => {}
                t => return Err(invalid(format!("unexpected TLS handshake message {t} after the handshake"))),
            }
            msgs = tail;
        }
        Ok(())
    }

    /// Queues a KeyUpdate (`update_not_requested`) under the old keys, then switches to new ones.
    fn update_tx_keys(&mut self) -> io::Result<()> {
        let off = self.tx.payload_offset();
        let need = self.tx.sealed_len(5);
        let buf = self.wbuf.get_or_insert_with(|| POOL.take());
        if buf.len() - self.wend < need {
            return Err(invalid("no room to queue a TLS key update"));
        }
        let at = self.wend;
        buf[at + off..at + off + 5].copy_from_slice(&[24, 0, 0, 1, 0]);
        self.wend += self.tx.seal(content::HANDSHAKE, &mut buf[at..], 5).map_err(invalid)?;
        let (seq, secrets) = self.kernel.update_tx_secret().map_err(tls_error)?;
        self.tx = Keys::new(Version::Tls13, seq, &secrets).map_err(invalid)?;
        Ok(())
    }

    /// Writes sealed bytes until none are left; `release` hands the buffer back to the pool.
    fn poll_drain(&mut self, cx: &mut Context<'_>, release: bool) -> Poll<io::Result<()>> {
        while self.wstart < self.wend {
            let Some(buf) = self.wbuf.as_ref() else { break };
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &buf[self.wstart..self.wend]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wstart += n;
        }
        self.wstart = 0;
        self.wend = 0;
        if release && let Some(buf) = self.wbuf.take() {
            POOL.give_back(buf);
        }
        Poll::Ready(Ok(()))
    }

    /// Seals `data` (at most one record) into the write buffer. Returns bytes taken.
    fn seal_one(&mut self, typ: u8, data: &[u8]) -> io::Result<usize> {
        if self.tx.seq() + 1 >= self.tx_limit {
            if self.rx_version() == Version::Tls13 {
                self.update_tx_keys()?;
            } else {
                return Err(invalid("TLS 1.2 confidentiality limit reached; reconnect"));
            }
        }
        let buf = self.wbuf.get_or_insert_with(|| POOL.take());
        let room = buf.len() - self.wend;
        let n = data.len().min(MAX_FRAGMENT).min(room.saturating_sub(record::MAX_OVERHEAD));
        if n == 0 && !data.is_empty() {
            return Ok(0);
        }
        let at = self.wend;
        let off = self.tx.payload_offset();
        buf[at + off..at + off + n].copy_from_slice(&data[..n]);
        self.wend += self.tx.seal(typ, &mut buf[at..], n).map_err(invalid)?;
        Ok(n)
    }

    /// Reads more ciphertext after any partial record (moved to the front first). Sets
    /// `read_eof` at a clean TCP end. Call only when no plaintext is waiting.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let buf = self.rbuf.get_or_insert_with(|| POOL.take());
        if self.rstart > 0 {
            buf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        if self.rend == buf.len() {
            return Poll::Ready(Err(invalid(RecordError::Malformed("record larger than the read buffer"))));
        }
        let mut rb = ReadBuf::new(&mut buf[self.rend..]);
        match Pin::new(&mut self.tcp).poll_read(cx, &mut rb) {
            Poll::Pending => {
                // Idle: hand the buffer back unless a partial record is in it.
                if self.rend == 0
                    && let Some(buf) = self.rbuf.take()
                {
                    POOL.give_back(buf);
                }
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    if self.rend > 0 {
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed mid-record")));
                    }
                    // TCP EOF without close_notify: an end all the same for a byte tunnel.
                    self.read_eof = true;
                }
                self.rend += n;
                Poll::Ready(Ok(()))
            }
        }
    }

    fn rx_version(&self) -> Version {
        if self.kernel.protocol_version() == ProtocolVersion::TLSv1_3 { Version::Tls13 } else { Version::Tls12 }
    }
}

impl<D: Side> AsyncRead for TlsStream<D> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let filled_before = out.filled().len();
        if !this.early.is_empty() {
            let n = this.early.len().min(out.remaining());
            out.put_slice(&this.early[..n]);
            this.early.drain(..n);
            return Poll::Ready(Ok(()));
        }
        loop {
            if let Some((a, b)) = this.plain.front() {
                let Some(buf) = this.rbuf.as_ref() else { break };
                let n = (b - a).min(out.remaining());
                out.put_slice(&buf[a..a + n]);
                this.plain.consume(n);
                if out.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if this.open_next()? {
                continue;
            }
            // Every whole record already received is handed over in one read.
            if this.read_eof || out.filled().len() > filled_before {
                return Poll::Ready(Ok(()));
            }
            ready!(this.poll_fill(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<D: Side> AsyncWrite for TlsStream<D> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Room for a full record, or write out what is sealed first.
        let full = this.tx.sealed_len(MAX_FRAGMENT.min(data.len()));
        if this.wbuf.as_ref().is_some_and(|b| b.len() - this.wend < full) {
            ready!(this.poll_drain(cx, false))?;
        }
        let mut taken = 0;
        while taken < data.len() {
            let n = this.seal_one(content::APPLICATION_DATA, &data[taken..])?;
            if n == 0 {
                break;
            }
            taken += n;
        }
        // Send now, as tokio-rustls does: callers may write and then wait for an answer
        // without flushing. A full socket keeps the rest for the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx, false) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx, true))?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.write_closed {
            ready!(self.poll_drain(cx, true))?;
            // close_notify, warning level.
            self.seal_one(content::ALERT, &[1, 0])?;
            self.write_closed = true;
        }
        ready!(self.poll_drain(cx, true))?;
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
