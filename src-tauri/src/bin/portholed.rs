//! `portholed`: Porthole Desktop with its window closed (the tunnels, the tray, notifications),
//! serving the window process over a local socket. On Linux the window starts it; elsewhere the
//! window process is the whole app and this only says so.
#![forbid(unsafe_code)]

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    porthole_desktop_core::daemon::run()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("portholed runs on Linux only; start porthole-desktop, which is the whole app here.");
    std::process::ExitCode::FAILURE
}
