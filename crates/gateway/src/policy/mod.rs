//! Pomerium Policy Language (PPL), the subset TCP routes use: parse once, evaluate per CONNECT.
//!
//! A [`Policy`] is a set of allow blocks and deny blocks. Each block is `and`, `or`, `not` or
//! `nor` over criteria (`email`, `domain`, `user`, `groups`, `claim/<name>`, `accept`, `reject`,
//! `authenticated_user`) and nested blocks. Evaluation is three-valued: a criterion that needs a
//! session is *unknown* when there is none, which turns into [`Decision::LoginRequired`] unless a
//! session-free criterion already decides.

mod criteria;
mod parse;

use serde_json::{Map, Value};

pub use criteria::{Criterion, StringMatcher};

use crate::config::ConfigIssue;

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

/// How the criteria of a [`Block`] combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// All must hold.
    And,
    /// At least one must hold.
    Or,
    /// All must be false.
    Not,
    /// None may hold.
    Nor,
}

/// One element of a block: a criterion or a nested block.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A single criterion (`email: {is: …}`).
    Criterion(Criterion),
    /// A nested `and`/`or`/`not`/`nor` block.
    Block(Block),
}

/// `and`/`or`/`not`/`nor` over a list of terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// How the terms combine.
    pub op: Operator,
    /// The terms, in file order.
    pub terms: Vec<Term>,
}

/// The legacy route keys that predate PPL; [`Policy::with_legacy`] compiles them into allow blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyRules {
    /// `allowed_users`: email addresses.
    pub allowed_users: Vec<String>,
    /// `allowed_domains`: email domains.
    pub allowed_domains: Vec<String>,
    /// `allowed_idp_claims`: claim name → accepted values.
    pub allowed_idp_claims: Vec<(String, Vec<String>)>,
    /// `allow_any_authenticated_user`.
    pub allow_any_authenticated_user: bool,
    /// `allow_public_unauthenticated_access`.
    pub allow_public_unauthenticated_access: bool,
}

/// A compiled policy: allow and deny rules. Deny wins; no match is deny.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Allow blocks: any one that holds allows.
    pub allow: Vec<Block>,
    /// Deny blocks: any one that holds denies, whatever the allow blocks say.
    pub deny: Vec<Block>,
}

/// Parses a policy node (list of rules or one rule) found in a config file.
pub(crate) fn parse_policy_node(
    node: &crate::config::yaml::Node<'_>,
    field: &str,
    issues: &mut crate::config::yaml::Issues,
) -> Policy {
    parse::parse_policy(node, field, issues)
}

/// Three-valued truth: `None` means "needs a session, and there is none".
type Truth = Option<bool>;

impl Block {
    /// Evaluates the block (Kleene logic over unknowns).
    fn eval(&self, who: Option<&Identity>) -> Truth {
        let values = self.terms.iter().map(|t| match t {
            Term::Criterion(c) => c.eval(who),
            Term::Block(b) => b.eval(who),
        });
        match self.op {
            Operator::And => all(values),
            Operator::Or => any(values),
            Operator::Not | Operator::Nor => any(values).map(|b| !b),
        }
    }

    /// Whether any criterion in the block (or nested blocks) needs a session.
    fn needs_session(&self) -> bool {
        self.terms.iter().any(|t| match t {
            Term::Criterion(c) => c.needs_session(),
            Term::Block(b) => b.needs_session(),
        })
    }
}

/// Kleene AND: false wins, then unknown.
fn all(values: impl Iterator<Item = Truth>) -> Truth {
    let mut unknown = false;
    for v in values {
        match v {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown { None } else { Some(true) }
}

/// Kleene OR: true wins, then unknown.
fn any(values: impl Iterator<Item = Truth>) -> Truth {
    let mut unknown = false;
    for v in values {
        match v {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    if unknown { None } else { Some(false) }
}

impl Policy {
    /// Evaluates the policy for `who` (`None` = no session).
    ///
    /// A deny block that holds gives [`Decision::Deny`]; otherwise an allow block that holds gives
    /// [`Decision::Allow`]; otherwise, without a session, a block that could not be decided gives
    /// [`Decision::LoginRequired`]; otherwise [`Decision::Deny`].
    pub fn evaluate(&self, who: Option<&Identity>) -> Decision {
        let deny: Vec<Truth> = self.deny.iter().map(|b| b.eval(who)).collect();
        if deny.contains(&Some(true)) {
            return Decision::Deny;
        }
        let allow: Vec<Truth> = self.allow.iter().map(|b| b.eval(who)).collect();
        if allow.contains(&Some(true)) {
            return Decision::Allow;
        }
        if who.is_none() && (allow.contains(&None) || deny.contains(&None)) {
            return Decision::LoginRequired;
        }
        Decision::Deny
    }

    /// Parses a policy from YAML text (a list of rules, or one rule mapping). Field paths in the
    /// issues start at `policy`.
    ///
    /// # Errors
    /// Every problem found (unknown criterion, bad operator, wrong value type), with its line.
    pub fn parse_yaml_str(text: &str) -> Result<Policy, Vec<ConfigIssue>> {
        let node = crate::config::yaml::load(text).map_err(|e| vec![e])?;
        let mut issues = crate::config::yaml::Issues::default();
        let policy = parse::parse_policy(&node, "policy", &mut issues);
        if issues.errors.is_empty() { Ok(policy) } else { Err(issues.errors) }
    }

    /// Adds allow blocks compiled from the legacy route keys.
    #[must_use]
    pub fn with_legacy(mut self, legacy: &LegacyRules) -> Policy {
        let mut terms = Vec::new();
        if legacy.allow_public_unauthenticated_access {
            terms.push(Term::Criterion(Criterion::Accept(true)));
        }
        if legacy.allow_any_authenticated_user {
            terms.push(Term::Criterion(Criterion::AuthenticatedUser(true)));
        }
        if !legacy.allowed_users.is_empty() {
            let m = StringMatcher::In(legacy.allowed_users.clone());
            terms.push(Term::Criterion(Criterion::Email(m)));
        }
        if !legacy.allowed_domains.is_empty() {
            let m = StringMatcher::In(legacy.allowed_domains.clone());
            terms.push(Term::Criterion(Criterion::Domain(m)));
        }
        for (name, values) in &legacy.allowed_idp_claims {
            terms.push(Term::Criterion(Criterion::Claim { name: name.clone(), values: values.clone() }));
        }
        if !terms.is_empty() {
            self.allow.push(Block { op: Operator::Or, terms });
        }
        self
    }

    /// Whether some criterion needs a session (anything but `accept`/`reject`): a route with
    /// such a policy needs an identity provider.
    pub fn needs_session(&self) -> bool {
        self.allow.iter().chain(&self.deny).any(Block::needs_session)
    }

    /// Whether the policy has no rules at all (every request is denied).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}
