//! Process-wide pools of large byte buffers, lent only while bytes are in flight: an idle
//! connection holds no 64 KiB buffer, so a thousand idle tunnels do not pin a thousand touched
//! buffers (the idle-memory target in `bench/`), while a busy one reuses warm memory.

use std::sync::Mutex;

/// A pool of equally sized buffers.
#[derive(Debug)]
pub struct Pool {
    size: usize,
    max: usize,
    free: Mutex<Vec<Box<[u8]>>>,
}

impl Pool {
    /// A pool of `size`-byte buffers that keeps at most `max` of them for reuse.
    #[must_use]
    pub const fn new(size: usize, max: usize) -> Self {
        Self { size, max, free: Mutex::new(Vec::new()) }
    }

    /// The size of every buffer this pool lends.
    #[must_use]
    pub const fn size(&self) -> usize {
        self.size
    }

    /// A buffer of [`Pool::size`] bytes: a pooled one if there is one, else a fresh one.
    #[must_use]
    pub fn take(&self) -> Box<[u8]> {
        let pooled = self.free.lock().ok().and_then(|mut free| free.pop());
        pooled.unwrap_or_else(|| vec![0u8; self.size].into_boxed_slice())
    }

    /// Returns a buffer for reuse (dropped when the pool is full or it has another size).
    pub fn give_back(&self, buf: Box<[u8]>) {
        if buf.len() != self.size {
            return;
        }
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.max
        {
            free.push(buf);
        }
    }

    /// Buffers waiting for reuse.
    #[must_use]
    pub fn idle(&self) -> usize {
        self.free.lock().map(|free| free.len()).unwrap_or(0)
    }
}
