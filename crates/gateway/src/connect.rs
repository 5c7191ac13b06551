//! Answering a CONNECT: route by authority → client certificate → session token → policy →
//! upstream → `200` and relay. Every refusal is the status a real Pomerium sends, with a body
//! a person can act on, and one access-log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::Instrument as _;
use tracing::field::Empty;

use porthole_io::relay::{Counters, End, Outcome, relay};
use porthole_io::stream::{Abort, DropOnly, Prefixed};
use porthole_io::tls::ServerStream;

use crate::config::MtlsEnforcement;
use crate::policy::{Decision, Identity};
use crate::reply::{self, Body};
use crate::route::Route;
use crate::server::Shared;
use crate::token::TokenError;
use crate::tunnels::{LiveTunnel, TunnelInfo};
use crate::upstream::{self, UpstreamError};

/// What the accept loop learned about a downstream connection.
#[derive(Debug)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The client certificate chain it presented (leaf first), if any.
    pub certs: Vec<CertificateDer<'static>>,
}

/// The session token in a request, in any of the three header forms Pomerium accepts:
/// `Authorization: Pomerium <jwt>`, `Authorization: Bearer Pomerium-<jwt>`,
/// `X-Pomerium-Authorization: <jwt>`.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    for value in headers.get_all(http::header::AUTHORIZATION) {
        let Ok(v) = value.to_str() else { continue };
        if let Some(t) = v.strip_prefix("Pomerium ") {
            return Some(t.trim());
        }
        if let Some(t) = v.strip_prefix("Bearer Pomerium-") {
            return Some(t.trim());
        }
    }
    let v = headers.get("x-pomerium-authorization")?.to_str().ok()?;
    Some(v.strip_prefix("Pomerium ").unwrap_or(v).trim())
}

/// Request headers passed on to an upstream proxy: everything but the session token, `Host`
/// (rewritten) and hop-by-hop headers.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    const DROP: &[&str] = &[
        "host",
        "x-pomerium-authorization",
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    ];
    headers
        .iter()
        .filter(|(name, _)| !DROP.contains(&name.as_str()))
        .filter(|(name, value)| {
            *name != http::header::AUTHORIZATION || {
                let v = value.to_str().unwrap_or("");
                !(v.starts_with("Pomerium ") || v.starts_with("Bearer Pomerium-"))
            }
        })
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect()
}

/// The name the access log gives a tunnel's user: the token's email, else its subject.
pub(crate) fn who(identity: Option<&Identity>) -> String {
    match identity {
        Some(id) => id.email.clone().unwrap_or_else(|| id.user.clone()),
        None => "anonymous".into(),
    }
}

fn refuse(
    peer: &Peer,
    authority: &str,
    route: Option<&Route>,
    identity: Option<&Identity>,
    status: StatusCode,
    message: String,
) -> Response<Body> {
    tracing::info!(
        target: "porthole_gateway::access",
        peer = %peer.addr,
        authority,
        route = route.map(|r| r.display_name()).unwrap_or_default(),
        user = %who(identity),
        status = status.as_u16(),
        reason = %message,
        "tunnel refused"
    );
    reply::text(status, message)
}

/// Why a CONNECT request is malformed (RFC 9112 §3.2, RFC 9110 §9.3.6), as the `400` body;
/// `None` when it is well formed.
pub fn malformed<B>(req: &Request<B>) -> Option<&'static str> {
    let headers = req.headers();
    if req.version() == http::Version::HTTP_11 {
        match headers.get_all(http::header::HOST).iter().count() {
            0 => return Some("a CONNECT request needs a Host header naming the tunnel's destination (RFC 9112 §3.2)"),
            1 => {}
            _ => return Some("a request may carry only one Host header (RFC 9112 §3.2); send it once"),
        }
    }
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get_all(http::header::CONTENT_LENGTH)
            .iter()
            .any(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()) != Some(0));
    has_body.then_some("a CONNECT request has no body; send the tunnel's bytes after the 200 answer instead")
}

/// The `connect` span of one CONNECT: the authority asked for, then the route and the user once
/// they are known (never the token), so its lines and its relay's can be followed.
pub fn span(authority: &str) -> tracing::Span {
    tracing::info_span!("connect", authority = %authority, route = Empty, user = Empty)
}

/// Handles one HTTP/1.1 or HTTP/2 CONNECT request inside its [`span`]: [`admit`], then the
/// `200` and the relay over hyper's upgraded stream.
pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>, peer: Arc<Peer>) -> Response<Body> {
    let authority = req.uri().authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let span = span(&authority);
    handle_in(shared, req, peer, authority).instrument(span).await
}

async fn handle_in(shared: Arc<Shared>, req: Request<Incoming>, peer: Arc<Peer>, authority: String) -> Response<Body> {
    let slot = req.extensions().get::<crate::limits::Slot>().cloned();
    let admitted = match admit(&shared, &req, &peer, authority, slot.as_ref()).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let relay_span = tracing::Span::current();
    shared.tracker.spawn(
        async move {
            let upgraded = match hyper::upgrade::on(req).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!(peer = %admitted.peer.addr, error = %e, "CONNECT upgrade failed");
                    return;
                }
            };
            match upgraded.downcast::<TokioIo<Prefixed<ServerStream>>>() {
                // HTTP/1.1: the client's own TLS stream, so an upstream reset can reset its TCP
                // connection (no close_notify). Bytes the client sent right behind its CONNECT
                // head (hyper read them already) go upstream first.
                Ok(parts) => admitted.relay(parts.io.into_inner(), parts.read_buf).await,
                // HTTP/2: hyper's upgraded stream can only be closed cleanly (dropping it sends
                // END_STREAM; hyper has no way to reset it), so an upstream reset reaches an
                // HTTP/2 client as a clean end of its stream.
                Err(upgraded) => admitted.relay(DropOnly(TokioIo::new(upgraded)), Bytes::new()).await,
            }
        }
        .instrument(relay_span),
    );
    Response::new(Body::default())
}

/// A CONNECT let through: upstream connected, tunnel registered. Answer `200`, then hand the
/// client's stream to [`Admitted::relay`]; dropping it instead ends the tunnel unused.
pub struct Admitted {
    shared: Arc<Shared>,
    peer: Arc<Peer>,
    authority: String,
    route: Arc<Route>,
    user: String,
    live: LiveTunnel,
    connected: upstream::Connected,
    held: Option<crate::limits::Held>,
    timeouts: crate::config::Timeouts,
    started: Instant,
}

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted").field("authority", &self.authority).finish_non_exhaustive()
    }
}

/// Decides a CONNECT for `authority` whatever the HTTP version that carried it (HTTP/1.1,
/// HTTP/2, HTTP/3): well-formed → route → client certificate → session token → policy →
/// upstream → registered. `slot` is the connection's, held for the tunnel's life. Every refusal
/// is the answer to send, already written to the access log.
///
/// # Errors
/// The refusal to send (400, 401, 302, 403, 404, 495, 502, 503).
pub async fn admit<B>(
    shared: &Arc<Shared>,
    req: &Request<B>,
    peer: &Arc<Peer>,
    authority: String,
    slot: Option<&crate::limits::Slot>,
) -> Result<Admitted, Response<Body>> {
    if let Some(msg) = malformed(req) {
        // The framing cannot be trusted: answer, then close the connection.
        let mut resp = refuse(peer, &authority, None, None, StatusCode::BAD_REQUEST, msg.into());
        resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        return Err(resp);
    }
    let Authorized { snapshot, route, identity } =
        authorize(shared, req.headers(), peer, &authority, false).map_err(|refusal| *refusal)?;
    let headers = forwarded_headers(req.headers());
    let connected =
        match upstream::connect(&route.config, &authority, &headers, &shared.next_upstream, &shared.proxy_tls).await {
            Ok(c) => c,
            Err(e) => {
                let status = match e {
                    UpstreamError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    UpstreamError::ProxyRefused { .. } | UpstreamError::ProxyProtocol { .. } => StatusCode::BAD_GATEWAY,
                };
                return Err(refuse(peer, &authority, Some(&route), identity.as_ref(), status, e.to_string()));
            }
        };
    // The tunnel keeps its connection's slot, and keeps the connection from being idle.
    let held = slot.map(crate::limits::Slot::hold);
    let live = register(shared, &route, &authority, identity, peer);
    let user = live.info().user.clone();
    // A reload between the checks above and the registration did not see this tunnel.
    if let Some(why) = live.changed_since(&snapshot, &shared.current) {
        let msg = format!("access to {authority} changed while connecting ({why}); try again");
        return Err(refuse(peer, &authority, Some(&route), live.info().identity.as_ref(), why.status(), msg));
    }
    let timeouts = snapshot.config.timeouts;
    Ok(Admitted {
        shared: shared.clone(),
        peer: peer.clone(),
        authority,
        route,
        user,
        live,
        connected,
        held,
        timeouts,
        started: Instant::now(),
    })
}

/// Registers an admitted tunnel (TCP or UDP) until it ends: a reload re-checks it, its
/// session's expiry ends it.
pub(crate) fn register(
    shared: &Shared,
    route: &Route,
    authority: &str,
    identity: Option<Identity>,
    peer: &Arc<Peer>,
) -> LiveTunnel {
    shared.tunnels.register(TunnelInfo {
        route_id: route.id.clone(),
        route: route.display_name(),
        authority: authority.to_owned(),
        user: who(identity.as_ref()),
        expires: TunnelInfo::expiry_of(identity.as_ref()),
        identity,
        peer: peer.clone(),
    })
}

impl Admitted {
    /// Relays the client's stream (after the `200`) and the upstream until the tunnel ends, then
    /// writes its access-log line. Bytes the upstream sent early go to the client first;
    /// `read_buf`, bytes the client sent behind its request head, go upstream first.
    pub async fn relay<C>(self, mut client: C, read_buf: Bytes)
    where
        C: AsyncRead + AsyncWrite + Abort + Unpin,
    {
        let Self { shared, peer, authority, route, user, live, connected, held, timeouts, started } = self;
        let _held = held;
        let counters = Counters::new();
        let idle = route.config.idle_timeout.or(timeouts.idle).filter(|d| !d.is_zero());
        let cancel = crate::limits::with_deadline(live.stop_token(), timeouts.write);
        let _end = cancel.clone().drop_guard();
        let upstream::Connected { stream, early, target } = connected;
        let mut upstream = live.guard(stream);
        tracing::debug!(upstream = %target, "tunnel open");
        let sent = async {
            if !early.is_empty() {
                client.write_all(&early).await?;
                client.flush().await?;
            }
            if !read_buf.is_empty() {
                upstream.write_all(&read_buf).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let outcome = match sent.await {
            Ok(()) => {
                counters.add_down(early.len() as u64);
                counters.add_up(read_buf.len() as u64);
                // hyper's read buffer and the head buffer are not kept for the tunnel's life.
                drop((read_buf, early));
                live.watch(relay(client, upstream, counters, idle, cancel), &shared.current).await
            }
            Err(e) => Outcome { up: 0, down: 0, end: End::Error(e.to_string()) },
        };
        tracing::info!(
            target: "porthole_gateway::access",
            peer = %peer.addr,
            authority,
            route = %route.display_name(),
            user = %user,
            upstream = %target,
            bytes_up = outcome.up,
            bytes_down = outcome.down,
            duration_ms = started.elapsed().as_millis() as u64,
            end = %live.describe_end(&outcome.end),
            "tunnel closed"
        );
    }
}

/// What [`authorize`] let through: the config it was checked against, the route, the user.
pub(crate) struct Authorized {
    /// The config in force when the request arrived, for the whole request.
    pub snapshot: Arc<crate::snapshot::Snapshot>,
    /// The route the authority names.
    pub route: Arc<Route>,
    /// The user, when a valid session token came (none for a public route without one).
    pub identity: Option<Identity>,
}

/// Route (a `tcp+` route for CONNECT, a `udp+` one for CONNECT-UDP) → client certificate →
/// session token → policy, with Pomerium's answers (404, 495, 401, 302, 403), each refusal
/// logged once. Shared by CONNECT ([`admit`], every HTTP version) and CONNECT-UDP (`crate::connect_udp`).
pub(crate) fn authorize(
    shared: &Shared,
    headers: &HeaderMap,
    peer: &Peer,
    authority: &str,
    udp: bool,
) -> Result<Authorized, Box<Response<Body>>> {
    let snapshot = shared.current.get();
    let found = if udp { snapshot.routes.find_udp(authority) } else { snapshot.routes.find(authority) };
    let Some(route) = found.cloned() else {
        let msg = format!("no route for {authority}: check the destination, or ask for a route to be added");
        return Err(Box::new(refuse(peer, authority, None, None, StatusCode::NOT_FOUND, msg)));
    };
    tracing::Span::current().record("route", tracing::field::display(route.display_name()));
    // Client certificate: the route's own CA, else the global one in default-deny mode.
    let ca = route.client_ca.as_ref().or(match &snapshot.global_ca {
        Some((ca, MtlsEnforcement::PolicyWithDefaultDeny)) => Some(ca),
        _ => None,
    });
    if let Some(ca) = ca
        && !ca.accepts(&peer.certs)
    {
        let msg = if peer.certs.is_empty() {
            "a valid client certificate is required to access this route; none was presented"
        } else {
            "a valid client certificate is required to access this route; the one presented is not trusted"
        };
        return Err(Box::new(refuse(peer, authority, Some(&route), None, reply::status_495(), msg.into())));
    }
    let token = session_token(headers);
    let identity = match token.map(|t| shared.keys.verify(t)) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(e)) if !route.config.allow_public_unauthenticated_access => {
            let msg = match e {
                TokenError::Expired => "session expired: log in again",
                TokenError::NotYetValid => {
                    "session token is not valid yet: check the clocks of this machine and the gateway, or log in again"
                }
                TokenError::Invalid => "session token not valid for this gateway: log in again",
            };
            return Err(Box::new(refuse(peer, authority, Some(&route), None, StatusCode::UNAUTHORIZED, msg.into())));
        }
        Some(Err(_)) => None,
    };
    tracing::Span::current().record("user", tracing::field::display(who(identity.as_ref())));
    let decision = if route.config.allow_public_unauthenticated_access {
        Decision::Allow
    } else {
        route.config.policy.evaluate(identity.as_ref())
    };
    match decision {
        Decision::Allow => {}
        Decision::LoginRequired if token.is_none() => {
            refuse(peer, authority, Some(&route), None, StatusCode::FOUND, "login required".into());
            return Err(Box::new(reply::found(&shared.login.sign_in_location())));
        }
        Decision::LoginRequired => {
            let msg = "session not accepted: log in again".into();
            return Err(Box::new(refuse(
                peer,
                authority,
                Some(&route),
                identity.as_ref(),
                StatusCode::UNAUTHORIZED,
                msg,
            )));
        }
        Decision::Deny => {
            let msg = format!("access denied to {authority} for {}", who(identity.as_ref()));
            return Err(Box::new(refuse(peer, authority, Some(&route), identity.as_ref(), StatusCode::FORBIDDEN, msg)));
        }
    }
    Ok(Authorized { snapshot, route, identity })
}
