//! A connection's log: tunnel events as sentences a person can read, kept in a ring of the
//! last [`LOG_CAPACITY`] lines.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use porthole_tunnel::auth::Browser;
use porthole_tunnel::events::TunnelEvent;

use crate::model::{LogEntry, LogLevel};

/// Lines kept per connection.
pub const LOG_CAPACITY: usize = 500;

/// The last [`LOG_CAPACITY`] lines, oldest first.
#[derive(Debug, Default, Clone)]
pub struct LogRing {
    lines: VecDeque<LogEntry>,
}

impl LogRing {
    /// Appends `entry`, dropping the oldest line when full.
    pub fn push(&mut self, entry: LogEntry) {
        if self.lines.len() == LOG_CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(entry);
    }

    /// The lines, oldest first.
    pub fn to_vec(&self) -> Vec<LogEntry> {
        self.lines.iter().cloned().collect()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    ms_since_epoch(SystemTime::now())
}

/// `at` in milliseconds since the Unix epoch (0 before it).
pub fn ms_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A line of `level` now.
pub fn entry(level: LogLevel, message: impl Into<String>, peer: Option<String>) -> LogEntry {
    LogEntry { ts_ms: now_ms(), level, message: message.into(), peer }
}

/// The line for `event`, if it deserves one, in the desktop's words (a failure with a cause is
/// worded by [`crate::wording`], never with a CLI flag). `browser` says how the login URL was
/// shown; `ctx` what the profile was given.
pub fn describe(event: &TunnelEvent, browser: &Browser, ctx: &crate::wording::Context) -> Option<LogEntry> {
    Some(match event {
        TunnelEvent::Listening { addr } => entry(LogLevel::Info, format!("listening on {addr}"), None),
        // The login it waits on has its own lines (from the connection that started it).
        TunnelEvent::Connecting { .. } | TunnelEvent::LoginPending { .. } => return None,
        TunnelEvent::AuthRequired { url, .. } => {
            let message = match browser {
                Browser::Print => format!("login required — open {url}"),
                _ => "login required — opened your browser".to_owned(),
            };
            entry(LogLevel::Info, message, None)
        }
        TunnelEvent::LoginCompleted { origin } => entry(LogLevel::Info, format!("logged in to {origin}"), None),
        TunnelEvent::LoginFailed { origin, .. } => {
            entry(LogLevel::Error, format!("the login to {origin} failed"), None)
        }
        TunnelEvent::Connected { peer_addr, .. } => {
            entry(LogLevel::Info, format!("{peer_addr} connected"), Some(peer_addr.to_string()))
        }
        TunnelEvent::Disconnected { peer_addr, cause: Some(cause), .. } => {
            entry(LogLevel::Error, crate::wording::describe(cause, ctx).0, Some(peer_addr.to_string()))
        }
        TunnelEvent::Disconnected { peer_addr, bytes_up, bytes_down, error, .. } => match error {
            Some(sentence) => entry(LogLevel::Error, sentence.clone(), Some(peer_addr.to_string())),
            None => entry(
                LogLevel::Info,
                format!(
                    "{peer_addr} disconnected (sent {}, received {})",
                    human_bytes(*bytes_up),
                    human_bytes(*bytes_down)
                ),
                Some(peer_addr.to_string()),
            ),
        },
        TunnelEvent::Revoked { peer_addr, cause, .. } => {
            entry(LogLevel::Error, crate::wording::describe(cause, ctx).0, Some(peer_addr.to_string()))
        }
        TunnelEvent::Closed => entry(LogLevel::Info, "stopped listening", None),
    })
}

/// `512 B`, `1.2 KiB`, `3 KiB`, `4.5 MiB`, …
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1229), "1.2 KiB");
        assert_eq!(human_bytes(3072), "3 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5 MiB");
    }

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        let mut ring = LogRing::default();
        for i in 0..(LOG_CAPACITY + 10) {
            ring.push(entry(LogLevel::Info, i.to_string(), None));
        }
        let lines = ring.to_vec();
        assert_eq!(lines.len(), LOG_CAPACITY);
        assert_eq!(lines[0].message, "10", "the oldest lines go first");
    }
}
