//! Showing a tunnel's events: one line each on stderr (the first says where it listens), or
//! one JSON object per line with `--json`. stdout stays free for `--listen -` data.

use porthole_tunnel::events::{DatagramCounts, TunnelEvent};
use tokio::sync::broadcast;

/// Renders events and warnings.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    json: bool,
    no_browser: bool,
}

impl Printer {
    /// A printer for `--json` and `--no-browser`.
    pub fn new(json: bool, no_browser: bool) -> Self {
        Self { json, no_browser }
    }

    /// A warning, once.
    pub fn warn(&self, message: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "event": "warning", "message": message }));
        } else {
            eprintln!("warning: {message}");
        }
    }

    /// Prints events until the channel closes. `deferred` warnings are printed right after the
    /// `listening on` line (which stays the first line), or first when there is no listener.
    pub async fn run(self, mut rx: broadcast::Receiver<TunnelEvent>, deferred: Vec<String>, listener: bool) {
        let mut deferred = Some(deferred);
        if !listener {
            for w in deferred.take().unwrap_or_default() {
                self.warn(&w);
            }
        }
        loop {
            match rx.recv().await {
                Ok(event) => {
                    self.print(&event);
                    if matches!(event, TunnelEvent::Listening { .. }) {
                        for w in deferred.take().unwrap_or_default() {
                            self.warn(&w);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.warn(&format!("{n} events were not shown (too many at once)"))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn print(&self, event: &TunnelEvent) {
        // The login a connection waits on was announced once, by the connection that started it.
        if matches!(event, TunnelEvent::LoginPending { .. }) {
            return;
        }
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                eprintln!("{line}");
            }
            return;
        }
        eprintln!("{}", self.line(event));
    }

    /// The human line for an event.
    pub fn line(&self, event: &TunnelEvent) -> String {
        match event {
            TunnelEvent::Listening { addr } => format!("listening on {addr}"),
            TunnelEvent::Connecting { peer_addr, .. } => format!("{peer_addr}: connecting"),
            TunnelEvent::AuthRequired { url, .. } if self.no_browser => {
                format!("login required: open this URL in a browser to log in:\n\n    {url}\n")
            }
            TunnelEvent::AuthRequired { url, .. } => {
                format!("login required: your browser has been opened to visit:\n\n    {url}\n")
            }
            TunnelEvent::LoginPending { url: Some(url), .. } => format!("waiting for the login in progress: {url}"),
            TunnelEvent::LoginPending { origin, url: None } => format!("the login to {origin} it waited for ended"),
            TunnelEvent::LoginCompleted { origin } => format!("logged in to {origin}"),
            TunnelEvent::LoginFailed { origin, message } => format!("login to {origin} failed: {message}"),
            TunnelEvent::Connected { peer_addr, transport, .. } => format!("{peer_addr}: connected via {transport}"),
            TunnelEvent::Disconnected { peer_addr, error: Some(e), datagrams, .. } => {
                format!("{peer_addr}: {e}{}", datagrams.map(counts).unwrap_or_default())
            }
            TunnelEvent::Disconnected { peer_addr, bytes_up, bytes_down, datagrams: Some(d), .. } => format!(
                "{peer_addr}: disconnected (sent {} datagrams, {}; received {} datagrams, {}; dropped {})",
                d.up,
                bytes(*bytes_up),
                d.down,
                bytes(*bytes_down),
                d.dropped
            ),
            TunnelEvent::Disconnected { peer_addr, bytes_up, bytes_down, .. } => {
                format!("{peer_addr}: disconnected (sent {}, received {})", bytes(*bytes_up), bytes(*bytes_down))
            }
            TunnelEvent::Revoked { peer_addr, message, .. } => format!("{peer_addr}: {message}"),
            TunnelEvent::Closed => "listener closed".into(),
        }
    }
}

fn counts(d: DatagramCounts) -> String {
    format!(" ({} datagrams sent, {} received, {} dropped)", d.up, d.down, d.dropped)
}

fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}
