//! Fuzz target `desktop_import`: see `porthole_fuzz::desktop_import`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::desktop_import(data));
