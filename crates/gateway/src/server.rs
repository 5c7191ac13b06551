//! The listener: TLS accept, one task per connection, HTTP/1.1 and HTTP/2 on it, CONNECT to
//! [`crate::connect`], everything else to the `/.pomerium/…` endpoints; graceful shutdown with a
//! bounded drain. With `codec_type: http3` also the QUIC listener ([`crate::quic`]) on the same
//! port, announced by `Alt-Svc` on every answer.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use porthole_io::tls::Handshaken as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;
use url::Url;

use crate::config::Config;
use crate::connect::{self, Peer};
use crate::connect_udp::{self, Sniffed};
use crate::idle::Activity;
use crate::limits;
use crate::login::Login;
use crate::policy::Decision;
use crate::reply::{self, Body};
use crate::snapshot::{Current, Snapshot};
use crate::tls;
use crate::token::TokenKeys;
use crate::tunnels::Tunnels;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Certificates or CAs could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The signing key could not be used.
    #[error(transparent)]
    Key(#[from] crate::token::KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// The cause.
        source: std::io::Error,
    },
    /// `authenticate_service_url` is not a usable URL.
    #[error("authenticate_service_url: {0}")]
    AuthUrl(String),
    /// The HTTP client for the identity provider could not be built.
    #[error("identity provider client: {0}")]
    Http(#[from] rustls::Error),
}

/// State every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// Routes, policies, certificates and timeouts in force; a reload swaps them.
    pub current: Current,
    /// The live tunnels, re-checked after a reload, counted and cut by a drain.
    pub tunnels: Arc<Tunnels>,
    /// Token signer/verifier.
    pub keys: Arc<TokenKeys>,
    /// Login endpoints.
    pub login: Login,
    /// TLS to `https://` upstream proxies.
    pub proxy_tls: Arc<rustls::ClientConfig>,
    /// Round-robin position over a route's `to` list.
    pub next_upstream: AtomicUsize,
    /// Cancelled when shutdown starts: the accept loop stops, new CONNECTs are answered 503,
    /// connections close once no tunnel runs on them ([`Tunnels::cut`] ends the tunnels).
    pub cancel: CancellationToken,
    /// Every connection and relay task.
    pub tracker: TaskTracker,
    /// `Alt-Svc: h3=":<port>"; ma=86400` on every answer of the TCP listener, when the HTTP/3
    /// listener runs ([`crate::quic`], `codec_type: http3`).
    pub alt_svc: Option<http::HeaderValue>,
}

/// A checked configuration with its TLS and keys built, ready to bind.
pub struct Gateway {
    snapshot: Snapshot,
    key_generated: bool,
    keys_pem: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("address", &self.snapshot.config.address).finish_non_exhaustive()
    }
}

impl Gateway {
    /// Builds TLS, client CAs and routes from a validated config. Nothing is bound yet.
    ///
    /// # Errors
    /// [`GatewayError`] for unusable certificates, CAs or keys.
    pub fn new(config: Config) -> Result<Self, GatewayError> {
        let keys_pem = config.signing_key.as_ref().map(|s| s.0.clone());
        let snapshot = Snapshot::build(config)?;
        // Check the key now, before binding.
        let (_, key_generated) = TokenKeys::new(keys_pem.as_deref(), String::new(), snapshot.config.cookie_expire)?;
        Ok(Self { snapshot, key_generated, keys_pem })
    }

    /// `true` when no `signing_key` was configured and a key was generated: tokens stop
    /// working when the process ends, and replicas cannot share them.
    pub fn key_generated(&self) -> bool {
        self.key_generated
    }

    /// Binds the configured `address` and starts serving.
    ///
    /// # Errors
    /// [`GatewayError::Bind`] when the address is taken or not allowed.
    pub async fn bind(self) -> Result<Running, GatewayError> {
        let address = self.snapshot.config.address.clone();
        let listener = TcpListener::bind(&address).await.map_err(|source| GatewayError::Bind { address, source })?;
        self.serve(listener)
    }

    /// Starts serving on an already bound listener.
    ///
    /// # Errors
    /// [`GatewayError`] when the login URL cannot be formed.
    pub fn serve(self, listener: TcpListener) -> Result<Running, GatewayError> {
        let local_addr = listener
            .local_addr()
            .map_err(|source| GatewayError::Bind { address: self.snapshot.config.address.clone(), source })?;
        let config = &self.snapshot.config;
        let auth_base = match &config.authenticate_service_url {
            Some(u) => u.clone(),
            None => {
                let host =
                    if local_addr.ip().is_unspecified() { "localhost".to_owned() } else { local_addr.ip().to_string() };
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                Url::parse(&format!("https://{host}:{}", local_addr.port()))
                    .map_err(|e| GatewayError::AuthUrl(e.to_string()))?
            }
        };
        let issuer = auth_base.as_str().trim_end_matches('/').to_owned();
        let (keys, _) = TokenKeys::new(self.keys_pem.as_deref(), issuer, config.cookie_expire)?;
        let keys = Arc::new(keys);
        let login = Login::new(config.idp.clone(), auth_base.clone(), keys.clone())?;
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let quic = match config.http3 {
            Some(h3) => {
                let address = format!("{local_addr} (UDP, for HTTP/3)");
                let endpoint =
                    crate::quic::bind(local_addr).map_err(|source| GatewayError::Bind { address, source })?;
                let alt_svc = http::HeaderValue::from_str(&h3.alt_svc(local_addr.port())).ok();
                Some((endpoint, alt_svc))
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            current: Current::new(self.snapshot),
            tunnels: Arc::new(Tunnels::default()),
            keys,
            login,
            proxy_tls: crate::upstream::proxy_tls_config(),
            next_upstream: AtomicUsize::new(0),
            cancel: cancel.clone(),
            tracker: tracker.clone(),
            alt_svc: quic.as_ref().and_then(|(_, alt_svc)| alt_svc.clone()),
        });
        let gate = Arc::new(limits::Gate::new(limits::connection_cap()));
        tracing::info!(max_connections = gate.cap(), "connection limits set");
        if let Some((endpoint, _)) = quic {
            tracing::info!(address = %local_addr, "HTTP/3 (QUIC) listening");
            tracker.spawn(crate::quic::accept_loop(endpoint, shared.clone(), gate.clone()));
        }
        tracker.spawn(accept_loop(listener, shared.clone(), gate.clone()));
        Ok(Running { local_addr, auth_base, shared, tracker, gate })
    }
}

/// A serving gateway. Dropping it stops the accept loop and every tunnel.
#[derive(Debug)]
pub struct Running {
    local_addr: SocketAddr,
    auth_base: Url,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tracker: TaskTracker,
    gate: Arc<limits::Gate>,
}

impl Running {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL logins return to (`<this>/oauth2/callback`).
    pub fn auth_base(&self) -> &Url {
        &self.auth_base
    }

    /// A reloader for this gateway's config file `path` (SIGHUP, [`crate::watch`]).
    pub fn reloader(&self, path: std::path::PathBuf) -> crate::reload::Reloader {
        crate::reload::Reloader::new(path, self.shared.clone())
    }

    /// Fires when shutdown starts (a drain, or the drop).
    pub fn stopping(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    /// How many downstream connections (TCP and QUIC) hold a slot now.
    pub fn open_connections(&self) -> usize {
        self.gate.open()
    }

    /// How many tunnels are live now.
    pub fn live_tunnels(&self) -> usize {
        self.shared.tunnels.len()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.shared.tunnels.cut();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, gate: Arc<limits::Gate>) {
    // No slot to wait for before accepting: the gate decides per client address after.
    let no_slot = || std::future::ready(Some(()));
    porthole_io::accept::accept_loop(listener, &shared.cancel, no_slot, |(), tcp, addr| {
        let admission = match gate.admit(addr.ip()) {
            Ok(a) => a,
            Err(refused) => {
                // Closed at once (dropped), so the descriptor is free for legitimate work.
                tracing::debug!(peer = %addr, reason = %refused, "connection refused");
                return;
            }
        };
        // The certificates in force at accept (a reload may have replaced them).
        let tls = shared.current.get().tls.clone();
        let shared2 = shared.clone();
        shared.tracker.spawn(async move {
            let admission = Arc::new(admission);
            let evicted = admission.evicted().clone();
            tokio::select! {
                () = serve_connection(tcp, addr, tls, shared2, admission) => {}
                () = evicted.cancelled() => tracing::debug!(peer = %addr, "evicted before it authenticated"),
            }
        });
    })
    .await;
}

/// Serves one accepted connection inside its `conn` span (the peer's address), so its lines,
/// and those of its CONNECTs (`connect` spans: authority, route, user), can be followed.
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    admission: Arc<limits::Admission>,
) {
    let span = tracing::info_span!("conn", peer = %addr);
    serve_tls(tcp, addr, config, shared, admission).instrument(span).await;
}

/// The TLS handshake, then HTTP/1.1 or HTTP/2 on it until the connection ends.
async fn serve_tls(
    tcp: tokio::net::TcpStream,
    addr: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    admission: Arc<limits::Admission>,
) {
    let tls = match tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, porthole_io::tls::accept(config, tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let negotiated = tls.negotiated();
    let certs = negotiated.peer_certificates;
    let h2 = negotiated.alpn.as_deref() == Some(b"h2".as_slice());
    let peer = Arc::new(Peer { addr, certs });
    // HTTP/1.1: CONNECT-UDP is answered before hyper (which would not upgrade on a 200).
    let tls = if h2 {
        porthole_io::stream::Prefixed::new(Vec::new(), tls)
    } else {
        let read = shared.current.get().config.timeouts.read;
        match connect_udp::sniff(tls, read).await {
            Sniffed::Http(tls) => tls,
            Sniffed::Udp(tls, request, early) => {
                return connect_udp::serve(shared, tls, request, early, peer, admission).await;
            }
            Sniffed::Gone => return,
        }
    };
    let activity = Activity::new();
    let shared2 = shared.clone();
    let activity2 = activity.clone();
    // HTTP/2 streams run as tasks of their own: each request carries the connection's span.
    let span = tracing::Span::current();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let shared = shared2.clone();
        let peer = peer.clone();
        let admission = admission.clone();
        let busy = activity2.busy();
        req.extensions_mut().insert(limits::Slot::new(admission.clone(), activity2.clone()));
        async move {
            let resp = serve_request(shared, req, peer, &admission).await;
            drop(busy);
            Ok::<_, std::convert::Infallible>(resp)
        }
        .instrument(span.clone())
    });
    let io = TokioIo::new(tls);
    let timeouts = shared.current.get().config.timeouts;
    if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .keep_alive_interval(limits::H2_KEEPALIVE)
            .keep_alive_timeout(limits::H2_KEEPALIVE)
            .max_concurrent_streams(limits::MAX_CONCURRENT_STREAMS)
            .max_header_list_size(limits::MAX_HEADER_LIST_BYTES);
        let conn = builder.serve_connection(io, service);
        drive(conn, |c| c.graceful_shutdown(), addr, &shared, &activity, timeouts.idle).await;
    } else {
        // HTTP/1.1 without the auto-detection wrapper, so a CONNECT's upgrade hands back this
        // very TLS stream (`connect::handle` can then reset its socket on an upstream abort).
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.read)
            .max_buf_size(limits::MAX_HEAD_BYTES + 8 * 1024)
            .max_header_size(limits::MAX_HEAD_BYTES)
            .max_headers(limits::MAX_HEADERS);
        let conn = builder.serve_connection(io, service).with_upgrades();
        drive(conn, |c| c.graceful_shutdown(), addr, &shared, &activity, timeouts.idle).await;
    }
}

/// Serves one request within `timeout_write`, and marks the connection authenticated when a
/// CONNECT got its `200` or a login completed.
async fn serve_request(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: Arc<Peer>,
    admission: &limits::Admission,
) -> Response<Body> {
    let connect = req.method() == Method::CONNECT;
    let callback = req.uri().path() == "/oauth2/callback";
    let write = shared.current.get().config.timeouts.write;
    let handled = dispatch(shared.clone(), req, peer);
    let resp = match write {
        Some(limit) => match tokio::time::timeout(limit, handled).await {
            Ok(resp) => resp,
            Err(_) => {
                reply::text(StatusCode::GATEWAY_TIMEOUT, "the gateway could not answer within timeout_write; try again")
            }
        },
        None => handled.await,
    };
    if (connect && resp.status() == StatusCode::OK) || (callback && resp.status() == StatusCode::FOUND) {
        admission.authenticated();
    }
    let mut resp = resp;
    if let Some(alt_svc) = &shared.alt_svc {
        resp.headers_mut().append(http::header::ALT_SVC, alt_svc.clone());
    }
    resp
}

/// Serves one connection until it ends; asks it to finish gracefully when it has had no
/// request in flight for `idle` (within 1 s: an HTTP/2 peer that never answers the GOAWAY's
/// PING is not waited for), or at shutdown once no request or tunnel runs on it (HTTP/2
/// tunnels are streams of the connection, so they keep it; within 5 s). When the drain cuts
/// the tunnels, the connection goes at once.
async fn drive<C>(
    conn: C,
    graceful: impl FnOnce(Pin<&mut C>),
    addr: SocketAddr,
    shared: &Shared,
    activity: &Activity,
    idle: Option<Duration>,
) where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let cut = shared.tunnels.cut_token();
    tokio::pin!(conn);
    let (why, grace) = tokio::select! {
        res = conn.as_mut() => return log_end(addr, res),
        () = shared.cancel.cancelled() => ("shutdown", Duration::from_secs(5)),
        () = activity.idle_for(idle) => ("idle", Duration::from_secs(1)),
    };
    if why == "shutdown" {
        tokio::select! {
            res = conn.as_mut() => return log_end(addr, res),
            () = activity.idle_for(Some(Duration::ZERO)) => {}
            () = cut.cancelled() => return,
        }
    }
    tracing::debug!(peer = %addr, why, "closing the connection");
    graceful(conn.as_mut());
    tokio::select! {
        _ = tokio::time::timeout(grace, conn) => {}
        () = cut.cancelled() => {}
    }
}

fn log_end(addr: SocketAddr, res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        tracing::debug!(peer = %addr, error = %e, "connection ended with an error");
    }
}

async fn dispatch(shared: Arc<Shared>, req: Request<Incoming>, peer: Arc<Peer>) -> Response<Body> {
    if req.method() == Method::CONNECT {
        if shared.cancel.is_cancelled() {
            return reply::shutting_down(&peer.addr, req.version());
        }
        return connect::handle(shared, req, peer).await;
    }
    endpoints(&shared, &req).await
}

/// Every path but CONNECT, whichever HTTP version carried the request (the body is never read).
pub async fn endpoints<B>(shared: &Shared, req: &Request<B>) -> Response<Body> {
    let query = req.uri().query().map(str::to_owned);
    let query = query.as_deref();
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz" | "/ping") => reply::text(StatusCode::OK, "OK"),
        (&Method::GET, "/.pomerium/api/v1/login") => shared.login.api_login(query, req.headers()),
        (_, "/.pomerium/api/v1/login") => reply::go_error(StatusCode::METHOD_NOT_ALLOWED),
        (&Method::GET, "/.pomerium/sign_in") => shared.login.sign_in(query).await,
        (&Method::GET, "/oauth2/callback") => shared.login.callback(query, req.headers()).await,
        (&Method::GET, "/.pomerium/api/v1/routes") => routes_api(shared, req),
        (&Method::GET, "/.well-known/pomerium/jwks.json") => reply::json(StatusCode::OK, &shared.keys.jwks()),
        _ => reply::text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `GET /.pomerium/api/v1/routes`: the TCP routes the caller may use.
fn routes_api<B>(shared: &Shared, req: &Request<B>) -> Response<Body> {
    let unauthenticated = |msg: &str| reply::json(StatusCode::UNAUTHORIZED, &serde_json::json!({ "error": msg }));
    let Some(token) = connect::session_token(req.headers()) else {
        return unauthenticated("login required: send Authorization: Bearer Pomerium-<token>");
    };
    let identity = match shared.keys.verify(token) {
        Ok(id) => id,
        Err(e) => return unauthenticated(&e.to_string()),
    };
    let snapshot = shared.current.get();
    let visible: Vec<_> = snapshot
        .routes
        .all()
        .iter()
        .filter(|r| {
            r.config.allow_public_unauthenticated_access || r.config.policy.evaluate(Some(&identity)) == Decision::Allow
        })
        .collect();
    // Unnamed routes get the names Pomerium's portal generates over the routes the caller sees.
    let froms: Vec<&str> = visible.iter().map(|r| r.config.from.raw.as_str()).collect();
    let generated = crate::route::generate_names(&froms);
    let routes: Vec<serde_json::Value> = visible
        .iter()
        .zip(generated)
        .map(|(r, generated)| {
            serde_json::json!({
                "id": r.id,
                "name": r.config.name.clone().unwrap_or(generated),
                "type": if r.config.from.udp { "udp" } else { "tcp" },
                "from": r.config.from.raw,
                "description": r.config.description.clone().unwrap_or_default(),
                "connect_command": r.connect_command(),
                "logo_url": "",
            })
        })
        .collect();
    reply::json(StatusCode::OK, &serde_json::json!({ "routes": routes }))
}
