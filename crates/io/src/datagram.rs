//! What both ends count about a UDP tunnel: datagrams and bytes each way, and datagrams
//! dropped (over the maximum, for another context id, or while the tunnel was not ready).
//! A datagram is never split: one that does not fit is dropped and counted here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counts of one UDP tunnel, shared by its tasks (relaxed atomics: totals, not a clock).
#[derive(Debug, Default)]
pub struct Counters {
    datagrams_up: AtomicU64,
    datagrams_down: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    dropped: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Datagrams local → remote.
    pub datagrams_up: u64,
    /// Datagrams remote → local.
    pub datagrams_down: u64,
    /// Payload bytes local → remote.
    pub bytes_up: u64,
    /// Payload bytes remote → local.
    pub bytes_down: u64,
    /// Datagrams dropped, either way: over the maximum, another context id, no room.
    pub dropped: u64,
}

impl Counters {
    /// New zeroed counters.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// One datagram of `len` payload bytes went local → remote.
    pub fn add_up(&self, len: usize) {
        self.datagrams_up.fetch_add(1, Ordering::Relaxed);
        self.bytes_up.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// One datagram of `len` payload bytes went remote → local.
    pub fn add_down(&self, len: usize) {
        self.datagrams_down.fetch_add(1, Ordering::Relaxed);
        self.bytes_down.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// One datagram was dropped.
    pub fn add_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    #[must_use]
    pub fn get(&self) -> Counts {
        Counts {
            datagrams_up: self.datagrams_up.load(Ordering::Relaxed),
            datagrams_down: self.datagrams_down.load(Ordering::Relaxed),
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}
