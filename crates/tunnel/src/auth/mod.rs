//! Authentication: tokens and where they are kept ([`store`], and in memory when that fails:
//! [`fallback`]), one browser login ([`login`], [`browser`], its loopback [`callback`]), and
//! one login at a time per proxy ([`session`]).

pub mod browser;
pub mod callback;
pub mod fallback;
pub mod login;
pub mod session;
pub mod store;

pub use browser::{Browser, BrowserError};
pub use fallback::MemoryFallback;
pub use login::{FetchError, LoginError, LoginSettings};
pub use session::Authenticator;
pub use store::{MemoryStore, StoreError, Token, TokenStore};
