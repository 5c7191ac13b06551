//! What the end-to-end suites share beyond `porthole-testkit` (which builds the gateway,
//! [`porthole_testkit::gateway::TestGateway`], and owns the child-process and polling
//! helpers): running `porthole` against a test gateway, a real `sshd`, the desktop app
//! under WebDriver, reading its tray over the session bus ([`sni`]), and `redis-cli` ([`redis`]).
//!
//! The suites themselves live in `tests/tests/*.rs`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod desktop;
pub mod live;
pub mod redis;
pub mod sni;
pub mod sshd;
pub mod webdriver;
