//! A running tunnel: a local listener (or stdin/stdout), one task per local connection that
//! opens a CONNECT through the proxy (logging in once if needed) and relays; live peers with
//! byte counts; a handle that owns it all and stops it on drop.
//!
//! When the proxy ends a tunnel while its local client is still connected, one probe CONNECT
//! learns why ([`why`]) and a [`TunnelEvent::Revoked`] follows the `Disconnected`.
//!
//! Log lines carry a `tunnel` span (listen address, destination, proxy) and, inside it, a `conn`
//! span per local connection (its id and address), so one connection's lines can be followed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use porthole_io::relay::{Counters, End, Party, relay};
use porthole_io::stream::{Either, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::auth::{Authenticator, LoginError, LoginSettings, Token};
use crate::cause::{Cause, LoginProblem};
use crate::code::ErrorCode;
use crate::connect::probe::Why;
use crate::connect::{ConnectError, Connected, Connector};
use crate::events::{PeerId, TunnelEvent};

mod why;

use why::{FirstEnd, Probes, Side, Ticket, Watched};

/// Most local connections served at once by one tunnel.
pub const MAX_CONNECTIONS: usize = 4096;
/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BUFFER: usize = 1024;

/// Everything a tunnel needs, built by a front end from flags or a saved profile.
#[derive(Clone)]
pub struct TunnelConfig {
    /// Where to CONNECT, through which proxy, over which TLS.
    pub connector: Arc<Connector>,
    /// How logins happen.
    pub login: LoginSettings,
}

impl std::fmt::Debug for TunnelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelConfig").field("target", self.connector.target()).finish_non_exhaustive()
    }
}

/// Why a tunnel could not start.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// The local address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// Why (`AddrInUse` when another program has it).
        #[source]
        source: std::io::Error,
    },
}

/// A live local connection, for "live sessions" views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its id.
    pub id: PeerId,
    /// The local client's address.
    pub addr: SocketAddr,
    /// When it connected.
    pub since: SystemTime,
    /// Bytes local → remote so far.
    pub bytes_up: u64,
    /// Bytes remote → local so far.
    pub bytes_down: u64,
}

struct PeerEntry {
    addr: SocketAddr,
    since: SystemTime,
    counters: Arc<Counters>,
    cancel: CancellationToken,
}

/// State shared by a tunnel's tasks.
struct Inner {
    config: TunnelConfig,
    auth: Arc<Authenticator>,
    events: broadcast::Sender<TunnelEvent>,
    peers: Mutex<HashMap<PeerId, PeerEntry>>,
    next_peer: AtomicU64,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// Asks the proxy why it ended a tunnel, once per burst of ends.
    probes: Probes,
}

impl Inner {
    fn new(config: TunnelConfig, auth: Arc<Authenticator>, events: broadcast::Sender<TunnelEvent>) -> Self {
        Self {
            config,
            auth,
            events,
            peers: Mutex::new(HashMap::new()),
            next_peer: AtomicU64::new(1),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            probes: Probes::default(),
        }
    }
}

/// Owns a running tunnel. Dropping it stops the listener and cuts every live connection;
/// [`TunnelHandle::stop`] does the same and waits for the tasks to end.
pub struct TunnelHandle {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for TunnelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelHandle").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl TunnelHandle {
    /// Binds `listen` (e.g. `127.0.0.1:0`) and starts accepting.
    ///
    /// # Errors
    /// [`TunnelError::Listen`] when the address cannot be bound.
    pub async fn start(listen: &str, config: TunnelConfig, auth: Arc<Authenticator>) -> Result<Self, TunnelError> {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self::start_with_events(listen, config, auth, events).await
    }

    /// As [`TunnelHandle::start`], publishing on an existing channel (subscribe before start
    /// to see the `Listening` event).
    ///
    /// # Errors
    /// [`TunnelError::Listen`] when the address cannot be bound.
    pub async fn start_with_events(
        listen: &str,
        config: TunnelConfig,
        auth: Arc<Authenticator>,
        events: broadcast::Sender<TunnelEvent>,
    ) -> Result<Self, TunnelError> {
        let listen_err = |source| TunnelError::Listen { addr: listen.to_owned(), source };
        let listener = TcpListener::bind(listen).await.map_err(listen_err)?;
        let local_addr = listener.local_addr().map_err(listen_err)?;
        let span = tunnel_span(&local_addr.to_string(), &config);
        let inner = Arc::new(Inner::new(config, auth, events));
        let _ = inner.events.send(TunnelEvent::Listening { addr: local_addr });
        span.in_scope(|| tracing::debug!("listening"));
        inner.tracker.spawn(accept_loop(listener, inner.clone()).instrument(span));
        Ok(Self { inner, local_addr })
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A new subscription to this tunnel's events.
    pub fn subscribe(&self) -> broadcast::Receiver<TunnelEvent> {
        self.inner.events.subscribe()
    }

    /// Live local connections with their byte counts.
    pub fn peers(&self) -> Vec<PeerInfo> {
        let peers = self.inner.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut list: Vec<PeerInfo> = peers
            .iter()
            .map(|(id, p)| PeerInfo {
                id: *id,
                addr: p.addr,
                since: p.since,
                bytes_up: p.counters.up(),
                bytes_down: p.counters.down(),
            })
            .collect();
        list.sort_by_key(|p| p.id);
        list
    }

    /// Cuts one live connection; `false` if it was not live.
    pub fn close_peer(&self, id: PeerId) -> bool {
        let peers = self.inner.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        peers.get(&id).map(|p| p.cancel.cancel()).is_some()
    }

    /// Cuts every live connection; the listener stays up.
    pub fn close_all(&self) {
        let peers = self.inner.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for p in peers.values() {
            p.cancel.cancel();
        }
    }

    /// Stops the listener and every connection, waiting up to `drain` for the tasks.
    pub async fn stop(self, drain: Duration) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        let _ = tokio::time::timeout(drain, self.inner.tracker.wait()).await;
    }
}

impl Drop for TunnelHandle {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

/// The span every line of one tunnel carries (never a token).
fn tunnel_span(listen: &str, config: &TunnelConfig) -> tracing::Span {
    let target = config.connector.target();
    tracing::info_span!("tunnel", listen = %listen, destination = %target.destination, proxy = %target.proxy.host_port())
}

/// The span of one local connection, inside its tunnel's; `user` is filled in from the token's
/// claims once one is sent (never the token).
fn conn_span(id: PeerId, addr: SocketAddr) -> tracing::Span {
    tracing::info_span!("conn", peer = id, peer_addr = %addr, user = tracing::field::Empty)
}

/// Names the token's user in the current connection's span.
pub(crate) fn record_user(token: &Token) {
    if let Some(user) = token.user() {
        tracing::Span::current().record("user", tracing::field::display(user));
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    // A slot before each accept: at the cap, new connections wait in the kernel's backlog.
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let slot = || {
        let limit = limit.clone();
        async move { limit.acquire_owned().await.ok() }
    };
    porthole_io::accept::accept_loop(listener, &inner.cancel, slot, |permit, stream, addr| {
        let inner2 = inner.clone();
        let id = inner.next_peer.fetch_add(1, Ordering::Relaxed);
        inner.tracker.spawn(
            async move {
                let _permit = permit;
                serve_peer(stream, id, addr, inner2).await;
            }
            .instrument(conn_span(id, addr)),
        );
    })
    .await;
    let _ = inner.events.send(TunnelEvent::Closed);
}

async fn serve_peer(stream: TcpStream, id: PeerId, addr: SocketAddr, inner: Arc<Inner>) {
    let counters = Counters::new();
    let cancel = inner.cancel.child_token();
    inner
        .peers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, PeerEntry { addr, since: SystemTime::now(), counters: counters.clone(), cancel: cancel.clone() });
    let ending = run_one(Either::Left(stream), id, addr, &inner, counters.clone(), cancel).await;
    inner.peers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
    log_end(&counters, ending.error.as_deref(), ending.code);
    let _ = inner.events.send(TunnelEvent::Disconnected {
        peer: id,
        peer_addr: addr,
        bytes_up: counters.up(),
        bytes_down: counters.down(),
        error: ending.error,
        code: ending.code,
        datagrams: None,
        cause: ending.cause,
    });
    // `Asking::Now` runs on its own and reports when it has an answer.
    if let Some(Asking::Later(ticket)) = ending.probe {
        explain_end(&inner, id, addr, &ticket).await;
    }
}

/// [`explain_end`] on the tunnel's tracker, in the current connection's span.
fn spawn_explain(
    inner: &Arc<Inner>,
    id: PeerId,
    addr: SocketAddr,
    ticket: Ticket,
) -> tokio::task::JoinHandle<Option<Why>> {
    let inner2 = inner.clone();
    let asking = async move { explain_end(&inner2, id, addr, &ticket).await };
    inner.tracker.spawn(asking.instrument(tracing::Span::current()))
}

/// Asks the proxy why it ended a connection's tunnel (no login, whatever the answer) and
/// reports a reason as [`TunnelEvent::Revoked`]. Stopping the tunnel abandons the probe.
async fn explain_end(inner: &Inner, id: PeerId, addr: SocketAddr, ticket: &Ticket) -> Option<Why> {
    let why = tokio::select! {
        why = inner.probes.why(&inner.config.connector, ticket) => why?,
        () = inner.cancel.cancelled() => return None,
    };
    tracing::info!(code = why.code.as_str(), "{}", why.message);
    let destination = inner.config.connector.target().destination.clone();
    let cause = match why.code {
        ErrorCode::SessionExpired => Cause::SessionExpired,
        ErrorCode::NoRoute => Cause::RouteRemoved { destination },
        _ => Cause::Revoked { destination, user: ticket.token.as_ref().and_then(Token::user) },
    };
    let _ = inner.events.send(TunnelEvent::Revoked {
        peer: id,
        peer_addr: addr,
        message: why.message.clone(),
        code: why.code,
        cause,
    });
    Some(why)
}

/// One debug line when a connection ends (its span says which).
fn log_end(counters: &Counters, error: Option<&str>, code: Option<ErrorCode>) {
    let (bytes_up, bytes_down) = (counters.up(), counters.down());
    match (error, code) {
        (Some(error), code) => {
            tracing::debug!(bytes_up, bytes_down, error, code = code.map(ErrorCode::as_str), "connection failed")
        }
        (None, _) => tracing::debug!(bytes_up, bytes_down, "connection closed"),
    }
}

/// How one local connection ended: the failure sentence and class, if any, and whether the
/// proxy ended it first (then the proxy is asked why).
#[derive(Debug, Default)]
struct Ending {
    error: Option<String>,
    code: Option<ErrorCode>,
    cause: Option<Cause>,
    probe: Option<Asking>,
}

/// The proxy ended a connection first, so it is asked why.
#[derive(Debug)]
enum Asking {
    /// Already asking, since the proxy's side ended (the task sends `Revoked` itself).
    Now(tokio::task::JoinHandle<Option<Why>>),
    /// To ask after the `Disconnected` (the relay ended as the proxy's side did).
    Later(Ticket),
}

impl Ending {
    fn failed(error: impl Into<String>, code: ErrorCode) -> Self {
        Self { error: Some(error.into()), code: Some(code), cause: None, probe: None }
    }
}

/// Opens the tunnel for one local stream and relays until either side ends.
async fn run_one(
    local: Stream,
    id: PeerId,
    addr: SocketAddr,
    inner_or: &Arc<Inner>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) -> Ending {
    let _ = inner_or.events.send(TunnelEvent::Connecting { peer: id, peer_addr: addr });
    tracing::debug!("connecting");
    let open = tokio::select! {
        r = open(&inner_or.config, &inner_or.auth, &inner_or.events) => r,
        () = cancel.cancelled() => return Ending::default(),
    };
    let (connected, token) = match open {
        Ok(c) => c,
        Err(e) => return Ending { cause: Some(e.cause()), ..Ending::failed(e.to_string(), e.code()) },
    };
    let Connected { stream, early, transport } = connected;
    tracing::debug!(%transport, "connected");
    let _ = inner_or.events.send(TunnelEvent::Connected { peer: id, peer_addr: addr, transport });
    let mut local = local;
    if !early.is_empty() {
        if local.write_all(&early).await.is_err() {
            return Ending::failed("the local client went away", ErrorCode::Local);
        }
        counters.add_down(early.len() as u64);
    }
    // Not held for the tunnel's life: an idle tunnel should cost as little memory as possible.
    drop(early);
    // An abort on either side is passed on as a reset: a proxy connection that ends without
    // close_notify (the gateway's upstream reset) resets the local socket, and a local client
    // that vanishes resets the proxy connection (the gateway then resets the upstream).
    // Which side ended first decides whether the proxy is asked why.
    let first = Arc::new(FirstEnd::default());
    let local = Watched::new(local, Side::Local, first.clone());
    let stream = Watched::new(stream, Side::Proxy, first.clone());
    let relay = relay(local, stream, counters.clone(), None, cancel);
    tokio::pin!(relay);
    let mut asking = None;
    let outcome = tokio::select! {
        outcome = &mut relay => outcome,
        () = first.proxy_first() => {
            // Ask now: the local client may hold its end for long (an idle psql).
            let ticket = Ticket { token: token.clone(), ended: tokio::time::Instant::now() };
            asking = Some(Asking::Now(spawn_explain(inner_or, id, addr, ticket)));
            relay.await
        }
    };
    let end = &outcome.end;
    let mut ending = match end {
        End::Closed | End::Shutdown => Ending::default(),
        End::IdleTimeout => Ending::failed("closed after being idle", ErrorCode::Idle),
        End::Aborted { by: Party::Upstream, .. } if end.is_reset() => Ending::failed(
            format!("the upstream reset the connection after {} bytes", counters.down()),
            ErrorCode::Reset,
        ),
        End::Aborted { by: Party::Upstream, reason, .. } => Ending::failed(
            format!("the connection to the proxy failed after {} bytes: {reason}", counters.down()),
            ErrorCode::Io,
        ),
        End::Aborted { by: Party::Client, reason, .. } => Ending::failed(
            format!("the local client went away after {} bytes: {reason}", counters.up()),
            ErrorCode::Local,
        ),
        End::Error(e) => Ending::failed(format!("connection lost: {e}"), ErrorCode::Io),
    };
    if asking.is_none() && why::should_probe(end, first.get()) {
        asking = Some(Asking::Later(Ticket { token, ended: tokio::time::Instant::now() }));
    }
    ending.probe = asking;
    ending
}

/// Why a tunnel could not be opened, for the `Disconnected` event: the sentence, with the
/// typed cause as its source.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The CONNECT failed (no login would help), sent as `user` when known.
    #[error("{0}")]
    Connect(ConnectError, Option<String>),
    /// The login the proxy asked for failed.
    #[error("login failed: {0}")]
    Login(#[source] LoginError),
    /// The proxy refused the token it had just issued.
    #[error("the proxy refused the token it just issued ({status}); the stored token was removed, try again")]
    FreshTokenRefused {
        /// The status of the refusal.
        status: u16,
    },
}

impl OpenError {
    pub(crate) fn code(&self) -> ErrorCode {
        match self {
            Self::Connect(e, _) => e.code(),
            Self::Login(_) | Self::FreshTokenRefused { .. } => ErrorCode::Auth,
        }
    }

    pub(crate) fn cause(&self) -> Cause {
        match self {
            Self::Connect(e, user) => e.cause(user.as_deref()),
            Self::Login(e) => Cause::LoginFailed { problem: e.problem() },
            Self::FreshTokenRefused { status } => {
                Cause::LoginFailed { problem: LoginProblem::FreshTokenRefused { status: *status } }
            }
        }
    }
}

/// CONNECT with the stored token; on "login required", log in (once per proxy, shared) and
/// retry once. Only a refusal right after a fresh login forgets the token: network errors,
/// 404s and cancellations keep a good token (pomerium-cli deletes it). Returns the tunnel and
/// the token it was opened with.
async fn open(
    config: &TunnelConfig,
    auth: &Authenticator,
    events: &broadcast::Sender<TunnelEvent>,
) -> Result<(Connected, Option<Token>), OpenError> {
    let target = config.connector.target();
    let origin = target.proxy.origin();
    let token = auth.current(&origin).await;
    if let Some(t) = &token {
        record_user(t);
    }
    let first = config.connector.connect(token.as_ref().map(Token::expose)).await;
    match first {
        Ok(c) => return Ok((c, token)),
        // Only a login request makes the token stale: log in and retry once.
        Err(e) if !e.keeps_token() => tracing::debug!(error = %e, "the proxy asks for a login"),
        Err(e) => return Err(OpenError::Connect(e, token.as_ref().and_then(Token::user))),
    }
    let fresh = auth
        .login(&origin, &target.proxy.login_base(), token.as_ref(), &config.login, events)
        .await
        .map_err(OpenError::Login)?;
    record_user(&fresh);
    match config.connector.connect(Some(fresh.expose())).await {
        Ok(c) => Ok((c, Some(fresh))),
        Err(ConnectError::LoginRequired { status }) => {
            auth.forget(&origin).await;
            Err(OpenError::FreshTokenRefused { status })
        }
        Err(e) => Err(OpenError::Connect(e, fresh.user())),
    }
}

/// Runs one tunnel over an already connected local stream (stdin/stdout for ssh's
/// `ProxyCommand`). Returns the failure sentence, if any: when the proxy ended the tunnel and a
/// probe says why, that reason.
pub async fn run_stream<L>(
    local: L,
    config: TunnelConfig,
    auth: Arc<Authenticator>,
    events: broadcast::Sender<TunnelEvent>,
) -> Option<String>
where
    L: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tunnel_span("stdio", &config);
    let inner = Arc::new(Inner::new(config, auth, events));
    let addr = SocketAddr::from(([0, 0, 0, 0], 0));
    let counters = Counters::new();
    let conn = span.in_scope(|| conn_span(1, addr));
    let run = run_one(Either::Right(Box::new(local)), 1, addr, &inner, counters.clone(), inner.cancel.clone());
    let ending = run.instrument(conn.clone()).await;
    conn.in_scope(|| log_end(&counters, ending.error.as_deref(), ending.code));
    let _ = inner.events.send(TunnelEvent::Disconnected {
        peer: 1,
        peer_addr: addr,
        bytes_up: counters.up(),
        bytes_down: counters.down(),
        error: ending.error.clone(),
        code: ending.code,
        datagrams: None,
        cause: ending.cause.clone(),
    });
    let why = match ending.probe {
        Some(Asking::Now(asking)) => asking.await.ok().flatten(),
        Some(Asking::Later(ticket)) => explain_end(&inner, 1, addr, &ticket).instrument(conn).await,
        None => None,
    };
    why.map(|w| w.message).or(ending.error)
}
