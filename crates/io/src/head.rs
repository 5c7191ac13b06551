//! Reading an HTTP/1.x response head off a stream, bounded in size: the one head reader both
//! ends use. Every response head Porthole reads is a proxy's answer to CONNECT (the engine's
//! proxy, or the gateway's upstream proxy when it chains), so the errors speak of "the proxy".
//!
//! The reader sets no timeout: each caller wraps it in its own (the engine gives the proxy
//! 30 s, the gateway its upstream 10 s).

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// Most header fields parsed in a head; more is [`HeadError::Malformed`].
pub const MAX_HEADERS: usize = 64;

/// A parsed response head and the bytes read past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (0 when the peer sent none).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// `Content-Length`, when present and a number.
    pub content_length: Option<usize>,
    /// Bytes read past the head: they belong to whatever follows it (a tunnel's first bytes, a
    /// refusal's body).
    pub rest: Vec<u8>,
}

impl ResponseHead {
    /// The status line without the version, e.g. `403 Access violation`.
    #[must_use]
    pub fn status_line(&self) -> String {
        format!("{} {}", self.status, self.reason).trim().to_owned()
    }
}

/// Why no response head could be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The stream ended before any byte arrived.
    #[error("the proxy closed the connection without answering")]
    Closed,
    /// The stream ended in the middle of the head.
    #[error("the proxy closed the connection in the middle of its answer")]
    Truncated,
    /// The head did not end within the cap.
    #[error("the answer's head is larger than {} KiB", .max / 1024)]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The bytes are not an HTTP response head.
    #[error("not an HTTP response ({0})")]
    Malformed(httparse::Error),
    /// Reading failed.
    #[error("reading the answer: {0}")]
    Io(std::io::Error),
}

/// Reads from `io` until a complete response head is parsed, or `max` bytes came without one.
///
/// # Errors
/// [`HeadError`]: the stream closed or failed, the head is malformed or over `max` bytes.
///
/// # Cancel safety
/// Not cancel safe: bytes already read are lost when the future is dropped (callers drop the
/// stream with it).
pub async fn read_response_head<R: AsyncRead + Unpin>(io: &mut R, max: usize) -> Result<ResponseHead, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = io.read(&mut chunk).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(if buf.is_empty() { HeadError::Closed } else { HeadError::Truncated });
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(head) = parse_response_head(&buf, max)? {
            return Ok(head);
        }
        if buf.len() >= max {
            return Err(HeadError::TooLarge { max });
        }
    }
}

/// Parses the bytes received so far: `None` while the head is incomplete.
///
/// # Errors
/// [`HeadError::Malformed`] as soon as the bytes cannot be a response head,
/// [`HeadError::TooLarge`] for a complete head over `max` bytes.
pub fn parse_response_head(buf: &[u8], max: usize) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= max => len,
        Ok(httparse::Status::Complete(_)) => return Err(HeadError::TooLarge { max }),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HeadError::Malformed(e)),
    };
    let content_length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
    Ok(Some(ResponseHead {
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_owned(),
        content_length,
        rest: buf[len..].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_once_complete_and_keep_the_bytes_after_them() {
        assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\n", 1024).unwrap(), None, "no blank line yet");
        let head = parse_response_head(b"HTTP/1.1 200 Connection established\r\n\r\nearly", 1024).unwrap().unwrap();
        assert_eq!(
            (head.status, head.rest.as_slice()),
            (200, b"early".as_slice()),
            "the bytes after the head are the caller's"
        );
        let head = parse_response_head(
            b"HTTP/1.0 403 Access violation\r\nServer: tinyproxy\r\nContent-Length: 7\r\n\r\n",
            1024,
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.status_line(), "403 Access violation");
        assert_eq!(head.content_length, Some(7));
        assert!(
            matches!(parse_response_head(b"SSH-2.0-x\r\n", 1024), Err(HeadError::Malformed(_))),
            "not HTTP, known at once"
        );
    }

    #[tokio::test]
    async fn the_reader_is_capped_and_names_each_failure() {
        let mut io: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc";
        let head = read_response_head(&mut io, 1024).await.unwrap();
        assert_eq!((head.status, head.rest.as_slice()), (404, b"abc".as_slice()));
        let long = [b"HTTP/1.1 200 OK\r\n".as_slice(), &b"X: y\r\n".repeat(20)].concat();
        let mut io = long.as_slice();
        let e = read_response_head(&mut io, 64).await.unwrap_err();
        assert!(matches!(e, HeadError::TooLarge { max: 64 }), "no head within the cap: {e}");
        let mut io: &[u8] = b"";
        assert!(matches!(read_response_head(&mut io, 64).await, Err(HeadError::Closed)));
        let mut io: &[u8] = b"HTTP/1.1 200";
        assert!(matches!(read_response_head(&mut io, 64).await, Err(HeadError::Truncated)));
    }
}
