//! The window's link to `portholed` (Linux): attach over the socket, starting `portholed` when
//! it is not running; calls with ids answered in any order; pushes (events, show, exit) carried
//! out on the window ([`spawn_pushes`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use porthole_client::error::AppError;
use porthole_desktop_core::ipc::{self, ToCore, ToWindow, gone};
use serde_json::Value;
use tauri::{AppHandle, Emitter as _, Runtime};
use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

/// How long a `portholed` just started has to answer.
const START_WITHIN: Duration = Duration::from_secs(10);
/// The log of `portholed` is started afresh past this size.
const LOG_CAP: u64 = 8 * 1024 * 1024;

type Calls = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, AppError>>>>>;

/// An attached window's side of the socket.
pub struct Remote {
    tx: mpsc::UnboundedSender<ToCore>,
    calls: Calls,
    next: AtomicU64,
    /// `portholed` has a tray: closing the window leaves the app running.
    pub tray: bool,
}

/// How attaching went.
pub enum Attached {
    /// This window is the app's window; the pushes to carry out come on the receiver.
    Window(Remote, mpsc::UnboundedReceiver<ToWindow>),
    /// Another window is open (now in front): this process should end.
    Busy,
}

impl Remote {
    /// Runs `cmd` in `portholed`.
    ///
    /// # Errors
    /// The command's error, or [`gone`] when `portholed` stopped.
    pub async fn call(&self, cmd: &str, args: Value) -> Result<Value, AppError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.calls).insert(id, tx);
        if self.tx.send(ToCore::Call { id, cmd: cmd.to_owned(), args }).is_err() {
            lock(&self.calls).remove(&id);
            return Err(gone());
        }
        rx.await.unwrap_or_else(|_| Err(gone()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Attaches to `portholed`, starting it first when nobody answers on its socket.
///
/// # Errors
/// A sentence: `portholed` could not be started, or did not answer.
pub async fn attach() -> Result<Attached, String> {
    let path = ipc::socket_path();
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(_) => {
            start_daemon().map_err(|e| format!("cannot start its background process portholed: {e}"))?;
            let deadline = Instant::now() + START_WITHIN;
            loop {
                match UnixStream::connect(&path).await {
                    Ok(s) => break s,
                    Err(e) if Instant::now() >= deadline => {
                        return Err(format!(
                            "its background process portholed did not answer on {} within {} s ({e}); its log is {}",
                            path.display(),
                            START_WITHIN.as_secs(),
                            log_path().display()
                        ));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    };
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    ipc::write(&mut w, &ToCore::Hello).await.map_err(|e| format!("portholed: {e}"))?;
    let tray = match tokio::time::timeout(START_WITHIN, ipc::read::<ToWindow, _>(&mut r, &mut buf)).await {
        Ok(Ok(Some(ToWindow::Welcome { tray }))) => tray,
        Ok(Ok(Some(ToWindow::Busy))) => return Ok(Attached::Busy),
        Ok(Ok(other)) => return Err(format!("portholed answered {other:?} to hello")),
        Ok(Err(e)) => return Err(format!("portholed: {e}")),
        Err(_) => return Err("portholed did not answer".into()),
    };
    let (tx, rx) = mpsc::unbounded_channel::<ToCore>();
    tauri::async_runtime::spawn(ipc::write_all(rx, w));
    let calls = Calls::default();
    let (push_tx, push_rx) = mpsc::unbounded_channel();
    let waiting = calls.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match ipc::read::<ToWindow, _>(&mut r, &mut buf).await {
                Ok(Some(ToWindow::Reply { id, result })) => {
                    if let Some(tx) = lock(&waiting).remove(&id) {
                        let _ = tx.send(result);
                    }
                }
                Ok(Some(push)) => {
                    let _ = push_tx.send(push);
                }
                Ok(None) | Err(_) => break,
            }
        }
        tracing::warn!("portholed went away: the window closes");
        lock(&waiting).clear();
        let _ = push_tx.send(ToWindow::Exit);
    });
    Ok(Attached::Window(Remote { tx, calls, next: AtomicU64::new(1), tray }, push_rx))
}

/// Carries out what `portholed` pushes: events to the page, show, exit.
pub fn spawn_pushes<R: Runtime>(app: AppHandle<R>, mut pushes: mpsc::UnboundedReceiver<ToWindow>) {
    tauri::async_runtime::spawn(async move {
        while let Some(push) = pushes.recv().await {
            match push {
                ToWindow::Event { name, payload } => {
                    let _ = app.emit(&name, payload);
                }
                ToWindow::Show { route } => crate::window::show(&app, route.as_deref()),
                ToWindow::Exit => {
                    app.exit(0);
                    return;
                }
                ToWindow::Welcome { .. } | ToWindow::Busy | ToWindow::Reply { .. } => {}
            }
        }
    });
}

/// `portholed`'s log: `<cache>/portholed.log`.
fn log_path() -> PathBuf {
    porthole_client::tokens::cache_location().join("portholed.log")
}

/// Starts `portholed` (next to this binary) in a process group of its own, so it outlives
/// this window (and a Ctrl-C in the terminal that started it); its output goes to its log.
fn start_daemon() -> std::io::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let exe = porthole_desktop_core::sibling_binary(porthole_desktop_core::DAEMON_BINARY)?;
    let log = log_path();
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let fresh = std::fs::metadata(&log).is_ok_and(|m| m.len() > LOG_CAP);
    let file = std::fs::OpenOptions::new().create(true).append(!fresh).write(true).truncate(fresh).open(&log)?;
    let mut child = std::process::Command::new(&exe)
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", exe.display())))?;
    tracing::info!(pid = child.id(), log = %log.display(), "started portholed");
    std::thread::spawn(move || child.wait());
    Ok(())
}
