//! `portholed`: the app with its window closed. It owns the tunnels ([`App`]), the tray and
//! notifications, serves the window over [`crate::ipc`], and starts the window process when the
//! tray, a notification or a second launch asks for it. Without a tray, the window closing ends
//! it (as closing the window quits a one-process app).
//!
//! One window at a time: a second window that says hello is told [`ToWindow::Busy`] (the first
//! is brought to the front), which is how a second launch of the app shows the running one.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use porthole_client::app::App;
use tokio::io::BufReader;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, Semaphore, mpsc};

use crate::ipc::{self, ToCore, ToWindow};
use crate::{Cx, Shell};

/// How long a new peer has to say hello.
const HELLO_WITHIN: Duration = Duration::from_secs(5);
/// Calls one window may have running at once.
const CALLS_AT_ONCE: usize = 64;
/// Peers served at once (the window, a second launch, and whatever else of the user's knocks);
/// one more is closed at once.
pub const PEERS_AT_ONCE: usize = 16;
/// A window process started this recently and not yet attached is not started again.
const SPAWN_GRACE: Duration = Duration::from_secs(15);

/// Runs `portholed` until it quits.
pub fn run() -> ExitCode {
    crate::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve());
    // Tunnels and their tasks end with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

/// Binds the socket, opens the app and serves windows until quit or SIGTERM/SIGINT. Started on
/// its own (a user service, say), it runs the saved connections that start at launch and the
/// tray, and opens no window until asked.
async fn serve() -> ExitCode {
    let path = ipc::socket_path();
    let listener = match bind(&path).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            tracing::info!(socket = %path.display(), "portholed already runs for this folder");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            tracing::error!(socket = %path.display(), error = %e, "cannot listen for the window");
            return ExitCode::FAILURE;
        }
    };
    let core = match App::open(crate::options()) {
        Ok(core) => core,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the app");
            let _ = std::fs::remove_file(&path);
            return ExitCode::FAILURE;
        }
    };
    let slot = Arc::new(OnceLock::new());
    let tray = make_tray(&core, &slot).await;
    let shell = Arc::new(DaemonShell {
        core: core.clone(),
        tray,
        state: Mutex::new(WindowState::default()),
        quit: Notify::new(),
    });
    let cx = Cx { core: core.clone(), shell: shell.clone() };
    let _ = slot.set(cx.clone());
    crate::forward::spawn(cx.clone());
    let started = core.clone();
    tokio::spawn(async move { started.autostart_all().await });
    tracing::info!(socket = %path.display(), tray = shell.has_tray(), "portholed is ready");

    // The socket file is ours: its owner is this process's user, the only peer served.
    let owner = std::fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).ok();
    let mut term = signal(tokio::signal::unix::SignalKind::terminate());
    let mut int = signal(tokio::signal::unix::SignalKind::interrupt());
    let peers = Arc::new(Semaphore::new(PEERS_AT_ONCE));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(permit) = peers.clone().try_acquire_owned() else {
                        tracing::warn!("{PEERS_AT_ONCE} peers at once: refused one more");
                        continue;
                    };
                    let (cx, shell) = (cx.clone(), shell.clone());
                    tokio::spawn(async move {
                        window(cx, shell, stream, owner).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = shell.quit.notified() => break,
            _ = recv(&mut term) => break,
            _ = recv(&mut int) => break,
        }
    }
    tracing::info!("portholed quits");
    let _ = std::fs::remove_file(&path);
    ExitCode::SUCCESS
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).ok()
}

async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Listens on `path` (a 0700 folder, a 0600 socket); `None` when a live `portholed` already
/// answers there. A socket file nobody answers is a leftover, and is replaced.
async fn bind(path: &Path) -> std::io::Result<Option<UnixListener>> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Ok(None);
        }
        std::fs::remove_file(path)?;
    }
    // Bound under a temporary name, made 0600, then renamed: the socket never shows at `path`
    // with looser permissions.
    let staged = path.with_extension(format!("{}.new", std::process::id()));
    let _ = std::fs::remove_file(&staged);
    let listener = UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staged, path)?;
    Ok(Some(listener))
}

async fn make_tray(core: &App, slot: &Arc<OnceLock<Cx>>) -> Option<crate::tray::sni::Running> {
    let assume = match crate::tray::wanted() {
        Some(false) => return None,
        Some(true) => true,
        None => false,
    };
    match crate::tray::sni::create(core, slot, assume).await {
        Ok(running) => Some(running),
        Err(e) => {
            tracing::info!(error = %e, "no system tray: the window stays the way in and out");
            None
        }
    }
}

/// The attached window, what waits for it, and the window process started last.
#[derive(Default)]
struct WindowState {
    /// Sends to the attached window.
    window: Option<mpsc::UnboundedSender<ToWindow>>,
    /// For the window being started: the last screen asked for meanwhile.
    pending: Option<ToWindow>,
    /// When a window process was last started (not yet attached).
    spawned: Option<Instant>,
}

/// `portholed`'s side of [`Shell`]: pushes to the attached window, or starts one.
struct DaemonShell {
    core: App,
    tray: Option<crate::tray::sni::Running>,
    state: Mutex<WindowState>,
    quit: Notify,
}

impl DaemonShell {
    fn state(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Attaches a window, with what to show first: `Err(())` when one is attached already (it
    /// is shown instead).
    fn attach(&self, tx: mpsc::UnboundedSender<ToWindow>) -> Result<Option<ToWindow>, ()> {
        let mut state = self.state();
        if let Some(window) = &state.window
            && !window.is_closed()
        {
            let _ = window.send(ToWindow::Show { route: None });
            return Err(());
        }
        state.window = Some(tx);
        state.spawned = None;
        Ok(state.pending.take())
    }

    fn detach(&self, tx: &mpsc::UnboundedSender<ToWindow>) {
        let mut state = self.state();
        if state.window.as_ref().is_some_and(|w| w.same_channel(tx)) {
            state.window = None;
        }
    }
}

impl Shell for DaemonShell {
    fn show(&self, route: Option<&str>) {
        let mut state = self.state();
        let msg = ToWindow::Show { route: route.map(str::to_owned) };
        if let Some(window) = &state.window
            && window.send(msg.clone()).is_ok()
        {
            return;
        }
        if state.spawned.is_some_and(|at| at.elapsed() < SPAWN_GRACE) {
            state.pending = Some(msg);
            return;
        }
        state.pending = None;
        match spawn_window(route) {
            Ok(()) => state.spawned = Some(Instant::now()),
            Err(e) => tracing::error!(error = %e, "cannot start the window"),
        }
    }

    fn emit(&self, name: &str, payload: serde_json::Value) {
        let state = self.state();
        let msg = ToWindow::Event { name: name.to_owned(), payload };
        // With no window, nothing waits: a page loads every state when it opens.
        if let Some(window) = &state.window {
            let _ = window.send(msg);
        }
    }

    fn exit(&self) {
        if let Some(window) = &self.state().window {
            let _ = window.send(ToWindow::Exit);
        }
        self.quit.notify_one();
    }

    fn has_tray(&self) -> bool {
        self.tray.is_some()
    }

    fn refresh_tray(&self) {
        if let Some(tray) = &self.tray {
            tray.refresh(&self.core);
        }
    }
}

/// Starts the window process (it attaches over the socket), on `route` when given.
fn spawn_window(route: Option<&str>) -> std::io::Result<()> {
    let mut cmd = tokio::process::Command::new(crate::sibling_binary(crate::WINDOW_BINARY)?);
    if let Some(route) = route {
        cmd.arg("--route").arg(route);
    }
    cmd.stdin(std::process::Stdio::null());
    let mut child = cmd.spawn()?;
    tracing::info!(pid = child.id(), "window started");
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(())
}

/// Serves one window: hello, then calls until it goes. A peer of another user, or one that
/// says nothing within [`HELLO_WITHIN`], is dropped.
async fn window(cx: Cx, shell: Arc<DaemonShell>, stream: UnixStream, owner: Option<u32>) {
    if let (Ok(cred), Some(owner)) = (stream.peer_cred(), owner)
        && cred.uid() != owner
    {
        tracing::warn!(uid = cred.uid(), "refused a peer of another user");
        return;
    }
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    match tokio::time::timeout(HELLO_WITHIN, ipc::read::<ToCore, _>(&mut r, &mut buf)).await {
        Ok(Ok(Some(ToCore::Hello))) => {}
        _ => return,
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let Ok(first) = shell.attach(tx.clone()) else {
        let _ = ipc::write(&mut w, &ToWindow::Busy).await;
        return;
    };
    if ipc::write(&mut w, &ToWindow::Welcome { tray: shell.has_tray() }).await.is_err() {
        shell.detach(&tx);
        return;
    }
    tracing::info!("window attached");
    if let Some(show) = first {
        let _ = tx.send(show);
    }
    let writer = tokio::spawn(ipc::write_all(rx, w));
    let calls = Arc::new(Semaphore::new(CALLS_AT_ONCE));
    loop {
        let msg = match ipc::read::<ToCore, _>(&mut r, &mut buf).await {
            Ok(Some(msg)) => msg,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "the window sent a bad message; detaching it");
                break;
            }
        };
        let ToCore::Call { id, cmd, args } = msg else { continue };
        let Ok(permit) = calls.clone().acquire_owned().await else { break };
        let (cx, tx) = (cx.clone(), tx.clone());
        tokio::spawn(async move {
            let result = crate::commands::dispatch(&cx, &cmd, &args).await;
            let _ = tx.send(ToWindow::Reply { id, result });
            drop(permit);
        });
    }
    shell.detach(&tx);
    drop(tx);
    writer.abort();
    tracing::info!("window detached");
    if !shell.has_tray() {
        // No tray: the window was the only way in, so closing it quits (it asked first).
        shell.exit();
    }
}
