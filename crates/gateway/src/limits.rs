//! What one client may hold of the gateway: a cap on connections below the file-descriptor
//! limit, a cap on unauthenticated connections per client IP, and the HTTP head caps. (The
//! accept loop's backoff when the kernel refuses a connection is `porthole_io::accept`'s.)
//!
//! A connection is *unauthenticated* from its accept until a CONNECT on it is answered `200` or
//! a login on it completes. When every slot is taken, the oldest unauthenticated connection is
//! closed to make room, so idle or slow connections cannot lock out a client that is about to
//! prove who it is; an authenticated connection is never evicted.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::idle::{Activity, Busy};

/// Most bytes of an HTTP/1 request head (request line and headers); more is answered `431`.
/// Envoy's default (and so Pomerium's) is 60 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields in an HTTP/1 request; more is answered `431`. Envoy's default is 100.
pub const MAX_HEADERS: usize = 100;
/// Largest HTTP/2 header list a client may send (`SETTINGS_MAX_HEADER_LIST_SIZE`).
pub const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;
/// Concurrent HTTP/2 streams per connection, Pomerium's setting for Envoy.
pub const MAX_CONCURRENT_STREAMS: u32 = 100;
/// HTTP/2 PING interval on a connection, and how long the answer may take before the
/// connection is closed as dead (Pomerium's HTTP/2 keepalive: 1 min and 1 min).
pub const H2_KEEPALIVE: Duration = Duration::from_secs(60);
/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound on connections whatever the file-descriptor limit.
const MAX_CONNECTIONS: usize = 65_536;
/// File descriptors kept out of the connection cap for the process itself: the listener,
/// logs, the identity provider's client, config reloads.
const FD_RESERVE: u64 = 32;
/// Unauthenticated connections one client IP may hold at once while the gateway is under
/// pressure (at least half its connection slots taken). With room to spare a burst from one IP
/// is admitted whole: `porthole` opens one TLS connection per local connection, so a pool of
/// 1,000 database connections opened at once from one laptop (or one office's NAT) must not
/// be reset. Overridable with the environment variable `PORTHOLE_GATEWAY_UNAUTHENTICATED_PER_IP`.
const UNAUTHENTICATED_PER_IP: usize = 64;
/// Connections admitted above the cap while evicted ones are still closing; beyond it new
/// connections are closed at once.
const EVICTION_SLACK: usize = 16;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the connection cap that fits
/// under it: each connection may hold a second descriptor for its upstream, and
/// [`FD_RESERVE`] stay free. `PORTHOLE_GATEWAY_MAX_CONNECTIONS` overrides the result (tests).
pub fn connection_cap() -> usize {
    if let Some(n) = env_usize("PORTHOLE_GATEWAY_MAX_CONNECTIONS") {
        return n.max(1);
    }
    let soft = raise_nofile_limit();
    let cap = soft.saturating_sub(FD_RESERVE) / 2;
    usize::try_from(cap).unwrap_or(MAX_CONNECTIONS).clamp(1, MAX_CONNECTIONS)
}

/// The soft file-descriptor limit after raising it as far as the hard limit allows.
fn raise_nofile_limit() -> u64 {
    #[cfg(unix)]
    {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024);
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(now) => {
                if now > before {
                    tracing::debug!(from = before, to = now, "raised the open-file limit");
                }
                now
            }
            Err(e) => {
                tracing::warn!(error = %e, limit = before, "cannot raise the open-file limit; serving fewer connections");
                before
            }
        }
    }
    #[cfg(not(unix))]
    {
        (MAX_CONNECTIONS as u64) * 2 + FD_RESERVE
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// Admission of downstream connections: the global cap and the per-IP unauthenticated cap.
#[derive(Debug)]
pub struct Gate {
    cap: usize,
    per_ip: usize,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    /// Admitted connections still open.
    open: usize,
    /// Unauthenticated connections by admission order: id → (client IP, close signal).
    unauthenticated: BTreeMap<u64, (IpAddr, CancellationToken)>,
    /// Unauthenticated connections per client IP.
    per_ip: HashMap<IpAddr, usize>,
    next_id: u64,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The client IP already holds its share of unauthenticated connections.
    #[error("this client address already has {0} connections that have not logged in")]
    PerIp(usize),
    /// Every slot is taken by authenticated connections.
    #[error("the gateway is serving its maximum of {0} connections")]
    Full(usize),
}

impl Gate {
    /// A gate for `cap` connections and the per-IP unauthenticated cap (constant, or the
    /// environment override).
    pub fn new(cap: usize) -> Self {
        let per_ip = env_usize("PORTHOLE_GATEWAY_UNAUTHENTICATED_PER_IP").unwrap_or(UNAUTHENTICATED_PER_IP).max(1);
        Self { cap, per_ip, state: Mutex::new(GateState::default()) }
    }

    /// The connection cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Admitted connections still open.
    pub fn open(&self) -> usize {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).open
    }

    /// Admits a connection from `ip`, closing the oldest unauthenticated connection when every
    /// slot is taken.
    ///
    /// # Errors
    /// [`Refused`] when `ip` is over its unauthenticated share while half the slots or more
    /// are taken, or nothing can be evicted.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, Refused> {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = st.per_ip.get(&ip).copied().unwrap_or(0);
        if mine >= self.per_ip && st.open >= self.cap / 2 {
            return Err(Refused::PerIp(self.per_ip));
        }
        if st.open >= self.cap {
            if st.open >= self.cap + EVICTION_SLACK {
                return Err(Refused::Full(self.cap));
            }
            let oldest = st.unauthenticated.first_key_value().map(|(id, _)| *id);
            let Some(oldest) = oldest else { return Err(Refused::Full(self.cap)) };
            if let Some((old_ip, close)) = st.remove_unauthenticated(oldest) {
                tracing::debug!(peer_ip = %old_ip, "closing the oldest unauthenticated connection to make room");
                close.cancel();
            }
        }
        let id = st.next_id;
        st.next_id += 1;
        st.open += 1;
        let close = CancellationToken::new();
        st.unauthenticated.insert(id, (ip, close.clone()));
        *st.per_ip.entry(ip).or_default() += 1;
        Ok(Admission { gate: self.clone(), id, close, authenticated: AtomicBool::new(false) })
    }

    fn release(&self, id: u64, authenticated: bool) {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.open = st.open.saturating_sub(1);
        if !authenticated {
            st.remove_unauthenticated(id);
        }
    }

    fn authenticate(&self, id: u64) {
        let mut st = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.remove_unauthenticated(id);
    }
}

impl GateState {
    fn remove_unauthenticated(&mut self, id: u64) -> Option<(IpAddr, CancellationToken)> {
        let (ip, close) = self.unauthenticated.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        Some((ip, close))
    }
}

/// One admitted connection's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<Gate>,
    id: u64,
    close: CancellationToken,
    authenticated: AtomicBool,
}

impl Admission {
    /// Marks the connection authenticated: it no longer counts against its IP and is never
    /// evicted.
    pub fn authenticated(&self) {
        if !self.authenticated.swap(true, Ordering::AcqRel) {
            self.gate.authenticate(self.id);
        }
    }

    /// Fires when the gate evicts this connection to make room.
    pub fn evicted(&self) -> &CancellationToken {
        &self.close
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate.release(self.id, self.authenticated.load(Ordering::Acquire));
    }
}

/// A connection's slot and in-flight count, put in each request's extensions so that a tunnel
/// holds both while it lives (an HTTP/1 tunnel outlives its connection's HTTP task).
#[derive(Debug, Clone)]
pub struct Slot {
    admission: Arc<Admission>,
    activity: Arc<Activity>,
}

/// Held by a tunnel: its connection keeps its slot and is not idle.
#[derive(Debug)]
pub struct Held {
    _admission: Arc<Admission>,
    _busy: Busy,
}

impl Slot {
    /// The slot of a connection.
    pub fn new(admission: Arc<Admission>, activity: Arc<Activity>) -> Self {
        Self { admission, activity }
    }

    /// Marks the slot's connection authenticated (a CONNECT on it was answered `200`).
    pub fn authenticated(&self) {
        self.admission.authenticated();
    }

    /// Holds the slot and marks the connection busy until the result drops.
    pub fn hold(&self) -> Held {
        Held { _admission: self.admission.clone(), _busy: self.activity.busy() }
    }
}

/// A CancellationToken that also fires after `limit` (a tunnel's `timeout_write`).
pub fn with_deadline(token: CancellationToken, limit: Option<Duration>) -> CancellationToken {
    if let Some(limit) = limit {
        let t = token.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(limit) => t.cancel(),
                () = t.cancelled() => {}
            }
        });
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn per_ip_cap_counts_only_unauthenticated_and_only_under_pressure() {
        let gate = Arc::new(Gate { cap: 8, per_ip: 2, state: Mutex::default() });
        let a = gate.admit(ip(2)).unwrap();
        let b = gate.admit(ip(2)).unwrap();
        let _c = gate.admit(ip(2)).expect("a burst from one IP is admitted while half the slots are free");
        let _d = gate.admit(ip(3)).unwrap();
        assert_eq!(
            gate.admit(ip(2)).unwrap_err(),
            Refused::PerIp(2),
            "with half the slots taken, one IP cannot hold more than its unauthenticated share"
        );
        assert!(gate.admit(ip(4)).is_ok(), "another IP is not affected");
        a.authenticated();
        b.authenticated();
        assert!(gate.admit(ip(2)).is_ok(), "authenticated connections free their IP's share");
    }

    #[test]
    fn full_gate_evicts_the_oldest_unauthenticated() {
        let gate = Arc::new(Gate { cap: 2, per_ip: 10, state: Mutex::default() });
        let old = gate.admit(ip(2)).unwrap();
        let authed = gate.admit(ip(2)).unwrap();
        authed.authenticated();
        let new = gate.admit(ip(1)).unwrap();
        assert!(old.evicted().is_cancelled(), "the oldest unauthenticated connection is closed to make room");
        assert!(!authed.evicted().is_cancelled(), "an authenticated connection is never evicted");
        drop(old);
        new.authenticated();
        assert_eq!(gate.admit(ip(1)).unwrap_err(), Refused::Full(2), "nothing left to evict: refused");
    }
}
