//! A matrix of PPL policies × identities, asserting the [`Decision`] for each pair.

use porthole_gateway::policy::{Decision, Identity, LegacyRules, Policy};
use serde_json::{Value, json};

/// Alice: example.com, groups `admins` and `dev`, department `eng`.
fn alice() -> Identity {
    identity(
        "alice-id",
        "Alice@Example.com",
        json!({
            "groups": ["admins", "dev"],
            "department": "eng",
            "level": 3,
        }),
    )
}

/// Bob: other.org, a single-string `groups` claim `ops`, department `sales`.
fn bob() -> Identity {
    identity(
        "bob-id",
        "bob@other.org",
        json!({
            "groups": "ops",
            "department": "sales",
            "verified": true,
        }),
    )
}

/// Carol: example.com, no groups, no department.
fn carol() -> Identity {
    identity("carol-id", "carol@example.com", json!({}))
}

fn identity(user: &str, email: &str, claims: Value) -> Identity {
    Identity {
        user: user.to_owned(),
        email: Some(email.to_owned()),
        claims: claims.as_object().cloned().unwrap_or_default(),
    }
}

fn policy(yaml: &str) -> Policy {
    Policy::parse_yaml_str(yaml).unwrap_or_else(|e| panic!("policy must parse: {e:?}\n{yaml}"))
}

const SEED: &str = "
- allow:
    or:
      - email:
          is: user@example.com
      - claim/groups: 'admins'
";

/// `(policy, who, expected, why)`.
type Case = (&'static str, Option<fn() -> Identity>, Decision, &'static str);

const CASES: &[Case] = &[
    (SEED, Some(alice), Decision::Allow, "seed: alice's groups claim holds admins"),
    (SEED, Some(bob), Decision::Deny, "seed: bob is neither user@example.com nor in admins"),
    (SEED, None, Decision::LoginRequired, "seed: no session and the rule needs one"),
    (
        "allow: {or: [{email: {is: alice@example.com}}]}",
        Some(alice),
        Decision::Allow,
        "email is compares case-insensitively (Alice@Example.com)",
    ),
    ("allow: {or: [{email: {is: alice@example.com}}]}", Some(carol), Decision::Deny, "carol's email differs"),
    ("allow: {or: [{email: {in: [x@y.z, bob@other.org]}}]}", Some(bob), Decision::Allow, "bob is in the list"),
    ("allow: {or: [{email: carol@example.com}]}", Some(carol), Decision::Allow, "a plain scalar means `is`"),
    ("allow: {or: [{domain: {is: example.com}}]}", Some(carol), Decision::Allow, "carol's domain is example.com"),
    ("allow: {or: [{domain: {is: example.com}}]}", Some(bob), Decision::Deny, "bob's domain is other.org"),
    ("allow: {or: [{groups: {has: dev}}]}", Some(alice), Decision::Allow, "alice's groups array has dev"),
    ("allow: {or: [{groups: {has: dev}}]}", Some(carol), Decision::Deny, "carol has no groups claim"),
    ("allow: {or: [{claim/groups: ops}]}", Some(bob), Decision::Allow, "bob's string groups claim equals ops"),
    ("allow: {or: [{claim/groups: [x, dev]}]}", Some(alice), Decision::Allow, "a list value matches any element"),
    ("allow: {or: [{claim/department: eng}]}", Some(alice), Decision::Allow, "custom claim department = eng"),
    ("allow: {or: [{claim/department: eng}]}", Some(bob), Decision::Deny, "bob's department is sales"),
    ("allow: {or: [{claim/level: 3}]}", Some(alice), Decision::Allow, "numbers compare in JSON string form"),
    ("allow: {or: [{claim/verified: true}]}", Some(bob), Decision::Allow, "booleans compare in JSON string form"),
    ("allow: {or: [{user: {is: carol-id}}]}", Some(carol), Decision::Allow, "user compares the sub"),
    (
        "allow: {and: [{domain: {is: example.com}}, {groups: {has: admins}}]}",
        Some(carol),
        Decision::Deny,
        "and: carol lacks admins",
    ),
    (
        "allow: {and: [{domain: {is: example.com}}, {groups: {has: admins}}]}",
        Some(alice),
        Decision::Allow,
        "and: alice has both",
    ),
    (
        "allow: {and: [{domain: {is: example.com}}, {not: [{groups: {has: admins}}]}]}",
        Some(carol),
        Decision::Allow,
        "nested not: carol is in example.com and not in admins",
    ),
    (
        "allow: {and: [{domain: {is: example.com}}, {not: [{groups: {has: admins}}]}]}",
        Some(alice),
        Decision::Deny,
        "nested not: alice is in admins",
    ),
    (
        "allow: {nor: [{email: {is: bob@other.org}}, {claim/department: eng}]}",
        Some(carol),
        Decision::Allow,
        "nor: none of carol's attributes match",
    ),
    (
        "allow: {nor: [{email: {is: bob@other.org}}, {claim/department: eng}]}",
        Some(alice),
        Decision::Deny,
        "nor: alice's department is eng",
    ),
    (
        "allow: {or: [{and: [{claim/department: sales}, {domain: {is: other.org}}]}, {email: x@y.z}]}",
        Some(bob),
        Decision::Allow,
        "or over a nested and: bob matches the and",
    ),
    (
        "[{allow: {or: [{domain: {is: example.com}}]}}, {deny: {or: [{email: {is: carol@example.com}}]}}]",
        Some(carol),
        Decision::Deny,
        "deny overrides allow",
    ),
    (
        "[{allow: {or: [{domain: {is: example.com}}]}}, {deny: {or: [{email: {is: carol@example.com}}]}}]",
        Some(alice),
        Decision::Allow,
        "the deny rule does not match alice",
    ),
    ("allow: {or: [{accept: true}]}", None, Decision::Allow, "accept needs no session"),
    ("allow: {or: [{accept: true}]}", Some(bob), Decision::Allow, "accept allows a session too"),
    (
        "[{allow: {or: [{accept: true}]}}, {deny: {or: [{accept: true}]}}]",
        None,
        Decision::Deny,
        "a deny rule that always holds wins over accept, even without a session",
    ),
    (
        "[{allow: {or: [{accept: true}]}}, {deny: {or: [{reject: true}]}}]",
        None,
        Decision::Allow,
        "reject never holds (as Pomerium), so this deny rule never fires",
    ),
    ("allow: {or: [{reject: true}]}", None, Decision::Deny, "reject needs no session: deny, not login"),
    ("allow: {or: [{reject: true}]}", Some(alice), Decision::Deny, "reject never allows"),
    ("allow: {or: [{authenticated_user: true}]}", Some(bob), Decision::Allow, "any session is authenticated"),
    ("allow: {or: [{authenticated_user: true}]}", None, Decision::LoginRequired, "no session: log in first"),
    ("allow: {or: [{email: {is: nobody@example.com}}]}", Some(alice), Decision::Deny, "no match is deny"),
    ("[{action: allow, or: [{groups: {in: [ops]}}]}]", Some(bob), Decision::Allow, "the `action:` rule form works"),
];

#[test]
fn policy_matrix() {
    assert!(CASES.len() >= 24, "the matrix must cover at least 24 cases");
    for (yaml, who, expected, why) in CASES {
        let who = who.map(|f| f());
        let got = policy(yaml).evaluate(who.as_ref());
        assert_eq!(got, *expected, "{why}\npolicy: {yaml}\nwho: {who:?}");
    }
}

#[test]
fn legacy_keys() {
    let users = Policy::default()
        .with_legacy(&LegacyRules { allowed_users: vec!["bob@other.org".into()], ..LegacyRules::default() });
    assert_eq!(users.evaluate(Some(&bob())), Decision::Allow, "allowed_users lists bob");
    assert_eq!(users.evaluate(Some(&alice())), Decision::Deny, "allowed_users does not list alice");
    assert_eq!(users.evaluate(None), Decision::LoginRequired, "allowed_users needs a session");

    let domains = Policy::default()
        .with_legacy(&LegacyRules { allowed_domains: vec!["example.com".into()], ..LegacyRules::default() });
    assert_eq!(domains.evaluate(Some(&carol())), Decision::Allow, "carol is in an allowed domain");
    assert_eq!(domains.evaluate(Some(&bob())), Decision::Deny, "bob's domain is not allowed");

    let any =
        Policy::default().with_legacy(&LegacyRules { allow_any_authenticated_user: true, ..LegacyRules::default() });
    assert_eq!(any.evaluate(Some(&bob())), Decision::Allow, "any authenticated user is allowed");
    assert_eq!(any.evaluate(None), Decision::LoginRequired, "but a session is needed");

    let public = Policy::default()
        .with_legacy(&LegacyRules { allow_public_unauthenticated_access: true, ..LegacyRules::default() });
    assert_eq!(public.evaluate(None), Decision::Allow, "a public route needs no session");
    assert!(!public.needs_session(), "a public route needs no identity provider");
}

#[test]
fn empty_policy_denies() {
    assert_eq!(Policy::default().evaluate(Some(&alice())), Decision::Deny, "no rules: deny");
    assert_eq!(Policy::default().evaluate(None), Decision::Deny, "no rules and no session: deny, not login");
}

#[test]
fn bad_policies_name_the_problem_and_line() {
    let err = Policy::parse_yaml_str("allow:\n  or:\n    - emial: {is: a@b.c}\n").unwrap_err();
    assert_eq!(err[0].line, 3, "the unknown criterion is on line 3: {err:?}");
    assert!(err[0].message.contains("unknown criterion `emial`"), "names it: {err:?}");
    assert!(err[0].message.contains("did you mean `email`"), "suggests email: {err:?}");

    let err = Policy::parse_yaml_str("allow:\n  xor:\n    - accept: true\n").unwrap_err();
    assert_eq!(err[0].line, 2, "the bad operator is on line 2: {err:?}");
    assert!(err[0].message.contains("unknown operator `xor`"), "names it: {err:?}");

    let err = Policy::parse_yaml_str("allow:\n  or:\n    - email: {equals: a@b.c}\n").unwrap_err();
    assert!(err[0].message.contains("unknown operator `equals`"), "names the matcher operator: {err:?}");

    let err = Policy::parse_yaml_str("allow:\n  or:\n    - source_ip: 10.0.0.0/8\n").unwrap_err();
    assert!(err[0].message.contains("not supported"), "a Pomerium criterion we lack is an error: {err:?}");
}
