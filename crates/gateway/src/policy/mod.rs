//! Pomerium Policy Language (PPL), the subset TCP routes use: parse once, evaluate per CONNECT.
//!
//! INTERFACE STUB — to be implemented (see the config/policy work item).

use serde_json::{Map, Value};

/// Who is asking: the verified claims of a session token. `None` means no session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// Stable user id (`sub`).
    pub user: String,
    /// Email address, when the identity provider gave one.
    pub email: Option<String>,
    /// Every claim of the token (`groups`, custom claims …), as JSON.
    pub claims: Map<String, Value>,
}

/// The outcome of evaluating a route's policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied (answer 403).
    Deny,
    /// No session, and the policy needs one (answer 302 / 401).
    LoginRequired,
}

/// A compiled policy: allow and deny rules. Deny wins; no match is deny.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {}

impl Policy {
    /// Evaluates the policy for `who` (`None` = no session).
    pub fn evaluate(&self, who: Option<&Identity>) -> Decision {
        let _ = who;
        Decision::Deny
    }
}
