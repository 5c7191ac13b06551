//! The capsule protocol (RFC 9297) as CONNECT-UDP over HTTP/1.1 uses it (RFC 9298,
//! docs/protocol.md §2.4): each UDP datagram travels as one DATAGRAM capsule,
//! `varint(0x00) varint(len) varint(context id 0) payload`. QUIC variable-length integers are
//! the `octets` crate's (Cloudflare quiche's); only the capsule envelope is here.
//!
//! Reading skips capsules of other types (whatever their length, without buffering them),
//! drops datagrams with a context id other than 0 (the caller counts them), and never splits
//! or joins datagrams: one capsule in, one datagram out.

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The DATAGRAM capsule type (RFC 9297 §3.5).
pub const DATAGRAM: u64 = 0x00;
/// Largest UDP payload carried in one capsule: what one UDP datagram can hold over IPv4
/// (65,535 − 8 bytes of UDP header − 20 bytes of IP header).
pub const MAX_DATAGRAM: usize = 65_507;
/// Largest DATAGRAM capsule accepted: a full datagram plus its context id (at most 8 bytes).
pub const MAX_CAPSULE: usize = MAX_DATAGRAM + 8;

/// Appends one DATAGRAM capsule holding `payload` with context id 0: `00 varint(n+1) 00
/// payload`, the bytes pomerium-cli writes.
///
/// # Panics
/// When `payload` is longer than [`MAX_DATAGRAM`]: callers drop (and count) those first.
pub fn encode_datagram(payload: &[u8], out: &mut BytesMut) {
    assert!(payload.len() <= MAX_DATAGRAM, "datagram of {} bytes over the maximum", payload.len());
    let len = payload.len() as u64 + 1;
    let mut head = [0u8; 10];
    let used = {
        let mut o = octets::OctetsMut::with_slice(&mut head);
        // Cannot fail: 10 bytes hold a 1-byte type, an up-to-8-byte length and the context id.
        let written = [DATAGRAM, len, 0].iter().all(|v| o.put_varint(*v).is_ok());
        debug_assert!(written);
        o.off()
    };
    out.reserve(used + payload.len());
    out.extend_from_slice(&head[..used]);
    out.extend_from_slice(payload);
}

/// One DATAGRAM capsule as bytes (see [`encode_datagram`]).
#[must_use]
pub fn datagram(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    encode_datagram(payload, &mut out);
    out.freeze()
}

/// An HTTP Datagram's payload over HTTP/3 (RFC 9298 §5) for `payload`: context id 0 (the
/// one-byte varint `00`), then the UDP payload. The quarter stream id in front is h3-datagram's.
#[must_use]
pub fn http_datagram(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 1);
    out.extend_from_slice(&[0]);
    out.extend_from_slice(payload);
    out.freeze()
}

/// An HTTP Datagram's payload read as RFC 9298 says: context id 0 gives the UDP payload
/// ([`Capsule::Datagram`]), another one [`Capsule::OtherContext`] (to drop and count); `None`
/// when it has no context id.
#[must_use]
pub fn read_http_datagram(mut payload: Bytes) -> Option<Capsule> {
    let (context, used) = {
        let mut o = octets::Octets::with_slice(&payload);
        (o.get_varint().ok()?, o.off())
    };
    payload.advance(used);
    Some(if context == 0 { Capsule::Datagram(payload) } else { Capsule::OtherContext(context) })
}

/// What one decoded capsule was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capsule {
    /// A datagram for context 0: the UDP payload.
    Datagram(Bytes),
    /// A DATAGRAM capsule for another context id: dropped, to be counted.
    OtherContext(u64),
    /// A capsule of another type, skipped (its bytes are consumed, not kept).
    Skipped(u64),
}

/// Why a capsule stream cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum CapsuleError {
    /// A DATAGRAM capsule announced more than [`MAX_CAPSULE`] bytes.
    #[error("the peer sent a datagram capsule of {0} bytes, over the {MAX_CAPSULE}-byte maximum")]
    TooLong(u64),
    /// A DATAGRAM capsule ended inside its context id.
    #[error("the peer sent a datagram capsule without a context id")]
    NoContext,
    /// The stream ended inside a capsule.
    #[error("the connection ended in the middle of a capsule")]
    Truncated,
    /// Reading failed.
    #[error("reading capsules failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes capsules from a byte stream, one at a time, with bounded memory: at most one
/// DATAGRAM capsule is buffered; other capsule types are skipped as they stream by.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Bytes of a skipped capsule still to discard.
    skipping: u64,
}

impl Decoder {
    /// A decoder at the start of a capsule stream.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one capsule off the front of `buf`, or `None` when more bytes are needed.
    ///
    /// # Errors
    /// [`CapsuleError::TooLong`] / [`CapsuleError::NoContext`]: the stream is not usable.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Capsule>, CapsuleError> {
        if self.skipping > 0 {
            let n = usize::try_from(self.skipping).unwrap_or(usize::MAX).min(buf.len());
            buf.advance(n);
            self.skipping -= n as u64;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        let mut o = octets::Octets::with_slice(buf);
        let (Ok(kind), Ok(len)) = (o.get_varint(), o.get_varint()) else {
            return Ok(None);
        };
        let head = o.off();
        if kind != DATAGRAM {
            // Reported now, its body discarded by the next calls as it arrives.
            buf.advance(head);
            self.skipping = len;
            return Ok(Some(Capsule::Skipped(kind)));
        }
        if len > MAX_CAPSULE as u64 {
            return Err(CapsuleError::TooLong(len));
        }
        let len = len as usize;
        if buf.len() < head + len {
            buf.reserve(head + len - buf.len());
            return Ok(None);
        }
        buf.advance(head);
        let mut body = buf.split_to(len);
        let mut b = octets::Octets::with_slice(&body);
        let context = b.get_varint().map_err(|_| CapsuleError::NoContext)?;
        let off = b.off();
        if context != 0 {
            return Ok(Some(Capsule::OtherContext(context)));
        }
        body.advance(off);
        Ok(Some(Capsule::Datagram(body.freeze())))
    }
}

/// Reads capsules from `R`, buffering at most one capsule plus one read.
#[derive(Debug)]
pub struct Reader<R> {
    io: R,
    buf: BytesMut,
    decoder: Decoder,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads capsules from `io`; `early` holds bytes already read past the HTTP head.
    pub fn new(io: R, early: &[u8]) -> Self {
        Self { io, buf: BytesMut::from(early), decoder: Decoder::new() }
    }

    /// The next capsule, or `None` at a clean end of stream (between capsules).
    ///
    /// # Errors
    /// [`CapsuleError`]: a malformed or oversized capsule, an end inside one, or a read error.
    ///
    /// # Cancel safety
    /// Cancel safe: bytes read stay buffered for the next call.
    pub async fn next(&mut self) -> Result<Option<Capsule>, CapsuleError> {
        loop {
            if let Some(c) = self.decoder.decode(&mut self.buf)? {
                return Ok(Some(c));
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() && self.decoder.skipping == 0 {
                    Ok(None)
                } else {
                    Err(CapsuleError::Truncated)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_is_type_zero_length_plus_one_context_zero_payload() {
        assert_eq!(&datagram(b"abc")[..], b"\x00\x04\x00abc");
        // 100 bytes: the length 101 needs a 2-byte varint (0x40 | 0, 101).
        let big = datagram(&[7u8; 100]);
        assert_eq!(&big[..4], &[0x00, 0x40, 101, 0x00]);
        assert_eq!(big.len(), 104);
        assert_eq!(&datagram(b"")[..], b"\x00\x01\x00");
    }

    #[test]
    fn an_http_datagram_is_context_zero_then_the_payload_and_other_contexts_are_told_apart() {
        assert_eq!(&http_datagram(b"dns")[..], b"\x00dns");
        let back = read_http_datagram(http_datagram(b"dns"));
        assert_eq!(back, Some(Capsule::Datagram(Bytes::from_static(b"dns"))));
        // Context id 1 as a two-byte varint (40 01), then bytes that must not be delivered.
        assert_eq!(read_http_datagram(Bytes::from_static(b"\x40\x01x")), Some(Capsule::OtherContext(1)));
        assert_eq!(read_http_datagram(Bytes::from_static(b"\x02x")), Some(Capsule::OtherContext(2)));
        assert_eq!(read_http_datagram(Bytes::new()), None, "no context id");
    }

    #[test]
    fn decoding_waits_for_whole_capsules_and_never_splits_one() {
        let mut d = Decoder::new();
        let wire = datagram(&[1u8; 300]);
        let mut buf = BytesMut::from(&wire[..150]);
        assert_eq!(d.decode(&mut buf).unwrap(), None, "half a capsule is not a datagram");
        buf.extend_from_slice(&wire[150..]);
        buf.extend_from_slice(&datagram(b"next"));
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Capsule::Datagram(Bytes::from(vec![1u8; 300]))));
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Capsule::Datagram(Bytes::from_static(b"next"))));
        assert!(buf.is_empty());
    }

    #[test]
    fn other_types_are_skipped_and_other_contexts_dropped() {
        let mut d = Decoder::new();
        // Type 0x29, length 3, a body split across reads; then context 5; then context 0.
        let mut buf = BytesMut::from(&b"\x29\x03x"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Capsule::Skipped(0x29)));
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"yz\x00\x03\x05ab");
        buf.extend_from_slice(&datagram(b"ok"));
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Capsule::OtherContext(5)));
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Capsule::Datagram(Bytes::from_static(b"ok"))));
        assert!(buf.is_empty());
    }

    #[test]
    fn an_oversized_datagram_capsule_is_refused_before_it_is_buffered() {
        let mut buf = BytesMut::from(&b"\x00\x80\x01\x00\x00"[..]); // length 65,536
        assert_eq!(MAX_CAPSULE, 65_515);
        assert!(matches!(Decoder::new().decode(&mut buf), Err(CapsuleError::TooLong(65_536))));
    }
}
