//! PPL in YAML → [`Policy`]: rules, `allow`/`deny` actions, operators and criteria.
//!
//! Every problem is recorded in [`Issues`] with its line and field path, and parsing goes on, so
//! a config reports all its policy mistakes at once.

use super::criteria::{Criterion, StringMatcher};
use super::{Block, Operator, Policy, Term};
use crate::config::yaml::{self, Issues, Node};

/// Operator keys of an action mapping.
const OPERATORS: &[&str] = &["and", "or", "not", "nor"];
/// Keys of a rule mapping.
const RULE_KEYS: &[&str] = &["allow", "deny", "action", "and", "or", "not", "nor"];
/// Pomerium criteria this gateway does not evaluate (they are errors, not silently false).
const UNSUPPORTED: &[&str] = &[
    "client_certificate",
    "source_ip",
    "http_method",
    "http_path",
    "device",
    "cors_preflight",
    "pomerium_routes",
    "invalid_client_certificate",
    "date",
    "day_of_week",
    "time_of_day",
    "record",
];

/// Parses a policy: a list of rules, or one rule mapping. Null gives an empty policy.
pub(crate) fn parse_policy(node: &Node<'_>, field: &str, issues: &mut Issues) -> Policy {
    let mut policy = Policy::default();
    if yaml::is_null(node) {
        return policy;
    }
    if let Some(rules) = node.data.as_sequence() {
        for (i, rule) in rules.iter().enumerate() {
            parse_rule(rule, &format!("{field}[{i}]"), &mut policy, issues);
        }
    } else {
        parse_rule(node, field, &mut policy, issues);
    }
    policy
}

/// Parses one rule (`allow:`/`deny:`, or `action:` plus operators) into `policy`.
fn parse_rule(node: &Node<'_>, field: &str, policy: &mut Policy, issues: &mut Issues) {
    let Some(entries) = yaml::entries(node, field, issues) else {
        return;
    };
    let action = entries.iter().find(|(k, _, _)| k == "action");
    if let Some((_, _, value)) = action {
        // `action: allow` with the operators beside it.
        let action_field = yaml::join(field, "action");
        let block = parse_operators(node, field, &["action"], issues);
        match yaml::scalar_text(value).as_deref() {
            Some("allow") => policy.allow.extend(block),
            Some("deny") => policy.deny.extend(block),
            _ => issues.error(yaml::line(value), action_field, "expected `allow` or `deny`"),
        }
        return;
    }
    if entries.is_empty() {
        issues.error(yaml::line(node), field, "a rule needs `allow:` or `deny:`");
    }
    for (key, key_node, value) in &entries {
        let sub = yaml::join(field, key);
        match key.as_str() {
            "allow" => policy.allow.extend(parse_operators(value, &sub, &[], issues)),
            "deny" => policy.deny.extend(parse_operators(value, &sub, &[], issues)),
            _ => issues.error(
                yaml::line(key_node),
                sub,
                format!("{}; a rule has `allow:` and/or `deny:`", yaml::unknown_key_message(key, RULE_KEYS)),
            ),
        }
    }
}

/// Parses an action mapping (`or: [...]`, `and: [...]` …) into one block; several operators in
/// one mapping must all hold. Keys in `skip` are left to the caller.
fn parse_operators(node: &Node<'_>, field: &str, skip: &[&str], issues: &mut Issues) -> Option<Block> {
    let before = issues.errors.len();
    let entries = yaml::entries(node, field, issues)?;
    let mut blocks = Vec::new();
    for (key, key_node, value) in &entries {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let sub = yaml::join(field, key);
        match operator(key) {
            Some(op) => blocks.push(Block { op, terms: parse_terms(value, &sub, issues) }),
            None => issues.error(
                yaml::line(key_node),
                sub,
                format!("unknown operator `{key}`; supported operators: and, or, not, nor{}", hint(key, OPERATORS)),
            ),
        }
    }
    match blocks.len() {
        0 => {
            if issues.errors.len() == before {
                issues.error(yaml::line(node), field, "expected one of `and`, `or`, `not`, `nor`");
            }
            None
        }
        1 => blocks.pop(),
        _ => Some(Block { op: Operator::And, terms: blocks.into_iter().map(Term::Block).collect() }),
    }
}

/// The operator a key names.
fn operator(key: &str) -> Option<Operator> {
    match key {
        "and" => Some(Operator::And),
        "or" => Some(Operator::Or),
        "not" => Some(Operator::Not),
        "nor" => Some(Operator::Nor),
        _ => None,
    }
}

/// `; did you mean `x`?` or nothing.
fn hint(key: &str, known: &[&str]) -> String {
    yaml::suggest(key, known).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default()
}

/// Parses the list under an operator: criteria and nested operator blocks.
fn parse_terms(node: &Node<'_>, field: &str, issues: &mut Issues) -> Vec<Term> {
    let items: Vec<&Node<'_>> = match node.data.as_sequence() {
        Some(seq) => seq.iter().collect(),
        None if node.data.as_mapping().is_some() => vec![node],
        None => {
            issues.error(yaml::line(node), field, "expected a list of criteria");
            return Vec::new();
        }
    };
    if items.is_empty() {
        issues.error(yaml::line(node), field, "expected at least one criterion");
    }
    let mut terms = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let item_field = format!("{field}[{i}]");
        let Some(entries) = yaml::entries(item, &item_field, issues) else {
            continue;
        };
        if entries.len() != 1 {
            issues.error(
                yaml::line(item),
                item_field,
                "a criterion is a mapping with exactly one key (e.g. `email: {is: a@b.c}`)",
            );
            continue;
        }
        let (key, key_node, value) = &entries[0];
        let sub = yaml::join(&item_field, key);
        if let Some(op) = operator(key) {
            terms.push(Term::Block(Block { op, terms: parse_terms(value, &sub, issues) }));
        } else if let Some(c) = parse_criterion(key, key_node, value, &sub, issues) {
            terms.push(Term::Criterion(c));
        }
    }
    terms
}

/// Parses one criterion `key: value`.
fn parse_criterion(
    key: &str,
    key_node: &Node<'_>,
    value: &Node<'_>,
    field: &str,
    issues: &mut Issues,
) -> Option<Criterion> {
    match key {
        "accept" => yaml::boolean(value, field, issues).map(Criterion::Accept),
        "reject" => yaml::boolean(value, field, issues).map(Criterion::Reject),
        "authenticated_user" => yaml::boolean(value, field, issues).map(Criterion::AuthenticatedUser),
        "email" => string_matcher(value, field, issues).map(Criterion::Email),
        "domain" => string_matcher(value, field, issues).map(Criterion::Domain),
        "user" => string_matcher(value, field, issues).map(Criterion::User),
        "groups" => list_matcher(value, field, issues).map(Criterion::Groups),
        _ if key.starts_with("claim/") => {
            let name = &key["claim/".len()..];
            if name.is_empty() {
                issues.error(yaml::line(key_node), field, "`claim/` needs a claim name, e.g. `claim/groups`");
                return None;
            }
            let values = scalars(value, field, issues)?;
            Some(Criterion::Claim { name: name.to_owned(), values })
        }
        _ => {
            let supported = Criterion::NAMES.join(", ");
            let message = if UNSUPPORTED.contains(&key) {
                format!("criterion `{key}` is not supported by this gateway; supported criteria: {supported}")
            } else {
                let names: Vec<&str> = Criterion::NAMES.iter().copied().filter(|n| !n.contains('<')).collect();
                format!("unknown criterion `{key}`; supported criteria: {supported}{}", hint(key, &names))
            };
            issues.error(yaml::line(key_node), field, message);
            None
        }
    }
}

/// A scalar, or a list of scalars, as strings.
fn scalars(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<Vec<String>> {
    if node.data.as_sequence().is_none() && yaml::scalar_text(node).is_none() {
        issues.error(yaml::line(node), field, "expected a value or a list of values");
        return None;
    }
    let before = issues.errors.len();
    let items: Vec<String> = yaml::string_list(node, field, false, issues).into_iter().map(|(s, _, _)| s).collect();
    (issues.errors.len() == before).then_some(items)
}

/// A string matcher: a plain value (`is`), a list (`in`), or `{is|in|starts_with|ends_with|contains: …}`.
fn string_matcher(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<StringMatcher> {
    if node.data.as_mapping().is_none() {
        let mut values = scalars(node, field, issues)?;
        return Some(if node.data.as_sequence().is_some() {
            StringMatcher::In(values)
        } else {
            StringMatcher::Is(values.pop().unwrap_or_default())
        });
    }
    let (op, op_node, value) = single_operator(node, field, issues)?;
    let sub = yaml::join(field, &op);
    let one = |issues: &mut Issues| yaml::string(value, &sub, issues);
    match op.as_str() {
        "is" => one(issues).map(StringMatcher::Is),
        "starts_with" => one(issues).map(StringMatcher::StartsWith),
        "ends_with" => one(issues).map(StringMatcher::EndsWith),
        "contains" => one(issues).map(StringMatcher::Contains),
        "in" => scalars(value, &sub, issues).map(StringMatcher::In),
        _ => {
            bad_operator(&op, op_node, &sub, StringMatcher::OPERATORS, issues);
            None
        }
    }
}

/// A list matcher (for `groups`): a value, a list, or `{has|in|is: value-or-list}`.
fn list_matcher(node: &Node<'_>, field: &str, issues: &mut Issues) -> Option<Vec<String>> {
    if node.data.as_mapping().is_none() {
        return scalars(node, field, issues);
    }
    let (op, op_node, value) = single_operator(node, field, issues)?;
    let sub = yaml::join(field, &op);
    match op.as_str() {
        "has" | "in" | "is" => scalars(value, &sub, issues),
        _ => {
            bad_operator(&op, op_node, &sub, &["has", "in", "is"], issues);
            None
        }
    }
}

/// The one `operator: value` entry of a matcher mapping.
fn single_operator<'n, 'a>(
    node: &'n Node<'a>,
    field: &str,
    issues: &mut Issues,
) -> Option<(String, &'n Node<'a>, &'n Node<'a>)> {
    let mut entries = yaml::entries(node, field, issues)?;
    if entries.len() != 1 {
        issues.error(yaml::line(node), field, "expected exactly one operator, e.g. `is: value`");
        return None;
    }
    entries.pop()
}

/// Records an unknown matcher operator.
fn bad_operator(op: &str, op_node: &Node<'_>, field: &str, known: &[&str], issues: &mut Issues) {
    issues.error(
        yaml::line(op_node),
        field,
        format!("unknown operator `{op}`; supported: {}{}", known.join(", "), hint(op, known)),
    );
}
