//! The registry of live tunnels: who holds each one, on which route, until when its session
//! lasts, and how to end it. A reload re-checks every entry against the new config
//! ([`crate::reload`]); a tunnel whose session expires ends then ([`LiveTunnel::watch`]); a
//! drain counts and finally cuts them ([`Tunnels::cut`]).
//!
//! A revoked tunnel ends as an abort, not a clean close: its upstream stream starts failing
//! ([`Revocable`]), so the relay resets the client's connection (RST over HTTP/1.1; HTTP/2 can
//! only end the stream) and the upstream's. A clean close would let the client take a cut-off
//! stream for a complete one (a dump, a file copy); a reset says "this stopped short", and the
//! client then asks the gateway why with a fresh CONNECT (403 or 401 with a sentence).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use porthole_io::stream::{Abort, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::connect::Peer;
use crate::policy::Identity;
use crate::snapshot::{Current, Snapshot};

/// How long a revoked tunnel's relay gets to notice the failing upstream before it is closed
/// outright (a relay blocked writing to a client that reads nothing polls no upstream read).
const REVOKE_BACKSTOP: Duration = Duration::from_millis(500);

/// Why a live tunnel was ended by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// After a reload, the route's policy (or client CA) no longer admits the tunnel's user.
    PolicyChanged,
    /// After a reload, the tunnel's route is gone.
    RouteRemoved,
    /// The session token the tunnel was opened with expired.
    SessionExpired,
}

impl Revoked {
    /// The status a new CONNECT for the same tunnel gets now.
    pub fn status(self) -> http::StatusCode {
        match self {
            Revoked::PolicyChanged => http::StatusCode::FORBIDDEN,
            Revoked::RouteRemoved => http::StatusCode::NOT_FOUND,
            Revoked::SessionExpired => http::StatusCode::UNAUTHORIZED,
        }
    }
}

impl std::fmt::Display for Revoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Revoked::PolicyChanged => "policy changed",
            Revoked::RouteRemoved => "route removed",
            Revoked::SessionExpired => "session expired",
        })
    }
}

/// What is known about a live tunnel: enough to decide again whether it may go on.
#[derive(Debug)]
pub struct TunnelInfo {
    /// The route's id ([`crate::route::route_id`] of its `from`).
    pub route_id: String,
    /// The route's display name, for logs.
    pub route: String,
    /// The CONNECT authority.
    pub authority: String,
    /// Who, for logs (email, else subject, else `anonymous`).
    pub user: String,
    /// The verified session, if any.
    pub identity: Option<Identity>,
    /// The downstream connection (address, client certificate).
    pub peer: Arc<Peer>,
    /// When the session token expires: the first instant a CONNECT with it is refused (the
    /// second after `exp`; `exp` itself is still valid), if there is a token.
    pub expires: Option<SystemTime>,
}

impl TunnelInfo {
    /// When a verified session stops being accepted: one second after its `exp` (whole
    /// seconds), as [`crate::token::TokenKeys::verify`] counts, so a tunnel never ends while a
    /// new CONNECT with the same token would still be let in.
    pub fn expiry_of(identity: Option<&Identity>) -> Option<SystemTime> {
        let exp = identity?.claims.get("exp")?.as_f64()?;
        (exp.is_finite() && exp >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs(exp as u64 + 1))
    }
}

#[derive(Debug)]
struct Entry {
    info: Arc<TunnelInfo>,
    revoke: Revoke,
}

/// The revocation side of one tunnel.
#[derive(Debug, Clone)]
struct Revoke {
    /// Fires the upstream's failure ([`Revocable`]).
    token: CancellationToken,
    /// Closes the relay (clean close): the backstop, the drain's cut, `timeout_write`.
    stop: CancellationToken,
    reason: Arc<OnceLock<Revoked>>,
}

impl Revoke {
    /// Revokes once: logs the access line, fails the upstream, and arms the backstop.
    fn fire(&self, info: &TunnelInfo, reason: Revoked) -> bool {
        if self.reason.set(reason).is_err() {
            return false;
        }
        tracing::info!(
            target: "porthole_gateway::access",
            peer = %info.peer.addr,
            authority = %info.authority,
            route = %info.route,
            user = %info.user,
            reason = %reason,
            "tunnel revoked"
        );
        self.token.cancel();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(REVOKE_BACKSTOP) => stop.cancel(),
                () = stop.cancelled() => {}
            }
        });
        true
    }
}

/// Every live tunnel of one gateway.
#[derive(Debug, Default)]
pub struct Tunnels {
    entries: Mutex<HashMap<u64, Entry>>,
    next: AtomicU64,
    /// Cancelled when the drain runs out: every relay closes.
    cut: CancellationToken,
    /// Woken whenever a tunnel ends.
    ended: Notify,
}

impl Tunnels {
    /// Registers a tunnel; it stays registered until the returned handle drops.
    pub fn register(self: &Arc<Self>, info: TunnelInfo) -> LiveTunnel {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let info = Arc::new(info);
        let revoke =
            Revoke { token: CancellationToken::new(), stop: self.cut.child_token(), reason: Arc::new(OnceLock::new()) };
        self.lock().insert(id, Entry { info: info.clone(), revoke: revoke.clone() });
        LiveTunnel { id, tunnels: self.clone(), info, revoke }
    }

    /// How many tunnels are live.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no tunnel is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Revokes every live tunnel for which `verdict` gives a reason; returns how many.
    pub fn revoke_where(&self, verdict: impl Fn(&TunnelInfo) -> Option<Revoked>) -> usize {
        let doomed: Vec<(Arc<TunnelInfo>, Revoke, Revoked)> = self
            .lock()
            .values()
            .filter_map(|e| verdict(&e.info).map(|r| (e.info.clone(), e.revoke.clone(), r)))
            .collect();
        doomed.into_iter().filter(|(info, revoke, reason)| revoke.fire(info, *reason)).count()
    }

    /// Closes every live tunnel now (the end of a drain), and every tunnel opened after.
    pub fn cut(&self) {
        self.cut.cancel();
    }

    /// Fires when [`Tunnels::cut`] is called.
    pub fn cut_token(&self) -> &CancellationToken {
        &self.cut
    }

    /// Resolves once no tunnel is live.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn all_ended(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.is_empty() {
                return;
            }
            ended.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One registered tunnel; dropping it unregisters it.
#[derive(Debug)]
pub struct LiveTunnel {
    id: u64,
    tunnels: Arc<Tunnels>,
    info: Arc<TunnelInfo>,
    revoke: Revoke,
}

impl LiveTunnel {
    /// The token the relay ends on (cleanly): the drain's cut, the revocation backstop; the
    /// caller may add `timeout_write` to it.
    pub fn stop_token(&self) -> CancellationToken {
        self.revoke.stop.clone()
    }

    /// Fires when the tunnel is revoked (a UDP relay, which has no stream to fail, ends on it).
    pub fn revoked_token(&self) -> CancellationToken {
        self.revoke.token.clone()
    }

    /// Wraps the upstream stream so that a revocation fails it (and resets it).
    pub fn guard(&self, upstream: Stream) -> Revocable {
        Revocable { inner: upstream, revoked: Box::pin(self.revoke.token.clone().cancelled_owned()), fired: false }
    }

    /// Runs `relay`, ending the tunnel when its session expires if `current`'s config says so
    /// at that moment (a later reload that turns the key on re-checks expired sessions).
    pub async fn watch<T>(&self, relay: impl Future<Output = T>, current: &Current) -> T {
        let expiry = async {
            let Some(at) = self.info.expires else { return std::future::pending().await };
            let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
            tokio::time::sleep(wait).await;
            let snapshot = current.get();
            if snapshot.routes.by_id(&self.info.route_id).is_some_and(|r| snapshot.ends_at_session_expiry(r)) {
                self.revoke.fire(&self.info, Revoked::SessionExpired);
            }
        };
        tokio::pin!(relay);
        tokio::select! {
            out = &mut relay => out,
            () = expiry => relay.await,
        }
    }

    /// What the tunnel was registered with.
    pub fn info(&self) -> &TunnelInfo {
        &self.info
    }

    /// Why the tunnel may not open after all, when a reload swapped the config after `seen`
    /// (the one its CONNECT was checked against) and before it was registered: that reload's
    /// re-check did not see it.
    pub fn changed_since(&self, seen: &Arc<Snapshot>, current: &Current) -> Option<Revoked> {
        let now = current.get();
        if Arc::ptr_eq(&now, seen) {
            return None;
        }
        crate::reload::verdict(&now, &self.info, SystemTime::now())
    }

    /// Why the gateway revoked the tunnel, if it did.
    pub fn revoked(&self) -> Option<Revoked> {
        self.revoke.reason.get().copied()
    }

    /// How the tunnel ended, for the access log: the revocation when there was one (the relay
    /// itself only saw its upstream fail), else `end`.
    pub fn describe_end(&self, end: &impl std::fmt::Display) -> String {
        match self.revoked() {
            Some(reason) => format!("revoked ({reason})"),
            None => end.to_string(),
        }
    }
}

impl Drop for LiveTunnel {
    fn drop(&mut self) {
        self.tunnels.lock().remove(&self.id);
        self.tunnels.ended.notify_waiters();
        // Ends the backstop task, if a revocation armed one.
        self.revoke.stop.cancel();
    }
}

/// An upstream stream that fails (reads and writes give `ConnectionAborted`) once its tunnel is
/// revoked, and is reset when dropped after that: the relay then passes the abort on to the
/// client.
pub struct Revocable {
    inner: Stream,
    revoked: Pin<Box<WaitForCancellationFutureOwned>>,
    fired: bool,
}

impl std::fmt::Debug for Revocable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocable").field("fired", &self.fired).finish_non_exhaustive()
    }
}

impl Revocable {
    /// `Some(error)` once the tunnel is revoked (the inner stream is then set to reset).
    fn check(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if !self.fired && self.revoked.as_mut().poll(cx).is_ready() {
            self.fired = true;
            self.inner.abort();
        }
        self.fired.then(|| io::Error::new(io::ErrorKind::ConnectionAborted, "access to the tunnel was revoked"))
    }
}

impl AsyncRead for Revocable {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Revocable {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Abort for Revocable {
    fn take_error(&self) -> Option<io::Error> {
        self.inner.take_error()
    }
    fn abort(&mut self) {
        self.inner.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use porthole_io::stream::Either;
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    fn info(user: &str, identity: Option<Identity>) -> TunnelInfo {
        TunnelInfo {
            route_id: "r".into(),
            route: "db.example.com:5432".into(),
            authority: "db.example.com:5432".into(),
            user: user.into(),
            expires: TunnelInfo::expiry_of(identity.as_ref()),
            identity,
            peer: Arc::new(Peer { addr: ([127, 0, 0, 1], 1).into(), certs: Vec::new() }),
        }
    }

    #[tokio::test]
    async fn a_revoked_upstream_fails_resets_its_peer_and_is_revoked_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (ours, theirs) = tokio::join!(TcpStream::connect(listener.local_addr().unwrap()), listener.accept());
        let (mut theirs, _) = theirs.unwrap();
        let tunnels = Arc::new(Tunnels::default());
        let alice = tunnels.register(info("alice", None));
        let _bob = tunnels.register(info("bob", None));
        let mut upstream = alice.guard(Either::Left(ours.unwrap()));
        let reading = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            upstream.read(&mut buf).await
        });
        let n = tunnels.revoke_where(|i| (i.user == "alice").then_some(Revoked::PolicyChanged));
        assert_eq!(n, 1, "only alice's tunnel is revoked");
        let err = tokio::time::timeout(Duration::from_secs(1), reading).await.unwrap().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted, "a read blocked on the upstream fails at once");
        assert_eq!(alice.revoked(), Some(Revoked::PolicyChanged));
        assert_eq!(alice.describe_end(&"closed"), "revoked (policy changed)");
        let mut buf = [0u8; 8];
        let peer = tokio::time::timeout(Duration::from_secs(1), theirs.read(&mut buf)).await.unwrap();
        assert_eq!(
            peer.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::ConnectionReset),
            "the upstream server sees a reset, not a clean end"
        );
        assert_eq!(tunnels.revoke_where(|_| Some(Revoked::RouteRemoved)), 1, "alice is not revoked twice; bob is");
        assert_eq!(tunnels.len(), 2, "revoked tunnels stay registered until they end");
        drop(alice);
        drop(_bob);
        assert!(tunnels.is_empty());
        tokio::time::timeout(Duration::from_secs(1), tunnels.all_ended()).await.expect("no tunnel left");
    }

    #[test]
    fn a_session_ends_the_second_after_its_exp() {
        let mut claims = serde_json::Map::new();
        claims.insert("exp".into(), 1_000.into());
        let id = Identity { user: "alice".into(), email: None, claims };
        assert_eq!(TunnelInfo::expiry_of(Some(&id)), Some(UNIX_EPOCH + Duration::from_secs(1_001)));
        assert_eq!(TunnelInfo::expiry_of(None), None, "no session, no expiry");
    }
}
