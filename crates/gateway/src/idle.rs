//! `timeout_idle` for a downstream connection: how many requests (and HTTP/2 tunnels) are in
//! flight on it, and a future that resolves once it has had none for the idle timeout.
//!
//! hyper has no idle timer of its own for a server connection: HTTP/1 waits for the next
//! request forever (only its head timer, `timeout_read`, runs), and HTTP/2 keeps a connection
//! without streams open as long as the peer answers PINGs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The in-flight count of one connection.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    idle_since: Instant,
}

/// One request or tunnel in flight; dropping it ends it.
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Activity {
    /// A connection that has been idle since now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(State { in_flight: 0, idle_since: Instant::now() }), changed: Notify::new() })
    }

    /// Marks a request or tunnel in flight until the returned guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.lock().in_flight += 1;
        self.changed.notify_waiters();
        Busy(self.clone())
    }

    /// Resolves once nothing has been in flight for `limit`; never when `limit` is `None`.
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads the state.
    pub async fn idle_for(&self, limit: Option<Duration>) {
        let Some(limit) = limit else { return std::future::pending().await };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let deadline = {
                let st = self.lock();
                (st.in_flight == 0).then(|| st.idle_since + limit)
            };
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => return,
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        if st.in_flight == 0 {
            st.idle_since = Instant::now();
        }
        drop(st);
        self.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_counts_from_the_end_of_the_last_request() {
        let activity = Activity::new();
        let limit = Some(Duration::from_secs(300));
        let busy = activity.busy();
        let watch = activity.clone();
        let idle = tokio::spawn(async move {
            watch.idle_for(limit).await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert!(!idle.is_finished(), "a connection with a request in flight is never idle");
        let released = Instant::now();
        drop(busy);
        let fired = idle.await.unwrap();
        assert_eq!(fired - released, Duration::from_secs(300), "idle fires timeout_idle after the last request ended");
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_never_fires() {
        let activity = Activity::new();
        let r = tokio::time::timeout(Duration::from_secs(86_400), activity.idle_for(None)).await;
        assert!(r.is_err(), "timeout_idle: 0 disables the idle timeout");
    }
}
