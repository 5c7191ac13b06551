//! Fuzz target `connect_response`: see `porthole_fuzz::connect_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| porthole_fuzz::connect_response(data));
