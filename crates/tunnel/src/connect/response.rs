//! The proxy's answer to CONNECT as the engine reads it: the exchange (`porthole_io::connect`)
//! within 30 s, and for a refusal a short body to explain it.

use std::time::Duration;

use porthole_io::connect::ExchangeError;
use porthole_io::head::ResponseHead;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};

use super::{ConnectError, ProtocolFailure};

/// How long the proxy has to take the request and send the whole answer head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest refusal body read for the message.
pub const MAX_BODY: usize = 4 * 1024;
/// How long the proxy has to send a refusal body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `request` and reads the answer's head, within [`HEAD_TIMEOUT`].
///
/// # Errors
/// [`ConnectError::Protocol`] for a failed write, a close, a malformed or oversized head, or no
/// head within [`HEAD_TIMEOUT`].
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
) -> Result<ResponseHead, ConnectError> {
    tokio::time::timeout(HEAD_TIMEOUT, porthole_io::connect::exchange(stream, request))
        .await
        .map_err(|_| ConnectError::Protocol {
            source: ProtocolFailure::NoAnswer { what: "CONNECT", within: HEAD_TIMEOUT },
        })?
        .map_err(|e: ExchangeError| ConnectError::Protocol { source: ProtocolFailure::Exchange(e) })
}

/// The refusal's message: the first non-empty line of its body (by `Content-Length`, at most
/// 4 KiB, within 2 s), else `"<status> <reason>"`. Public (like [`exchange`]) so the fuzz
/// target `connect_response` can drive it; the engine reaches it only through
/// [`super::Connector`].
pub async fn refusal_message<R: AsyncRead + Unpin>(io: &mut R, head: ResponseHead) -> String {
    let want = head.content_length.unwrap_or(head.rest.len()).min(MAX_BODY);
    let status_line = head.status_line();
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
        None => status_line,
    }
}
