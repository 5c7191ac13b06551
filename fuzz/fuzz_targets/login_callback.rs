//! Fuzz target `login_callback`: see `porthole_fuzz::login_callback`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::login_callback(data));
