//! Fuzz target `policy`: see `porthole_fuzz::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::policy(data));
