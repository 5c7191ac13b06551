//! Test support for Porthole (dev-dependency only): certificates, echo servers, a real identity
//! provider, real servers as child processes, and logins with and without a browser.
//!
//! # Layout
//!
//! - [`certs`]: [`TestPki`], a throwaway CA that signs server and client certificates.
//! - [`echo`]: [`EchoServer`], a TCP echo server that keeps half-close.
//! - [`idp`]: [`Idp`], the `oidc-provider` test IdP (`crates/testkit/node/idp.mjs`), its client
//!   and its accounts.
//! - [`login`]: [`LoginClient`], which walks the login redirects and form without a browser.
//! - [`browser`]: the same in headless Chromium through `playwright-core`.
//! - [`callback`]: [`CallbackCatcher`], a stand-in for the CLI's loopback login callback.
//! - [`process`]: `redis-server` and `tinyproxy` children, [`free_port`], [`wait_for_port`].
//! - [`eventually`]: polling with a deadline, and [`assert_eventually!`].
//! - [`openssl`]: OpenSSL's `s_server` / `s_client` as children, and RSA certificates.
//! - [`proc_cpu`]: another process's CPU time from `/proc`.
//! - [`tls_mitm`]: an on-path relay that cuts or tampers with TLS records.
//!
//! Node scripts need `node_modules` (`npm ci`); the servers need Debian packages. `make test`
//! installs both.
#![forbid(unsafe_code)]

pub mod browser;
pub mod callback;
pub mod certs;
pub mod connect;
pub mod echo;
pub mod eventually;
pub mod form;
pub mod idp;
pub mod login;
pub mod openssl;
pub mod proc_cpu;
pub mod process;
pub mod tls_mitm;

pub use browser::{browser_walk, login_with_chromium};
pub use callback::CallbackCatcher;
pub use certs::{CertPair, CertPaths, TestPki};
pub use echo::EchoServer;
pub use eventually::{eventually, patience};
pub use idp::{ALICE, BOB, CAROL, Idp, TestAccount};
pub use login::{LoginClient, fetch_login_url, login_without_browser};
pub use process::{Redis, TinyProxy, free_port, spawn_redis, spawn_tinyproxy, wait_for_port};
