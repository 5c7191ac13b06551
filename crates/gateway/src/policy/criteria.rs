//! PPL criteria and how each one matches an [`Identity`].

use serde_json::Value;

use super::Identity;

/// Pomerium's string matcher (`is`, `in`, `starts_with`, `ends_with`, `contains`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StringMatcher {
    /// Equal to the value.
    Is(String),
    /// Equal to one of the values.
    In(Vec<String>),
    /// Starts with the value.
    StartsWith(String),
    /// Ends with the value.
    EndsWith(String),
    /// Contains the value.
    Contains(String),
}

impl StringMatcher {
    /// The operator names accepted in YAML.
    pub const OPERATORS: &'static [&'static str] = &["is", "in", "starts_with", "ends_with", "contains"];

    /// Whether `s` matches; `fold` compares case-insensitively.
    pub fn matches(&self, s: &str, fold: bool) -> bool {
        let norm = |x: &str| if fold { x.to_lowercase() } else { x.to_owned() };
        let s = norm(s);
        match self {
            StringMatcher::Is(v) => s == norm(v),
            StringMatcher::In(vs) => vs.iter().any(|v| s == norm(v)),
            StringMatcher::StartsWith(v) => s.starts_with(&norm(v)),
            StringMatcher::EndsWith(v) => s.ends_with(&norm(v)),
            StringMatcher::Contains(v) => s.contains(&norm(v)),
        }
    }
}

/// One PPL criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `accept: true`: always holds (with or without a session).
    Accept(bool),
    /// `reject: true`: never holds (with or without a session).
    Reject(bool),
    /// `authenticated_user: true`: any session.
    AuthenticatedUser(bool),
    /// `email`: the session's email (case-insensitive).
    Email(StringMatcher),
    /// `domain`: the domain part of the session's email (case-insensitive).
    Domain(StringMatcher),
    /// `user`: the session's user id (`sub`).
    User(StringMatcher),
    /// `groups`: the `groups` claim contains one of these.
    Groups(Vec<String>),
    /// `claim/<name>`: the claim (string or array) contains one of these values.
    Claim {
        /// Claim name.
        name: String,
        /// Accepted values.
        values: Vec<String>,
    },
}

impl Criterion {
    /// The criterion names accepted in YAML (`claim/<name>` stands for any claim).
    pub const NAMES: &'static [&'static str] =
        &["accept", "reject", "authenticated_user", "email", "domain", "user", "groups", "claim/<name>"];

    /// Whether deciding this criterion needs a session.
    pub fn needs_session(&self) -> bool {
        !matches!(self, Criterion::Accept(_) | Criterion::Reject(_))
    }

    /// Evaluates the criterion; `None` when it needs a session and there is none.
    pub fn eval(&self, who: Option<&Identity>) -> Option<bool> {
        match self {
            Criterion::Accept(b) => return Some(*b),
            Criterion::Reject(b) => return Some(!*b),
            _ => {}
        }
        let who = who?;
        Some(match self {
            Criterion::Accept(_) | Criterion::Reject(_) => false,
            Criterion::AuthenticatedUser(b) => *b,
            Criterion::Email(m) => email(who).is_some_and(|e| m.matches(&e, true)),
            Criterion::Domain(m) => email(who)
                .and_then(|e| e.rsplit_once('@').map(|(_, d)| d.to_owned()))
                .is_some_and(|d| m.matches(&d, true)),
            Criterion::User(m) => m.matches(&who.user, false),
            Criterion::Groups(values) => claim_contains(who.claims.get("groups"), values),
            Criterion::Claim { name, values } => claim_contains(who.claims.get(name), values),
        })
    }
}

/// The session's email: the `email` field, else the `email` claim; `None` when the identity
/// provider said `email_verified: false` (an unverified address proves nothing). An absent
/// `email_verified` claim trusts the address, as before.
fn email(who: &Identity) -> Option<String> {
    let unverified = match who.claims.get("email_verified") {
        Some(Value::Bool(false)) => true,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("false"),
        _ => false,
    };
    if unverified {
        return None;
    }
    who.email.clone().or_else(|| who.claims.get("email").and_then(Value::as_str).map(str::to_owned))
}

/// A JSON scalar in its string form (`"x"` → `x`, `3` → `3`, `true` → `true`).
fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether a claim (scalar or array of scalars) contains any of `values`.
fn claim_contains(claim: Option<&Value>, values: &[String]) -> bool {
    let Some(claim) = claim else { return false };
    let hit = |v: &Value| json_text(v).is_some_and(|t| values.contains(&t));
    match claim {
        Value::Array(items) => items.iter().any(hit),
        other => hit(other),
    }
}
