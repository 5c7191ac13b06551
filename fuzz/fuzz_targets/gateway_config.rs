//! Fuzz target `gateway_config`: see `porthole_fuzz::gateway_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::gateway_config(data));
