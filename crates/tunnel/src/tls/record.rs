//! TLS record protection after the handshake (RFC 8446 §5.2–5.3 for TLS 1.3, RFC 5288 / 7905
//! for TLS 1.2), in place in the caller's buffer, with the traffic keys rustls hands over
//! through its kernel-connection API ([`rustls::kernel`]). This is what kernel TLS would do;
//! this kernel has no TLS module, so [`super::stream`] does it in user space with `ring`'s AEADs
//! and no extra copies.
//!
//! Only the AEADs rustls negotiates are supported (AES-128/256-GCM, ChaCha20-Poly1305).

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::ConnectionTrafficSecrets;

/// A record header: type, legacy version, length.
pub const HEADER: usize = 5;
/// The AEAD tag of every supported suite.
pub const TAG: usize = 16;
/// The largest plaintext fragment (2^14).
pub const MAX_FRAGMENT: usize = 16 * 1024;
/// The most bytes a record may add around its fragment when sealed here: header, the TLS 1.2
/// GCM explicit nonce (8) or the TLS 1.3 inner content type (1), and the tag.
pub const MAX_OVERHEAD: usize = HEADER + 8 + TAG;
/// The largest record a peer may send: TLS 1.2 allows 2048 bytes of expansion (TLS 1.3: 256).
pub const MAX_RECORD: usize = HEADER + MAX_FRAGMENT + 2048;

/// Record content types.
pub mod content {
    /// change_cipher_spec
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert
    pub const ALERT: u8 = 21;
    /// handshake
    pub const HANDSHAKE: u8 = 22;
    /// application_data
    pub const APPLICATION_DATA: u8 = 23;
}

/// Which record format protects the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// TLS 1.2: the type is in the header, the sequence number in the AAD.
    Tls12,
    /// TLS 1.3: every record is `application_data` outside; the real type is inside.
    Tls13,
}

/// Why a record could not be opened or sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The peer sent bytes that are not a record we can accept.
    #[error("the proxy sent a malformed TLS record ({0})")]
    Malformed(&'static str),
    /// The tag did not verify: corrupted or forged bytes.
    #[error("a TLS record failed to decrypt (bad_record_mac)")]
    BadMac,
    /// The negotiated suite is not one this record layer knows.
    #[error("the negotiated TLS cipher suite is not supported by the fast path")]
    Unsupported,
    /// The sequence number ran out (2^64 records); never happens in practice.
    #[error("TLS sequence numbers exhausted")]
    Exhausted,
}

/// One direction's keys and sequence number.
pub struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
    version: Version,
    /// TLS 1.2 AES-GCM carries an explicit 8-byte nonce in every record.
    explicit_nonce: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("key", &"<redacted>").field("seq", &self.seq).field("version", &self.version).finish()
    }
}

impl Keys {
    /// Keys for one direction from rustls' extracted `(sequence, secrets)`.
    ///
    /// # Errors
    /// [`RecordError::Unsupported`] for a suite other than the three AEADs above.
    pub fn new(version: Version, seq: u64, secrets: &ConnectionTrafficSecrets) -> Result<Self, RecordError> {
        let (alg, key, iv, gcm) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&AES_128_GCM, key, iv, true),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&AES_256_GCM, key, iv, true),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => (&CHACHA20_POLY1305, key, iv, false),
            _ => return Err(RecordError::Unsupported),
        };
        let key = UnboundKey::new(alg, key.as_ref()).map_err(|_| RecordError::Unsupported)?;
        let iv: [u8; NONCE_LEN] = iv.as_ref().try_into().map_err(|_| RecordError::Unsupported)?;
        Ok(Self { key: LessSafeKey::new(key), iv, seq, version, explicit_nonce: gcm && version == Version::Tls12 })
    }

    /// Records protected with these keys so far (the next sequence number).
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The per-record nonce: the IV with the sequence number XORed into its last 8 bytes.
    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    fn next_seq(&mut self) -> Result<(), RecordError> {
        self.seq = self.seq.checked_add(1).ok_or(RecordError::Exhausted)?;
        Ok(())
    }

    fn tls12_aad(&self, typ: u8, len: usize) -> [u8; 13] {
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8] = typ;
        aad[9..11].copy_from_slice(&[3, 3]);
        aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
        aad
    }

    /// Where the plaintext of a record starts, after the header (and explicit nonce).
    #[must_use]
    pub fn payload_offset(&self) -> usize {
        HEADER + if self.explicit_nonce { 8 } else { 0 }
    }

    /// The sealed length of a record carrying `n` plaintext bytes.
    #[must_use]
    pub fn sealed_len(&self, n: usize) -> usize {
        self.payload_offset() + n + usize::from(self.version == Version::Tls13) + TAG
    }

    /// Seals one record in place. `buf` starts at the record; its plaintext (`n` bytes, at most
    /// [`MAX_FRAGMENT`]) is already at [`Keys::payload_offset`], and `buf` has room for
    /// [`Keys::sealed_len`]`(n)` bytes. Returns that length.
    ///
    /// # Errors
    /// [`RecordError::Exhausted`] when the sequence number runs out.
    pub fn seal(&mut self, typ: u8, buf: &mut [u8], n: usize) -> Result<usize, RecordError> {
        let total = self.sealed_len(n);
        let off = self.payload_offset();
        let nonce = self.nonce();
        let (outer, body_end) = match self.version {
            Version::Tls13 => {
                buf[off + n] = typ;
                (content::APPLICATION_DATA, off + n + 1)
            }
            Version::Tls12 => (typ, off + n),
        };
        buf[0] = outer;
        buf[1..3].copy_from_slice(&[3, 3]);
        buf[3..5].copy_from_slice(&((total - HEADER) as u16).to_be_bytes());
        let (head, body) = buf.split_at_mut(off);
        let tag = match self.version {
            Version::Tls13 => {
                let aad: [u8; HEADER] = head[..HEADER].try_into().map_err(|_| RecordError::Malformed("header"))?;
                self.key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body[..body_end - off])
            }
            Version::Tls12 => {
                if self.explicit_nonce {
                    head[HEADER..].copy_from_slice(&nonce[4..]);
                }
                let aad = self.tls12_aad(typ, n);
                self.key.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut body[..body_end - off])
            }
        }
        .map_err(|_| RecordError::Exhausted)?;
        buf[body_end..body_end + TAG].copy_from_slice(tag.as_ref());
        self.next_seq()?;
        Ok(total)
    }

    /// Opens one whole record in place (`record` = header + body). Returns the real content
    /// type and where its plaintext lies within `record`.
    ///
    /// # Errors
    /// [`RecordError::BadMac`] for bytes that do not verify, `Malformed` for a bad shape.
    pub fn open(&mut self, record: &mut [u8]) -> Result<(u8, std::ops::Range<usize>), RecordError> {
        let outer = record[0];
        let off = self.payload_offset();
        if record.len() < off + TAG {
            return Err(RecordError::Malformed("record shorter than its tag"));
        }
        let nonce = match (self.version, self.explicit_nonce) {
            (Version::Tls12, true) => {
                let mut n = self.iv;
                n[4..].copy_from_slice(&record[HEADER..off]);
                n
            }
            _ => self.nonce(),
        };
        let (typ, range) = match self.version {
            Version::Tls13 => {
                if outer != content::APPLICATION_DATA {
                    return Err(RecordError::Malformed("unencrypted record after the handshake"));
                }
                let aad: [u8; HEADER] = record[..HEADER].try_into().map_err(|_| RecordError::Malformed("header"))?;
                let plain = self
                    .key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut record[off..])
                    .map_err(|_| RecordError::BadMac)?;
                // The inner plaintext ends with the real type, then zero padding.
                let end = plain.iter().rposition(|&b| b != 0).ok_or(RecordError::Malformed("record without a content type"))?;
                (plain[end], off..off + end)
            }
            Version::Tls12 => {
                let aad = self.tls12_aad(outer, record.len() - off - TAG);
                let plain = self
                    .key
                    .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut record[off..])
                    .map_err(|_| RecordError::BadMac)?;
                (outer, off..off + plain.len())
            }
        };
        if range.len() > MAX_FRAGMENT {
            return Err(RecordError::Malformed("record_overflow"));
        }
        self.next_seq()?;
        Ok((typ, range))
    }
}

/// The length of the whole record starting at `buf[0]`, once its header is there.
///
/// # Errors
/// `Malformed` for a length past what TLS allows.
pub fn record_len(buf: &[u8]) -> Result<Option<usize>, RecordError> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    let len = HEADER + usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    if len > MAX_RECORD {
        return Err(RecordError::Malformed("record_overflow"));
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};

    /// AES-256-GCM or ChaCha20-Poly1305 (rustls offers no public 16-byte `AeadKey`; AES-128 is
    /// covered against rustls itself in `tests/tls_stream.rs`).
    fn secrets(alg: u8) -> ConnectionTrafficSecrets {
        let iv = Iv::new([7; NONCE_LEN]);
        match alg {
            0 => ConnectionTrafficSecrets::Aes256Gcm { key: AeadKey::from([2u8; 32]), iv },
            _ => ConnectionTrafficSecrets::Chacha20Poly1305 { key: AeadKey::from([3u8; 32]), iv },
        }
    }

    #[test]
    fn sealed_records_open_in_order_and_tampering_is_caught() {
        for version in [Version::Tls13, Version::Tls12] {
            for alg in 0..2 {
                let mut tx = Keys::new(version, 5, &secrets(alg)).unwrap();
                let mut rx = Keys::new(version, 5, &secrets(alg)).unwrap();
                for n in [0usize, 1, 100, MAX_FRAGMENT] {
                    let mut buf = vec![0u8; tx.sealed_len(n)];
                    let off = tx.payload_offset();
                    for (i, b) in buf[off..off + n].iter_mut().enumerate() {
                        *b = (i % 251) as u8 + 1;
                    }
                    let len = tx.seal(content::APPLICATION_DATA, &mut buf, n).unwrap();
                    assert_eq!(len, buf.len());
                    assert_eq!(record_len(&buf).unwrap(), Some(len), "the header carries the length");
                    let mut tampered = buf.clone();
                    tampered[len - 1] ^= 1;
                    let mut probe = Keys::new(version, rx.seq(), &secrets(alg)).unwrap();
                    assert_eq!(probe.open(&mut tampered), Err(RecordError::BadMac), "{version:?}/{alg}: a flipped tag bit");
                    let (typ, range) = rx.open(&mut buf).unwrap();
                    assert_eq!((typ, range.len()), (content::APPLICATION_DATA, n), "{version:?}/{alg}/{n}");
                    assert!(buf[range].iter().enumerate().all(|(i, &b)| b == (i % 251) as u8 + 1));
                }
                // Replaying a record under the next sequence number does not open.
                let mut buf = vec![0u8; tx.sealed_len(3)];
                tx.seal(content::APPLICATION_DATA, &mut buf, 3).unwrap();
                let mut skipped = Keys::new(version, rx.seq() + 1, &secrets(alg)).unwrap();
                assert_eq!(skipped.open(&mut buf.clone()), Err(RecordError::BadMac), "sequence numbers are bound in");
            }
        }
    }

    #[test]
    fn oversized_or_short_records_are_malformed() {
        let mut header = [23u8, 3, 3, 0xff, 0xff];
        assert!(matches!(record_len(&header), Err(RecordError::Malformed(_))));
        assert_eq!(record_len(&header[..4]).unwrap(), None, "needs the whole header");
        header[3..].copy_from_slice(&4u16.to_be_bytes());
        let mut rx = Keys::new(Version::Tls13, 0, &secrets(1)).unwrap();
        let mut short = [23u8, 3, 3, 0, 4, 1, 2, 3, 4];
        assert!(matches!(rx.open(&mut short), Err(RecordError::Malformed(_))));
    }
}
