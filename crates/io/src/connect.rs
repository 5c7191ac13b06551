//! The CONNECT client both ends use: the request head ([`request`]) and the exchange
//! ([`exchange`]: send it, read the answer's head). The engine sends pomerium-cli's exact
//! header set; the gateway, chaining to an upstream proxy, the client's headers minus
//! Pomerium's. Dialling, TLS, timeouts and what a refusal means stay with each caller.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};

use crate::head::{self, HeadError, ResponseHead};

/// Largest answer head read from a proxy.
pub const MAX_HEAD: usize = 16 * 1024;

/// A CONNECT request head for `target`: the request line, `Host: <target>`, then `headers` in
/// order, then the blank line. Nothing is checked or escaped: the caller passes names and values
/// that hold no line break (the engine's come from the destination grammar, the gateway's from
/// hyper's parsed header map).
#[must_use]
pub fn request(target: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    for (name, value) in headers {
        req.push_str(name);
        req.push_str(": ");
        req.push_str(value);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// Why a CONNECT exchange produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Writing the request failed.
    #[error("sending CONNECT: {0}")]
    Send(#[source] std::io::Error),
    /// No answer head could be read.
    #[error(transparent)]
    Answer(#[from] HeadError),
}

/// Sends `request` (from [`request`]) on `stream` and reads the answer's head (at most
/// [`MAX_HEAD`] bytes). Any status is returned: what a non-200 means is the caller's.
///
/// # Errors
/// [`ExchangeError`] when the request cannot be written or no answer head arrives.
///
/// # Cancel safety
/// Not cancel safe: the stream is mid-exchange when the future is dropped; drop it too. Set no
/// timeout inside: callers wrap the whole exchange in theirs.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
) -> Result<ResponseHead, ExchangeError> {
    let sent = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    sent.await.map_err(ExchangeError::Send)?;
    Ok(read_answer(stream).await?)
}

/// Reads a proxy's answer head (at most [`MAX_HEAD`] bytes); [`exchange`]'s second half.
///
/// # Errors
/// [`HeadError`] for a close, a malformed or oversized head, or a failed read.
///
/// # Cancel safety
/// As [`head::read_response_head`].
pub async fn read_answer<R: AsyncRead + Unpin>(stream: &mut R) -> Result<ResponseHead, HeadError> {
    head::read_response_head(stream, MAX_HEAD).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_line_host_and_headers_in_order() {
        assert_eq!(
            request("db.example.com:5432", &[("x-trace", "keep-me"), ("user-agent", "psql")]),
            b"CONNECT db.example.com:5432 HTTP/1.1\r\nHost: db.example.com:5432\r\nx-trace: keep-me\r\nuser-agent: psql\r\n\r\n"
                .to_vec()
        );
        assert_eq!(request("[::1]:22", &[]), b"CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\n\r\n".to_vec());
    }

    #[tokio::test]
    async fn the_exchange_writes_the_request_and_returns_any_answer() {
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        let proxy = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            while !got.ends_with(b"\r\n\r\n")
                && tokio::io::AsyncReadExt::read(&mut theirs, &mut byte).await.unwrap() == 1
            {
                got.push(byte[0]);
            }
            theirs.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await.unwrap();
            got
        });
        let req = request("a:1", &[]);
        let answer = exchange(&mut ours, &req).await.unwrap();
        assert_eq!(answer.status_line(), "407 Proxy Authentication Required", "a refusal is an answer, not an error");
        assert_eq!(proxy.await.unwrap(), req, "the request went out byte for byte");
        drop(ours);
    }
}
