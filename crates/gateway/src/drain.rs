//! Graceful shutdown: stop accepting, answer new CONNECTs on open connections `503`, let live
//! tunnels run until they end or the drain time runs out (or a second signal comes), then cut
//! the rest and say how many finished and how many were cut.

use std::future::Future;
use std::time::Duration;

use crate::server::Running;

/// Time the cut tunnels and closing connections get to finish their last writes and logs.
const CUT_GRACE: Duration = Duration::from_secs(3);

/// How a drain went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Tunnels that ended on their own during the drain.
    pub finished: usize,
    /// Tunnels still open when it ended, closed by the gateway.
    pub cut: usize,
}

/// Why the drain stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    AllEnded,
    TimeRanOut,
    Interrupted,
}

impl Running {
    /// Stops accepting and drains: live tunnels run until they end, `limit` passes, or
    /// `interrupt` resolves (a second signal); then every tunnel left is cut. New CONNECTs on
    /// connections still open are answered `503`. Logs one line with the counts.
    pub async fn drain(self, limit: Duration, interrupt: impl Future<Output = ()>) -> Drained {
        let tunnels = self.shared.tunnels.clone();
        self.shared.cancel.cancel();
        self.tracker.close();
        let at_start = tunnels.len();
        let over = tokio::select! {
            () = tunnels.all_ended() => Over::AllEnded,
            () = tokio::time::sleep(limit) => Over::TimeRanOut,
            () = interrupt => Over::Interrupted,
        };
        let cut = tunnels.len();
        tunnels.cut();
        let _ = tokio::time::timeout(CUT_GRACE, self.tracker.wait()).await;
        let drained = Drained { finished: at_start.saturating_sub(cut), cut };
        let why = match over {
            Over::AllEnded => "every tunnel ended".to_owned(),
            Over::TimeRanOut => format!("the drain time ({}) ran out", humantime::format_duration(limit)),
            Over::Interrupted => "a second signal cut it short".to_owned(),
        };
        tracing::info!(
            finished = drained.finished,
            cut = drained.cut,
            "drain over ({why}): {} tunnel(s) finished, {} cut",
            drained.finished,
            drained.cut
        );
        drained
    }

    /// Stops accepting, lets open tunnels run for up to `drain`, then cuts the rest.
    pub async fn shutdown(self, drain: Duration) {
        self.drain(drain, std::future::pending()).await;
    }
}
