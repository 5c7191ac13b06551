//! End-to-end suites live in `tests/tests/*.rs`; this library holds what they share.
#![forbid(unsafe_code)]
