//! Reading the proxy's answer to CONNECT: the head (bounded in size and time), and for a
//! refusal a short body to explain it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};

use super::ConnectError;

/// Largest response head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// How long the proxy has to send the whole head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest refusal body read for the message.
pub const MAX_BODY: usize = 4 * 1024;
/// How long the proxy has to send a refusal body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed response head and the bytes read past it. Public (like [`read_head`] and
/// [`refusal_message`]) so the fuzz target `connect_response` can drive them; the engine
/// reaches them only through [`super::Connector`].
#[derive(Debug)]
pub struct Head {
    /// The status code (0 when the proxy sent none).
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// `Content-Length`, when present and a number.
    pub content_length: Option<usize>,
    /// Bytes read past the head.
    pub rest: Vec<u8>,
}

fn protocol(reason: impl Into<String>) -> ConnectError {
    ConnectError::Protocol { reason: reason.into() }
}

/// Reads until a complete head is parsed.
///
/// # Errors
/// [`ConnectError::Protocol`] for a close, a malformed or oversized head, or no head within
/// [`HEAD_TIMEOUT`].
pub async fn read_head<R: AsyncRead + Unpin>(io: &mut R) -> Result<Head, ConnectError> {
    let read = async {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = io.read(&mut chunk).await.map_err(|e| protocol(format!("reading the answer: {e}")))?;
            if n == 0 {
                return Err(protocol(if buf.is_empty() {
                    "the proxy closed the connection without answering"
                } else {
                    "the proxy closed the connection in the middle of its answer"
                }));
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(head) = parse(&buf)? {
                return Ok(head);
            }
            if buf.len() >= MAX_HEAD {
                return Err(protocol("the answer's head is larger than 16 KiB"));
            }
        }
    };
    tokio::time::timeout(HEAD_TIMEOUT, read).await.map_err(|_| protocol("no answer to CONNECT within 30 s"))?
}

fn parse(buf: &[u8]) -> Result<Option<Head>, ConnectError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Complete(_)) => return Err(protocol("the answer's head is larger than 16 KiB")),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(protocol(format!("not an HTTP response ({e})"))),
    };
    let content_length = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
    Ok(Some(Head {
        status: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_owned(),
        content_length,
        rest: buf[len..].to_vec(),
    }))
}

/// The refusal's message: the first non-empty line of its body (by `Content-Length`, at most
/// 4 KiB, within 2 s), else `"<status> <reason>"`.
pub async fn refusal_message<R: AsyncRead + Unpin>(io: &mut R, head: Head) -> String {
    let want = head.content_length.unwrap_or(head.rest.len()).min(MAX_BODY);
    let mut body = head.rest;
    let more = async {
        let mut chunk = [0u8; 1024];
        while body.len() < want {
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(BODY_TIMEOUT, more).await;
    body.truncate(want);
    let text = String::from_utf8_lossy(&body);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => line.chars().take(300).collect(),
        None => format!("{} {}", head.status, head.reason).trim().to_owned(),
    }
}
