//! An HTTP/3 request stream, once its CONNECT was answered `200`, as the byte stream the relay
//! moves ([`H3Stream`]): reads come from the stream's DATA frames, writes go out as DATA
//! frames, a shutdown sends the stream's FIN (half-close), an abort or a drop without shutdown
//! resets it. The framing is the `h3` crate's over `quinn`; two small tasks per stream pump
//! the halves through bounded channels, so a slow side holds back the other (at most
//! [`QUEUE`] chunks of at most 64 KiB wait in each direction).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3::error::{Code, StreamError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::stream::Abort;

/// Chunks queued in each direction between the relay and the stream.
pub const QUEUE: usize = 4;
/// Largest chunk one write hands to the stream.
const CHUNK: usize = 64 * 1024;
/// How long the sending task keeps what it holds (the QUIC connection, for the client) after
/// its FIN, waiting for the other direction to end, so the FIN and the data before it are
/// delivered before the connection closes.
const LINGER: Duration = Duration::from_secs(3);

/// The sending half of a request stream: DATA frames, FIN, reset.
pub trait SendHalf: Send + 'static {
    /// Sends one DATA frame.
    fn send(&mut self, data: Bytes) -> impl Future<Output = Result<(), StreamError>> + Send;
    /// Ends the stream cleanly (FIN).
    fn finish(&mut self) -> impl Future<Output = Result<(), StreamError>> + Send;
    /// Resets the stream (`H3_REQUEST_CANCELLED`).
    fn reset(&mut self);
}

/// The receiving half of a request stream: DATA frames until FIN.
pub trait RecvHalf: Send + 'static {
    /// The next DATA frame's bytes, `None` after FIN. Dropping the half (not reading to the
    /// end) asks the peer to stop sending; h3-quinn's own `stop_sending` panics when called
    /// after a read was cancelled, so it is never called here.
    fn recv(&mut self) -> impl Future<Output = Result<Option<Bytes>, StreamError>> + Send;
}

macro_rules! halves {
    ($send:ty, $recv:ty) => {
        impl SendHalf for $send {
            async fn send(&mut self, data: Bytes) -> Result<(), StreamError> {
                self.send_data(data).await
            }
            async fn finish(&mut self) -> Result<(), StreamError> {
                <$send>::finish(self).await
            }
            fn reset(&mut self) {
                self.stop_stream(Code::H3_REQUEST_CANCELLED);
            }
        }
        impl RecvHalf for $recv {
            async fn recv(&mut self) -> Result<Option<Bytes>, StreamError> {
                Ok(self.recv_data().await?.map(|mut b| b.copy_to_bytes(b.remaining())))
            }
        }
    };
}

/// The gateway's sending half of a request stream.
pub type ServerSend = h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
/// The gateway's receiving half of a request stream.
pub type ServerRecv = h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;
/// The client's sending half of a request stream.
pub type ClientSend = h3::client::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
/// The client's receiving half of a request stream.
pub type ClientRecv = h3::client::RequestStream<h3_quinn::RecvStream, Bytes>;

halves!(ServerSend, ServerRecv);
halves!(ClientSend, ClientRecv);

enum Out {
    Data(Bytes),
    Fin,
}

/// A CONNECT request stream as a byte stream (see the module docs).
pub struct H3Stream {
    incoming: mpsc::Receiver<io::Result<Bytes>>,
    pending: Bytes,
    outgoing: PollSender<Out>,
    abort: CancellationToken,
    send_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for H3Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H3Stream").field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl H3Stream {
    /// Starts the two pumping tasks over a split request stream. `keep` (the QUIC connection and
    /// the h3 driver, on the client) lives until the stream has ended both ways, or [`LINGER`]
    /// after the FIN.
    pub fn spawn<S: SendHalf, R: RecvHalf>(send: S, recv: R, keep: impl Send + 'static) -> Self {
        let (in_tx, incoming) = mpsc::channel(QUEUE);
        let (out_tx, out_rx) = mpsc::channel(QUEUE);
        let abort = CancellationToken::new();
        let send_error = Arc::new(Mutex::new(None));
        let received = CancellationToken::new();
        tokio::spawn(pump_in(recv, in_tx, received.clone()));
        tokio::spawn(pump_out(send, out_rx, abort.clone(), send_error.clone(), received, keep));
        Self { incoming, pending: Bytes::new(), outgoing: PollSender::new(out_tx), abort, send_error }
    }

    fn send_failed(&self) -> io::Error {
        let why = self.send_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        io::Error::new(io::ErrorKind::BrokenPipe, why.unwrap_or_else(|| "the HTTP/3 stream was closed".into()))
    }
}

/// A stream error as an I/O error: a peer's reset is `ConnectionReset` (the relay passes it on
/// as a reset), anything else (the connection lost, timed out) `ConnectionAborted`.
fn io_error(e: &StreamError) -> io::Error {
    let kind = match e {
        StreamError::RemoteTerminate { .. } => io::ErrorKind::ConnectionReset,
        _ => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, format!("HTTP/3 stream: {e}"))
}

async fn pump_in<R: RecvHalf>(mut recv: R, tx: mpsc::Sender<io::Result<Bytes>>, received: CancellationToken) {
    let _done = received.drop_guard();
    loop {
        // The relay dropped its end: dropping `recv` (quinn stops the stream) is all there is to do.
        let next = tokio::select! {
            next = recv.recv() => next,
            () = tx.closed() => return,
        };
        match next {
            Ok(Some(data)) if data.is_empty() => {}
            Ok(Some(data)) => {
                if tx.send(Ok(data)).await.is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(io_error(&e))).await;
                return;
            }
        }
    }
}

async fn pump_out<S: SendHalf>(
    mut send: S,
    mut rx: mpsc::Receiver<Out>,
    abort: CancellationToken,
    error: Arc<Mutex<Option<String>>>,
    received: CancellationToken,
    keep: impl Send + 'static,
) {
    loop {
        let item = tokio::select! {
            biased;
            () = abort.cancelled() => None,
            item = rx.recv() => item,
        };
        match item {
            Some(Out::Data(data)) => {
                if let Err(e) = send.send(data).await {
                    *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(io_error(&e).to_string());
                    break;
                }
            }
            Some(Out::Fin) => {
                if let Err(e) = send.finish().await {
                    *error.lock().unwrap_or_else(PoisonError::into_inner) = Some(io_error(&e).to_string());
                }
                break;
            }
            // Aborted, or dropped without a shutdown: a reset, never a clean end.
            None => {
                send.reset();
                break;
            }
        }
    }
    drop(rx);
    let _ = tokio::time::timeout(LINGER, received.cancelled()).await;
    drop((send, keep));
}

impl AsyncRead for H3Stream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_empty() {
            match ready!(self.incoming.poll_recv(cx)) {
                Some(Ok(data)) => self.pending = data,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H3Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if ready!(self.outgoing.poll_reserve(cx)).is_err() {
            return Poll::Ready(Err(self.send_failed()));
        }
        let n = buf.len().min(CHUNK);
        if self.outgoing.send_item(Out::Data(Bytes::copy_from_slice(&buf[..n]))).is_err() {
            return Poll::Ready(Err(self.send_failed()));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.outgoing.is_closed() {
            return Poll::Ready(Ok(()));
        }
        if ready!(self.outgoing.poll_reserve(cx)).is_err() {
            return Poll::Ready(Err(self.send_failed()));
        }
        let _ = self.outgoing.send_item(Out::Fin);
        self.outgoing.close();
        Poll::Ready(Ok(()))
    }
}

impl Abort for H3Stream {
    fn abort(&mut self) {
        self.abort.cancel();
    }
}
