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
//! - [`gateway`]: [`TestGateway`], the one way tests build a gateway (a process, or in-process
//!   for the gateway's own tests), and [`GatewayProcess`].
//! - [`child`]: [`KilledOnDrop`], the one kill-on-drop child wrapper; [`bin`] finds (or builds)
//!   a workspace binary.
//! - [`session`]: re-running one test in a child with its own environment, optionally inside a
//!   private D-Bus session with an unlocked keyring.
//! - [`process`]: `redis-server` and `tinyproxy` children, [`free_port`], [`wait_for_port`].
//! - [`eventually`]: polling with a deadline ([`poll_until`](eventually::poll_until) and its
//!   blocking twin), and [`assert_eventually!`].
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
pub mod child;
pub mod connect;
pub mod echo;
pub mod eventually;
pub mod form;
pub mod gateway;
pub mod idp;
pub mod login;
pub mod openssl;
pub mod proc_cpu;
pub mod process;
pub mod session;
pub mod tls_mitm;

pub use browser::{browser_walk, login_with_chromium};
pub use callback::CallbackCatcher;
pub use certs::{CertPair, CertPaths, TestPki};
pub use child::{KilledOnDrop, bin};
pub use echo::EchoServer;
pub use eventually::{eventually, patience};
pub use gateway::{GatewayOpts, GatewayProcess, TestGateway};
pub use idp::{ALICE, BOB, CAROL, Idp, TestAccount};
pub use login::{LoginClient, fetch_login_url, login_without_browser};
pub use process::{Redis, TinyProxy, free_port, spawn_redis, spawn_tinyproxy, wait_for_port};
