//! Porthole Desktop's window: the web UI in a Tauri window, the commands it invokes
//! ([`backend`]), and the window's life ([`window`]).
//!
//! On Linux the window is a process of its own, a client of `portholed`
//! (`porthole_desktop_core::daemon`), which owns the tunnels, the tray and notifications:
//! closing the window ends this process and leaves only `portholed` (no GTK, no WebKit). Every
//! command goes over the socket ([`remote`]). On macOS and Windows this process is the whole app:
//! the same commands run in-process ([`backend::Backend::Local`]) and Tauri draws the tray
//! ([`tray`]). Everything else lives in `porthole-desktop-core` and `porthole-client`.
#![forbid(unsafe_code)]

pub mod backend;
#[cfg(target_os = "linux")]
pub mod remote;
pub mod shell;
pub mod tray;
pub mod window;

pub use porthole_desktop_core::commands::COMMANDS;
pub use window::MAIN_WINDOW;

/// Adds every command to a builder; `run` and the tests (on Tauri's mock runtime) share it.
/// The commands run on the [`backend::Backend`] the app manages.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(backend::handler())
}

/// The screen to open first: `--route <#/…>` (the tray or a notification asked for it).
fn route_arg() -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != "--route");
    args.next()?;
    args.next().filter(|r| r.starts_with("#/"))
}

/// Runs the desktop app.
///
/// # Panics
/// When the window system cannot start (Tauri's own failure mode).
pub fn run() {
    porthole_desktop_core::init_logging();
    #[cfg(target_os = "linux")]
    run_window();
    #[cfg(not(target_os = "linux"))]
    run_whole_app();
}

/// Linux: attach to `portholed` (starting it when it is not running), then show the window.
#[cfg(target_os = "linux")]
fn run_window() {
    let route = route_arg();
    let (remote, pushes) = match tauri::async_runtime::block_on(remote::attach()) {
        Ok(remote::Attached::Window(remote, pushes)) => (remote, pushes),
        Ok(remote::Attached::Busy) => {
            tracing::info!("Porthole is already open: brought its window to the front");
            return;
        }
        Err(e) => {
            eprintln!("Porthole could not start: {e}");
            std::process::exit(1);
        }
    };
    let lifecycle = window::Lifecycle::new(remote.tray, false);
    with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .manage(backend::Backend::Remote(remote))
        .manage(lifecycle)
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            remote::spawn_pushes(app.handle().clone(), pushes);
            window::show(app.handle(), route.as_deref());
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("error while starting Porthole")
        .run(window::on_run_event);
}

/// macOS and Windows: the window, the tunnels and Tauri's tray in this one process. Compiled on
/// Linux too (only the two plugins Linux leaves to portholed are not), so it does not rot unseen.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn run_whole_app() {
    use tauri::Manager as _;
    let route = route_arg();
    let builder = with_commands(tauri::Builder::default());
    #[cfg(not(target_os = "linux"))]
    let builder = builder
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| window::show(app, None)))
        .plugin(tauri_plugin_notification::init());
    builder
        .plugin(tauri_plugin_dialog::init())
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            let core = porthole_client::app::App::open(porthole_desktop_core::options())?;
            let cx = shell::local(app.handle(), core.clone());
            let has_tray = tray::create(app.handle(), &cx);
            app.manage(window::Lifecycle::new(has_tray, has_tray));
            app.manage(backend::Backend::Local(cx.clone()));
            let _runtime = tauri::async_runtime::handle().inner().enter();
            porthole_desktop_core::forward::spawn(cx);
            tauri::async_runtime::spawn(async move { core.autostart_all().await });
            window::show(app.handle(), route.as_deref());
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("error while starting Porthole")
        .run(window::on_run_event);
}
