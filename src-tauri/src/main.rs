//! `porthole-desktop`: starts the app (all the work is in the library, so tests can drive it).
#![forbid(unsafe_code)]
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    porthole_desktop::run();
}
