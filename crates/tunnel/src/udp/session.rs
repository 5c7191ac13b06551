//! The UDP session model (docs/protocol.md §2.6): one local UDP socket; each source address
//! that sends to it is a peer with its own tunnel ([`super::channel::DatagramChannel`]) opened
//! through the configured [`DatagramConnector`], logging in once per proxy (single-flight: one
//! browser tab for N peers). A peer idle for [`UdpConfig::idle_timeout`] expires; the next
//! datagram from it opens a new session. Datagrams over the maximum are dropped and counted,
//! never split. Unlike pomerium-cli, sessions are not cut every 10 minutes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use porthole_io::datagram::{Counters, Counts};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::channel::{ChannelEnd, DatagramChannel, DatagramConnector, QUEUE};
use crate::auth::{Authenticator, LoginSettings, Token};
use crate::cause::Cause;
use crate::code::ErrorCode;
use crate::connect::ConnectError;
use crate::events::{DatagramCounts, PeerId, TunnelEvent};
use crate::handle::{OpenError, TunnelError, record_user};

/// How long a peer may send and receive nothing before its session ends.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest datagram a tunnel carries by default: what one UDP datagram holds over IPv4 (and
/// the most one capsule carries).
pub const MAX_DATAGRAM: usize = porthole_io::capsule::MAX_DATAGRAM;
/// Most peers (source addresses) served at once; datagrams from further ones are dropped.
pub const MAX_PEERS: usize = 4096;
/// Largest datagram read from the local socket (a larger one would be cut by the kernel).
const READ_BUFFER: usize = 65_536;
/// Events kept for a slow subscriber.
const EVENT_BUFFER: usize = 1024;

/// Everything a UDP tunnel needs.
#[derive(Clone)]
pub struct UdpConfig {
    /// Opens one tunnel per peer (HTTP/1.1 capsules, or another transport).
    pub connector: Arc<dyn DatagramConnector>,
    /// How logins happen.
    pub login: LoginSettings,
    /// A peer's session ends after this long without a datagram either way.
    pub idle_timeout: Duration,
    /// Datagrams longer than this (or than the transport carries) are dropped and counted.
    pub max_datagram: usize,
}

impl std::fmt::Debug for UdpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpConfig")
            .field("target", self.connector.target())
            .field("idle_timeout", &self.idle_timeout)
            .field("max_datagram", &self.max_datagram)
            .finish_non_exhaustive()
    }
}

/// A live UDP peer, for "live sessions" views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPeerInfo {
    /// Its id.
    pub id: PeerId,
    /// The local peer's source address.
    pub addr: SocketAddr,
    /// When its first datagram arrived.
    pub since: SystemTime,
    /// Datagrams and bytes so far.
    pub counts: Counts,
}

struct PeerEntry {
    id: PeerId,
    since: SystemTime,
    queue: mpsc::Sender<Bytes>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
}

struct Inner {
    config: UdpConfig,
    auth: Arc<Authenticator>,
    events: broadcast::Sender<TunnelEvent>,
    socket: Arc<UdpSocket>,
    peers: Mutex<HashMap<SocketAddr, PeerEntry>>,
    next_peer: AtomicU64,
    /// Datagrams dropped with no session to count them on (peer cap reached).
    dropped: AtomicU64,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// Owns a running UDP tunnel; dropping it stops the socket and every session.
pub struct UdpTunnelHandle {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for UdpTunnelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpTunnelHandle").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl UdpTunnelHandle {
    /// Binds the UDP socket `listen` (e.g. `127.0.0.1:0`) and starts serving peers,
    /// publishing on `events` (subscribe first to see `Listening`).
    ///
    /// # Errors
    /// [`TunnelError::Listen`] when the address cannot be bound (`-` is refused: UDP has no
    /// stdin/stdout mode).
    pub async fn start_with_events(
        listen: &str,
        config: UdpConfig,
        auth: Arc<Authenticator>,
        events: broadcast::Sender<TunnelEvent>,
    ) -> Result<Self, TunnelError> {
        let listen_err = |source| TunnelError::Listen { addr: listen.to_owned(), source };
        if listen == "-" {
            return Err(listen_err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "UDP tunnels need a local address: stdin/stdout (`-`) carry a byte stream, not datagrams",
            )));
        }
        let socket = UdpSocket::bind(listen).await.map_err(listen_err)?;
        let local_addr = socket.local_addr().map_err(listen_err)?;
        let target = config.connector.target();
        let span = tracing::info_span!("udp", listen = %local_addr, destination = %target.destination, proxy = %target.proxy.host_port());
        let inner = Arc::new(Inner {
            config,
            auth,
            events,
            socket: Arc::new(socket),
            peers: Mutex::new(HashMap::new()),
            next_peer: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let _ = inner.events.send(TunnelEvent::Listening { addr: local_addr });
        inner.tracker.spawn(receive_loop(inner.clone()).instrument(span));
        Ok(Self { inner, local_addr })
    }

    /// As [`UdpTunnelHandle::start_with_events`] on a new channel.
    ///
    /// # Errors
    /// [`TunnelError::Listen`].
    pub async fn start(listen: &str, config: UdpConfig, auth: Arc<Authenticator>) -> Result<Self, TunnelError> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self::start_with_events(listen, config, auth, events).await
    }

    /// The bound local address.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A new subscription to this tunnel's events.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<TunnelEvent> {
        self.inner.events.subscribe()
    }

    /// Live peers with their counts, by id.
    #[must_use]
    pub fn peers(&self) -> Vec<UdpPeerInfo> {
        let peers = self.inner.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<UdpPeerInfo> = peers
            .iter()
            .map(|(addr, p)| UdpPeerInfo { id: p.id, addr: *addr, since: p.since, counts: p.counters.get() })
            .collect();
        list.sort_by_key(|p| p.id);
        list
    }

    /// Datagrams dropped because no session could take them (the peer cap was reached).
    #[must_use]
    pub fn dropped_without_session(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Ends one peer's session; `false` if it was not live.
    pub fn close_peer(&self, id: PeerId) -> bool {
        let peers = self.inner.peers.lock().unwrap_or_else(PoisonError::into_inner);
        peers.values().find(|p| p.id == id).map(|p| p.cancel.cancel()).is_some()
    }

    /// Ends every session; the socket stays open.
    pub fn close_all(&self) {
        let peers = self.inner.peers.lock().unwrap_or_else(PoisonError::into_inner);
        for p in peers.values() {
            p.cancel.cancel();
        }
    }

    /// Stops the socket and every session, waiting up to `drain` for the tasks.
    pub async fn stop(self, drain: Duration) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        let _ = tokio::time::timeout(drain, self.inner.tracker.wait()).await;
    }
}

impl Drop for UdpTunnelHandle {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

/// Reads the local socket and hands each datagram to its peer's session, starting one for a
/// new source address.
async fn receive_loop(inner: Arc<Inner>) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let (n, from) = tokio::select! {
            r = inner.socket.recv_from(&mut buf) => match r {
                Ok(got) => got,
                Err(e) => {
                    // ICMP errors for an earlier send surface here on some systems: not fatal.
                    // A short pause keeps a persistent error from spinning.
                    tracing::debug!(error = %e, "local UDP receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = inner.cancel.cancelled() => break,
        };
        let datagram = Bytes::copy_from_slice(&buf[..n]);
        deliver(&inner, from, datagram);
    }
    let _ = inner.events.send(TunnelEvent::Closed);
}

/// Queues one datagram on `from`'s session (new or live); drops and counts it when it is over
/// the maximum, the queue is full, or the peer cap is reached.
fn deliver(inner: &Arc<Inner>, from: SocketAddr, datagram: Bytes) {
    let mut peers = inner.peers.lock().unwrap_or_else(PoisonError::into_inner);
    if !peers.contains_key(&from) {
        if peers.len() >= MAX_PEERS {
            inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let entry = spawn_peer(inner, from);
        peers.insert(from, entry);
    }
    let Some(peer) = peers.get(&from) else { return };
    if datagram.len() > inner.config.max_datagram {
        tracing::debug!(
            peer = peer.id,
            len = datagram.len(),
            max = inner.config.max_datagram,
            "datagram over the maximum dropped"
        );
        peer.counters.add_dropped();
        return;
    }
    if peer.queue.try_send(datagram).is_err() {
        peer.counters.add_dropped();
    }
}

fn spawn_peer(inner: &Arc<Inner>, addr: SocketAddr) -> PeerEntry {
    let id = inner.next_peer.fetch_add(1, Ordering::Relaxed);
    let (queue, rx) = mpsc::channel(QUEUE);
    let counters = Counters::new();
    let cancel = inner.cancel.child_token();
    let span = tracing::info_span!("peer", peer = id, peer_addr = %addr, user = tracing::field::Empty);
    let session = Session { id, addr, inner: inner.clone(), counters: counters.clone(), cancel: cancel.clone() };
    inner.tracker.spawn(session.run(rx).instrument(span));
    PeerEntry { id, since: SystemTime::now(), queue, counters, cancel }
}

/// One peer's session task.
struct Session {
    id: PeerId,
    addr: SocketAddr,
    inner: Arc<Inner>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
}

impl Session {
    async fn run(self, rx: mpsc::Receiver<Bytes>) {
        let _ = self.inner.events.send(TunnelEvent::Connecting { peer: self.id, peer_addr: self.addr });
        let (error, code, cause) = match self.open_and_relay(rx).await {
            Ok(()) => (None, None, None),
            Err((message, code, cause)) => (Some(message), Some(code), cause),
        };
        {
            let mut peers = self.inner.peers.lock().unwrap_or_else(PoisonError::into_inner);
            if peers.get(&self.addr).is_some_and(|p| p.id == self.id) {
                peers.remove(&self.addr);
            }
        }
        let c = self.counters.get();
        tracing::debug!(?c, error, "UDP session ended");
        let _ = self.inner.events.send(TunnelEvent::Disconnected {
            peer: self.id,
            peer_addr: self.addr,
            bytes_up: c.bytes_up,
            bytes_down: c.bytes_down,
            error,
            code,
            cause,
            datagrams: Some(DatagramCounts { up: c.datagrams_up, down: c.datagrams_down, dropped: c.dropped }),
        });
    }

    async fn open_and_relay(&self, rx: mpsc::Receiver<Bytes>) -> Result<(), (String, ErrorCode, Option<Cause>)> {
        let open = tokio::select! {
            r = open(&self.inner, self.counters.clone()) => r,
            () = self.cancel.cancelled() => return Ok(()),
        };
        let channel = open.map_err(|e| (e.to_string(), e.code(), Some(e.cause())))?;
        let transport = channel.transport().clone();
        tracing::debug!(%transport, "connected");
        let _ = self.inner.events.send(TunnelEvent::Connected { peer: self.id, peer_addr: self.addr, transport });
        self.relay(rx, channel).await
    }

    /// Moves datagrams both ways until the peer idles out, the session is closed, or the
    /// transport ends.
    async fn relay(
        &self,
        mut rx: mpsc::Receiver<Bytes>,
        mut channel: DatagramChannel,
    ) -> Result<(), (String, ErrorCode, Option<Cause>)> {
        let idle = self.inner.config.idle_timeout;
        let max = channel.max_payload().min(self.inner.config.max_datagram);
        let deadline = tokio::time::sleep(idle);
        tokio::pin!(deadline);
        let outcome = loop {
            tokio::select! {
                up = rx.recv() => {
                    let Some(d) = up else { break Ok(()) };
                    deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                    if d.len() > max {
                        self.counters.add_dropped();
                        continue;
                    }
                    let len = d.len();
                    if channel.send(d).await.is_err() {
                        continue; // the transport ended: `recv` says why next
                    }
                    self.counters.add_up(len);
                }
                down = channel.recv() => {
                    let Some(d) = down else { break Err(()) };
                    deadline.as_mut().reset(tokio::time::Instant::now() + idle);
                    match self.inner.socket.send_to(&d, self.addr).await {
                        Ok(_) => self.counters.add_down(d.len()),
                        Err(e) => {
                            tracing::debug!(error = %e, "sending to the local peer failed");
                            self.counters.add_dropped();
                        }
                    }
                }
                () = &mut deadline => {
                    tracing::debug!(?idle, "idle peer expired");
                    break Ok(());
                }
                () = self.cancel.cancelled() => break Ok(()),
            }
        };
        let end = channel.close().await;
        match (outcome, end) {
            (Ok(()), _) | (Err(()), ChannelEnd::Closed) => Ok(()),
            (Err(()), ChannelEnd::ProxyClosed) => {
                Err(("the proxy ended the UDP tunnel".to_owned(), ErrorCode::Io, None))
            }
            (Err(()), ChannelEnd::Failed(why)) => Err((format!("the UDP tunnel failed: {why}"), ErrorCode::Io, None)),
        }
    }
}

/// Opens a tunnel with the stored token; on "login required", logs in (once per proxy,
/// shared with every other peer and tunnel) and retries once.
async fn open(inner: &Inner, counters: Arc<Counters>) -> Result<DatagramChannel, OpenError> {
    let connector = &inner.config.connector;
    let target = connector.target();
    let origin = target.proxy.origin();
    let token = inner.auth.current(&origin).await;
    if let Some(t) = &token {
        record_user(t);
    }
    match connector.open(token.as_ref().map(Token::expose), counters.clone()).await {
        Ok(c) => return Ok(c),
        Err(e) if !e.keeps_token() => tracing::debug!(error = %e, "the proxy asks for a login"),
        Err(e) => return Err(OpenError::Connect(e, token.as_ref().and_then(Token::user))),
    }
    let fresh = inner
        .auth
        .login(&origin, &target.proxy.login_base(), token.as_ref(), &inner.config.login, &inner.events)
        .await
        .map_err(OpenError::Login)?;
    record_user(&fresh);
    match connector.open(Some(fresh.expose()), counters).await {
        Ok(c) => Ok(c),
        Err(ConnectError::LoginRequired { status }) => {
            inner.auth.forget(&origin).await;
            Err(OpenError::FreshTokenRefused { status })
        }
        Err(e) => Err(OpenError::Connect(e, fresh.user())),
    }
}
