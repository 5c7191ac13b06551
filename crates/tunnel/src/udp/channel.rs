//! The transport abstraction of UDP tunnels: a [`DatagramChannel`] carries whole datagrams to
//! and from one destination through the proxy, and a [`DatagramConnector`] opens one. The
//! HTTP/1.1 capsule transport ([`super::h1`]) is one; HTTP/3 datagrams slot in the same way
//! (see the module note in [`super`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use porthole_io::datagram::Counters;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::connect::ConnectError;
use crate::events::Transport;
use crate::target::Target;

/// Datagrams queued each way between the session and its transport: a little slack, then
/// back-pressure on the sender (the session drops and counts what does not fit).
pub const QUEUE: usize = 64;

/// Why a channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEnd {
    /// The session closed it (idle expiry, shutdown, the peer went away).
    Closed,
    /// The proxy ended the tunnel cleanly (end of stream between datagrams).
    ProxyClosed,
    /// The tunnel failed; the sentence says how.
    Failed(String),
}

impl fmt::Display for ChannelEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("closed"),
            Self::ProxyClosed => f.write_str("the proxy ended the tunnel"),
            Self::Failed(why) => f.write_str(why),
        }
    }
}

/// The session's end of one open UDP tunnel: send one datagram, receive one datagram, close
/// with a reason. Dropping it closes the tunnel too.
#[derive(Debug)]
pub struct DatagramChannel {
    to_proxy: mpsc::Sender<Bytes>,
    from_proxy: mpsc::Receiver<Bytes>,
    ended: Option<oneshot::Receiver<ChannelEnd>>,
    cancel: CancellationToken,
    max_payload: usize,
    transport: Transport,
}

/// The transport's end of a [`DatagramChannel`], owned by the task that moves the datagrams.
#[derive(Debug)]
pub struct TransportSide {
    /// Datagrams from the local peer, one per received item; `None` once the session closed.
    pub to_proxy: mpsc::Receiver<Bytes>,
    /// Where each datagram from the proxy goes (whole, never split).
    pub to_local: mpsc::Sender<Bytes>,
    /// Fires when the session closes the channel.
    pub cancel: CancellationToken,
    ended: oneshot::Sender<ChannelEnd>,
}

impl TransportSide {
    /// Reports why the transport stopped (the session reads it after the last datagram).
    pub fn end(self, why: ChannelEnd) {
        let _ = self.ended.send(why);
    }
}

impl DatagramChannel {
    /// A connected pair: the channel for the session, the side for the transport's task.
    /// `max_payload` is the largest datagram the transport carries whole.
    #[must_use]
    pub fn pair(max_payload: usize) -> (Self, TransportSide) {
        let (to_proxy_tx, to_proxy_rx) = mpsc::channel(QUEUE);
        let (to_local_tx, to_local_rx) = mpsc::channel(QUEUE);
        let (ended_tx, ended_rx) = oneshot::channel();
        let cancel = CancellationToken::new();
        let channel = Self {
            to_proxy: to_proxy_tx,
            from_proxy: to_local_rx,
            ended: Some(ended_rx),
            cancel: cancel.clone(),
            max_payload,
            transport: Transport::default(),
        };
        let side = TransportSide { to_proxy: to_proxy_rx, to_local: to_local_tx, cancel, ended: ended_tx };
        (channel, side)
    }

    /// What carries the datagrams (HTTP/1.1 capsules unless the transport says otherwise).
    #[must_use]
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The same channel, telling the session what carries it.
    #[must_use]
    pub fn with_transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// The largest datagram this channel carries; larger ones must be dropped, not split.
    #[must_use]
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Queues one datagram toward the destination without waiting.
    ///
    /// # Errors
    /// Gives the datagram back when the queue is full ([`mpsc::error::TrySendError::Full`]:
    /// drop and count it) or the transport has ended (`Closed`).
    pub fn try_send(&self, datagram: Bytes) -> Result<(), mpsc::error::TrySendError<Bytes>> {
        self.to_proxy.try_send(datagram)
    }

    /// Sends one datagram toward the destination, waiting for room.
    ///
    /// # Errors
    /// Gives the datagram back when the transport has ended.
    pub async fn send(&self, datagram: Bytes) -> Result<(), mpsc::error::SendError<Bytes>> {
        self.to_proxy.send(datagram).await
    }

    /// The next datagram from the destination, or `None` once the transport ended (then
    /// [`DatagramChannel::close`] says why).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.from_proxy.recv().await
    }

    /// Closes the channel and returns why it ended: the transport's reason if it had already
    /// stopped, else [`ChannelEnd::Closed`].
    pub async fn close(mut self) -> ChannelEnd {
        let ended = self.ended.take();
        // Cancels and closes the queue toward the proxy, so a transport that watches either one
        // stops; its reason then arrives.
        drop(self);
        match ended {
            Some(ended) => ended.await.unwrap_or(ChannelEnd::Closed),
            None => ChannelEnd::Closed,
        }
    }
}

impl Drop for DatagramChannel {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A boxed future, `Send`, as [`DatagramConnector::open`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens UDP tunnels to one [`Target`] through its proxy, one transport connection each.
pub trait DatagramConnector: fmt::Debug + Send + Sync {
    /// The target the tunnels go to (the login origin comes from its proxy).
    fn target(&self) -> &Target;

    /// Opens one tunnel with `token` (sent as `Authorization: Pomerium <token>` when given).
    /// `counters` are the session's: the transport counts what it drops there (another
    /// context id); the session counts datagrams and bytes.
    ///
    /// # Errors
    /// [`ConnectError`], with the same status mapping as TCP CONNECT (§2.7): only
    /// `LoginRequired` makes the session log in and retry.
    fn open<'a>(
        &'a self,
        token: Option<&'a str>,
        counters: Arc<Counters>,
    ) -> BoxFuture<'a, Result<DatagramChannel, ConnectError>>;
}
