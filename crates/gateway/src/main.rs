//! `porthole-gateway --config FILE`.
fn main() {}
