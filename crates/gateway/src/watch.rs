//! Watching the config file: editors save by writing a new file and renaming it over the old
//! one (and Kubernetes swaps a `..data` symlink), so the file's *directory* is watched, events
//! naming the file (or `..data`) are kept, and a burst of them becomes one reload
//! [`DEBOUNCE`] after the last.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::reload::{Reloader, Trigger};

/// Quiet time after the last change before the file is read.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Why the config file cannot be watched (the gateway still reloads on SIGHUP).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir} for changes to the config: {source}; reload with SIGHUP instead")]
pub struct WatchError {
    /// The directory.
    pub dir: String,
    /// The cause.
    pub source: notify::Error,
}

/// Reloads through `reloader` whenever its file changes, until `stop` fires. Must be called
/// inside a tokio runtime.
///
/// # Errors
/// [`WatchError`] when the directory cannot be watched (inotify limits, a missing folder).
pub fn watch(reloader: Arc<Reloader>, stop: CancellationToken) -> Result<(), WatchError> {
    let path = reloader.path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => Path::new(".").to_owned(),
    };
    let name: OsString = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    let (tx, rx) = mpsc::channel::<()>(1);
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Our own reads of the file are access events; they must not trigger a reload.
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let ours = event.paths.iter().any(|p| p.file_name().is_some_and(|n| n == name || n == "..data"));
        if ours {
            // Full means a change is already pending: nothing lost.
            let _ = tx.try_send(());
        }
    })
    .map_err(|source| WatchError { dir: dir.display().to_string(), source })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError { dir: dir.display().to_string(), source })?;
    tokio::spawn(debounce(watcher, rx, reloader, stop));
    Ok(())
}

/// One reload per burst of changes; the watcher lives as long as this task.
async fn debounce(
    _watcher: notify::RecommendedWatcher,
    mut changes: mpsc::Receiver<()>,
    reloader: Arc<Reloader>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            got = changes.recv() => if got.is_none() { return },
            () = stop.cancelled() => return,
        }
        // Wait until the file has been quiet for DEBOUNCE.
        loop {
            tokio::select! {
                got = changes.recv() => if got.is_none() { return },
                () = tokio::time::sleep(DEBOUNCE) => break,
                () = stop.cancelled() => return,
            }
        }
        let reloader = reloader.clone();
        // Reading files and building TLS blocks: keep it off the runtime's workers.
        let _ = tokio::task::spawn_blocking(move || reloader.reload(Trigger::FileChanged)).await;
    }
}
