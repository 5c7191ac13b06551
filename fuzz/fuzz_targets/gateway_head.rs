//! Fuzz target `gateway_head`: see `porthole_fuzz::gateway_head`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::gateway_head(data));
