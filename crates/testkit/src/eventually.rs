//! Polling with a deadline instead of sleeping: [`eventually`] and [`assert_eventually!`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How long [`eventually`] waits by default, unless `PORTHOLE_TEST_PATIENCE_MS` says otherwise.
pub const DEFAULT_PATIENCE: Duration = Duration::from_secs(10);

/// The pause between two polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The patience to use: `PORTHOLE_TEST_PATIENCE_MS` if set (slow CI), else [`DEFAULT_PATIENCE`].
#[must_use]
pub fn patience() -> Duration {
    std::env::var("PORTHOLE_TEST_PATIENCE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DEFAULT_PATIENCE, Duration::from_millis)
}

/// Polls `condition` every [`POLL_INTERVAL`] until it returns `true` or `within` has passed.
///
/// Returns whether the condition held before the deadline. The condition runs at least once.
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls the fallible `probe` until it returns `Ok` or `within` has passed.
///
/// # Errors
/// When the deadline passes; the error names `what` and the last failure the probe reported.
pub async fn poll_until<T, E, F, Fut>(what: &str, within: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return Ok(value),
            Err(err) if Instant::now() >= deadline => {
                anyhow::bail!("{what}: still failing after {within:?}: {err}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Calls `step` every [`POLL_INTERVAL`] until it returns `Some` (the answer) or an error, for at
/// most `within`: the blocking twin of [`poll_until`], for synchronous tests and process start-ups.
///
/// # Errors
/// `step`'s own error at once, or "did not <what> within …" at the deadline.
pub fn poll_until_blocking<T>(
    what: &str,
    within: Duration,
    mut step: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(done) = step()? {
            return Ok(done);
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "did not {what} within {within:?}");
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Asserts that an async boolean expression becomes true within the test patience.
///
/// `assert_eventually!(cond)` uses [`patience()`]; `assert_eventually!(cond, within = dur)` sets it;
/// a trailing format string and arguments say why the condition must hold.
///
/// ```ignore
/// assert_eventually!(server.connections() == 0, "the server closes idle connections");
/// assert_eventually!(log.contains("ready"), within = Duration::from_secs(2));
/// ```
#[macro_export]
macro_rules! assert_eventually {
    ($cond:expr, within = $within:expr $(,)?) => {
        $crate::assert_eventually!($cond, within = $within, "condition `{}`", stringify!($cond))
    };
    ($cond:expr, within = $within:expr, $($msg:tt)+) => {{
        let within: ::std::time::Duration = $within;
        if !$crate::eventually::eventually(within, || async { $cond }).await {
            panic!("not true within {:?}: {}", within, format!($($msg)+));
        }
    }};
    ($cond:expr $(,)?) => {
        $crate::assert_eventually!($cond, within = $crate::eventually::patience())
    };
    ($cond:expr, $($msg:tt)+) => {
        $crate::assert_eventually!($cond, within = $crate::eventually::patience(), $($msg)+)
    };
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::poll_until_blocking;

    #[test]
    fn blocking_poll_returns_the_first_answer() {
        let mut calls = 0;
        let got = poll_until_blocking("count to 3", Duration::from_secs(5), || {
            calls += 1;
            Ok((calls == 3).then_some(calls * 10))
        });
        assert_eq!(got.unwrap(), 30, "the answer of the third call, and no call after it");
        assert_eq!(calls, 3);
    }

    #[test]
    fn blocking_poll_stops_at_the_first_error_and_at_the_deadline() {
        let mut calls = 0;
        let err = poll_until_blocking::<()>("fail", Duration::from_secs(5), || {
            calls += 1;
            anyhow::bail!("broken")
        });
        assert_eq!(err.unwrap_err().to_string(), "broken", "a step's error is final");
        assert_eq!(calls, 1, "no retry after an error");
        let late = poll_until_blocking::<()>("turn true", Duration::from_millis(50), || Ok(None));
        assert_eq!(late.unwrap_err().to_string(), "did not turn true within 50ms");
    }
}
