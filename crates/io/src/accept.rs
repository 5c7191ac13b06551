//! The accept loop both servers run: the tunnel's local listener and the gateway. It accepts
//! until a cancellation token fires, sets `TCP_NODELAY`, and hands each connection to the
//! caller; a failed `accept` (out of file descriptors, and the like) never ends it, it backs off
//! ([`AcceptErrors`]). What to admit stays with each caller: the tunnel waits for a free slot
//! before accepting (`slot`), the gateway decides per client address after (`serve`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Accepts on `listener` until `cancel` fires (the listener is closed when this returns).
///
/// Before each accept it waits for `slot()`, the caller's cap (a semaphore permit, or
/// `std::future::ready(Some(()))` for none); `None` ends the loop. Each connection goes to
/// `serve` with its slot, which spawns what serves it: `serve` itself must not wait. A failed
/// accept keeps the slot and is retried after [`AcceptErrors::failed`]'s delay.
///
/// # Cancel safety
/// Dropping the future stops accepting; nothing is lost but connections still in the kernel's
/// backlog, which close with the listener.
pub async fn accept_loop<T, W, F, S>(listener: TcpListener, cancel: &CancellationToken, mut slot: W, mut serve: S)
where
    W: FnMut() -> F,
    F: Future<Output = Option<T>>,
    S: FnMut(T, TcpStream, SocketAddr),
{
    let mut errors = AcceptErrors::default();
    loop {
        let held = tokio::select! {
            s = slot() => match s {
                Some(s) => s,
                None => return,
            },
            () = cancel.cancelled() => return,
        };
        let (tcp, addr) = loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                () = cancel.cancelled() => return,
            };
            match accepted {
                Ok(x) => break x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    let delay = errors.failed(&e);
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = cancel.cancelled() => return,
                    }
                }
            }
        };
        errors.succeeded();
        let _ = tcp.set_nodelay(true);
        serve(held, tcp, addr);
    }
}

/// The accept loop's answer to `accept` errors (out of file descriptors, and the like):
/// exponential backoff from 5 ms to 1 s, and one log line per 10 s with the count.
#[derive(Debug)]
pub struct AcceptErrors {
    delay: Duration,
    unreported: u64,
    last_report: Option<tokio::time::Instant>,
}

impl Default for AcceptErrors {
    fn default() -> Self {
        Self { delay: Self::FIRST, unreported: 0, last_report: None }
    }
}

impl AcceptErrors {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);
    const REPORT_EVERY: Duration = Duration::from_secs(10);

    /// Records a failed `accept`; returns how long to wait before the next one.
    pub fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.unreported += 1;
        let now = tokio::time::Instant::now();
        if self.last_report.is_none_or(|t| now.duration_since(t) >= Self::REPORT_EVERY) {
            tracing::warn!(
                error = %error,
                count = self.unreported,
                "accept failed (count: failures since the last report; backing off up to 1 s)"
            );
            self.unreported = 0;
            self.last_report = Some(now);
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(Self::MAX);
        delay
    }

    /// Records a successful `accept`: the backoff starts over.
    pub fn succeeded(&mut self) {
        self.delay = Self::FIRST;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
    use tokio::sync::{OwnedSemaphorePermit, Semaphore};
    use tokio::task::JoinHandle;
    use tokio::time::timeout;

    use super::*;

    /// Patience for anything that happens at once (the machine may be busy).
    const WAIT: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_and_report_once_per_interval() {
        let mut errs = AcceptErrors::default();
        let e = std::io::Error::other("too many open files");
        let delays: Vec<Duration> = (0..10).map(|_| errs.failed(&e)).collect();
        assert_eq!(delays[0], Duration::from_millis(5));
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(*delays.last().unwrap(), Duration::from_secs(1), "the backoff is capped at 1 s");
        assert_eq!(errs.unreported, 9, "only the first failure of the interval was logged");
        tokio::time::advance(Duration::from_secs(10)).await;
        errs.failed(&e);
        assert_eq!(errs.unreported, 0, "the next interval logs again with the count");
        errs.succeeded();
        assert_eq!(errs.failed(&e), Duration::from_millis(5), "a success resets the backoff");
    }

    /// Runs the loop on a fresh listener with a one-permit semaphore as the slot; served
    /// connections (with their permits) come out of the channel.
    async fn one_slot_loop(
        cancel: CancellationToken,
    ) -> (SocketAddr, Arc<Semaphore>, UnboundedReceiver<(OwnedSemaphorePermit, TcpStream)>, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let slots = Arc::new(Semaphore::new(1));
        let (tx, rx) = unbounded_channel();
        let s = slots.clone();
        let task = tokio::spawn(async move {
            let slot = || {
                let s = s.clone();
                async move { s.acquire_owned().await.ok() }
            };
            accept_loop(listener, &cancel, slot, |permit, tcp, _| tx.send((permit, tcp)).unwrap()).await;
        });
        (addr, slots, rx, task)
    }

    #[tokio::test]
    async fn each_connection_comes_with_a_slot_and_no_slot_ends_the_loop() {
        let (addr, slots, mut rx, task) = one_slot_loop(CancellationToken::new()).await;
        let _first = TcpStream::connect(addr).await.unwrap();
        let (permit, served) = timeout(WAIT, rx.recv()).await.unwrap().unwrap();
        assert!(served.nodelay().unwrap(), "TCP_NODELAY is set on every accepted connection");
        let _second = TcpStream::connect(addr).await.unwrap();
        drop(permit);
        let (_permit, _) = timeout(WAIT, rx.recv()).await.expect("a freed slot lets the next connection in").unwrap();
        slots.close();
        timeout(WAIT, task).await.expect("no slot to be had (None) ends the loop").unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed when the loop ends");
    }

    #[tokio::test]
    async fn cancel_ends_the_loop_while_it_waits() {
        let cancel = CancellationToken::new();
        let (addr, _slots, mut rx, task) = one_slot_loop(cancel.clone()).await;
        let _first = TcpStream::connect(addr).await.unwrap();
        let _held = timeout(WAIT, rx.recv()).await.unwrap().unwrap();
        cancel.cancel();
        timeout(WAIT, task).await.expect("waiting for a slot, the loop still ends on cancel").unwrap();
        let (addr, _slots, _rx, task) = one_slot_loop(cancel.clone()).await;
        timeout(WAIT, task).await.expect("an already cancelled token ends it before any accept").unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed when the loop ends");
    }
}
