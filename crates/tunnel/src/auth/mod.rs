//! Authentication: tokens, where they are kept, and the login flow.

pub mod store;

pub use store::{MemoryStore, StoreError, Token, TokenStore};
