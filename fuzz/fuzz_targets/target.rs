//! Fuzz target `target`: see `porthole_fuzz::target`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::target(data));
