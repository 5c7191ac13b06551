//! Loading and validating gateway config files: the seed example, every error path, warnings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use porthole_gateway::config::{ConfigError, ConfigIssue, Loaded, MtlsEnforcement, Upstream, load_file, parse_str};
use porthole_gateway::policy::{Decision, Identity};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn b64(file: &str) -> String {
    let bytes = std::fs::read(fixtures().join(file)).expect("fixture exists");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Certificates and IdP keys that make a config loadable (lines 1–6).
fn header() -> String {
    format!(
        "certificate_file: cert.pem\n\
         certificate_key_file: key.pem\n\
         idp_provider: oidc\n\
         idp_provider_url: https://idp.example.com\n\
         idp_client_id: porthole\n\
         idp_client_secret: s3cret\n\
         signing_key: {}\n",
        b64("signing_key.pem")
    )
}

fn load(body: &str) -> Result<Loaded, Vec<ConfigIssue>> {
    match parse_str(&format!("{}{body}", header()), &fixtures()) {
        Ok(loaded) => Ok(loaded),
        Err(ConfigError::Invalid(issues)) => Err(issues),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn ok(body: &str) -> Loaded {
    load(body).unwrap_or_else(|e| panic!("config must load: {e:#?}"))
}

fn errors(body: &str) -> Vec<ConfigIssue> {
    match load(body) {
        Ok(_) => panic!("config must be rejected:\n{body}"),
        Err(e) => e,
    }
}

const SEED: &str = "routes:
  - from: tcp+https://redis.corp.example.com:6379
    to: tcp://redis.internal:6379
    policy:
      - allow:
          or:
            - email:
                is: user@example.com
            - claim/groups: 'admins'
";

#[test]
fn seed_example_loads() {
    let loaded = ok(SEED);
    let c = &loaded.config;
    assert!(loaded.warnings.is_empty(), "the seed has nothing to warn about: {:?}", loaded.warnings);
    assert_eq!(c.address, "0.0.0.0:443", "address defaults to :443 on all interfaces");
    assert_eq!(c.certificates.len(), 1, "certificate_file gives one pair");
    assert!(c.certificates[0].cert_pem.starts_with(b"-----BEGIN CERTIFICATE"), "cert PEM is loaded");
    assert_eq!(format!("{:?}", c.certificates[0].key_pem), "<redacted>", "key bytes never print");
    let idp = c.idp.as_ref().expect("idp_provider: oidc gives an IdP");
    assert_eq!(idp.scopes, ["openid", "profile", "email"], "default scopes");
    assert!(c.signing_key.as_ref().is_some_and(|k| k.0.contains("EC PRIVATE KEY")), "signing key decoded");
    assert_eq!(c.cookie_expire, Duration::from_secs(14 * 3600), "cookie_expire defaults to 14h");
    let r = &c.routes[0];
    assert_eq!(
        (r.from.host.as_str(), r.from.port, r.from.bastion.as_deref()),
        ("redis.corp.example.com", Some(6379), None)
    );
    assert_eq!(r.to, [Upstream::Tcp { host: "redis.internal".into(), port: 6379 }]);
    assert_eq!(r.line, 9, "the route's line is where `- from` is");
    let admin = Identity {
        user: "u".into(),
        email: Some("x@example.com".into()),
        claims: serde_json::json!({"groups": ["admins"]}).as_object().cloned().unwrap_or_default(),
    };
    assert_eq!(r.policy.evaluate(Some(&admin)), Decision::Allow, "the seed policy lets admins in");
    assert_eq!(r.policy.evaluate(None), Decision::LoginRequired, "and needs a session");
}

#[test]
fn load_file_resolves_relative_paths() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(fixtures().join(f), dir.path().join(f)).expect("copy fixture");
    }
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, format!("{}{SEED}", header())).expect("write config");
    let loaded = load_file(&path).expect("paths resolve against the config's folder");
    assert_eq!(loaded.config.routes.len(), 1);
}

#[test]
fn unknown_key_has_line_and_suggestion() {
    let e = errors(
        "routes:\n  - fromm: tcp+https://a.example.com:22\n    to: tcp://a:22\n    allow_any_authenticated_user: true\n",
    );
    let typo = e.iter().find(|i| i.message.contains("`fromm`")).expect("the typo is reported");
    assert_eq!(typo.line, 9, "the typo is on line 9: {typo}");
    assert_eq!(typo.field, "routes[0].fromm");
    assert!(typo.message.contains("did you mean `from`?"), "suggests from: {typo}");
}

#[test]
fn every_error_is_reported_at_once() {
    let e = errors(
        "cookie_expire: forever\naddresss: ':8443'\nroutes:\n  - from: tcp+https://a.example.com\n    to: tcp://a\n    idle_timeout: soon\n",
    );
    let has = |s: &str| e.iter().any(|i| i.message.contains(s));
    assert!(has("`forever` is not a duration"), "bad cookie_expire: {e:#?}");
    assert!(has("did you mean `address`"), "typo in address: {e:#?}");
    assert!(has("`soon` is not a duration"), "bad idle_timeout: {e:#?}");
    assert!(e.len() >= 3, "all three problems are listed: {e:#?}");
}

#[test]
fn bad_policy_is_an_error_at_its_line() {
    let e = errors(
        "routes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    policy:\n      allow:\n        or:\n          - groupz: {has: x}\n",
    );
    assert_eq!(e[0].line, 14, "the unknown criterion's line: {e:#?}");
    assert_eq!(e[0].field, "routes[0].policy.allow.or[0].groupz");
    assert!(e[0].message.contains("supported criteria"), "lists the supported ones: {e:#?}");
    let e = errors(
        "routes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    policy:\n      - allow:\n          either:\n            - accept: true\n",
    );
    assert_eq!(e[0].line, 13, "the bad operator's line: {e:#?}");
    assert!(e[0].message.contains("unknown operator `either`"), "{e:#?}");
}

#[test]
fn missing_certificate_file_names_path_and_field() {
    let Err(ConfigError::Invalid(e)) =
        parse_str("certificate_file: nope.pem\ncertificate_key_file: key.pem\n", &fixtures())
    else {
        panic!("a missing file is an error");
    };
    let issue = e.iter().find(|i| i.field == "certificate_file").expect("reported on the field");
    assert!(issue.message.contains("nope.pem"), "names the path: {issue}");
    assert_eq!(issue.line, 1);
    let loaded = parse_str("routes: []\n", &fixtures()).expect("no certificate: a self-signed one is served");
    let path = fixtures().join("porthole-gateway-self-signed.crt");
    let path = std::path::absolute(path).unwrap();
    assert_eq!(loaded.config.self_signed.as_ref().map(|s| &s.cert_path), Some(&path));
    assert!(loaded.warnings.iter().any(|w| w.message.contains(&path.display().to_string())), "{loaded:#?}");
}

#[test]
fn ignored_pomerium_keys_warn_once() {
    let loaded = ok(&format!("shared_secret: abc\nlog_level: debug\n{SEED}    pass_identity_headers: true\n"));
    let w = &loaded.warnings;
    assert_eq!(w.len(), 3, "one warning per ignored key: {w:#?}");
    assert!(w.iter().any(|i| i.field == "shared_secret" && i.line == 8), "{w:#?}");
    assert!(w.iter().any(|i| i.field == "routes[0].pass_identity_headers" && i.line == 19), "{w:#?}");
}

#[test]
fn duplicate_from_names_both_lines() {
    let e = errors(
        "routes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    allow_public_unauthenticated_access: true\n  - from: tcp+https://A.example.com:22\n    to: tcp://b:22\n    allow_public_unauthenticated_access: true\n",
    );
    let d = e.iter().find(|i| i.message.contains("duplicate")).expect("duplicate reported");
    assert_eq!(d.line, 12);
    assert!(d.message.contains("line 9") && d.message.contains("line 12"), "names both lines: {d}");
}

#[test]
fn from_forms() {
    let loaded = ok("routes:
  - from: tcp+https://proxy.example.com:8443/DB.internal:5432
    to: tcp://db:5432
    allow_public_unauthenticated_access: true
  - from: tcp+http://ssh.example.com
    to: tcp://[::1]:22
    allow_any_authenticated_user: true
  - from: tcp+https://[2001:db8::1]:7000
    to: [http://proxy.internal:3128, https://proxy2.internal]
    allowed_users: [a@example.com]
");
    let r = &loaded.config.routes;
    assert_eq!((r[0].from.host.as_str(), r[0].from.port), ("db.internal", Some(5432)), "bastion: first path segment");
    assert_eq!(r[0].from.bastion.as_deref(), Some("proxy.example.com:8443"));
    assert_eq!(r[1].from.port, None, "no port matches any port");
    assert_eq!(r[1].to, [Upstream::Tcp { host: "::1".into(), port: 22 }], "IPv6 brackets stripped");
    assert_eq!(r[2].from.host, "2001:db8::1");
    assert_eq!(r[2].to[1], Upstream::Proxy { tls: true, host: "proxy2.internal".into(), port: 443 });
    assert!(r[0].allow_public_unauthenticated_access);

    let has = |body: &str, s: &str| errors(body).iter().any(|i| i.message.contains(s));
    let route =
        |from: &str| format!("routes:\n  - from: {from}\n    to: tcp://a:22\n    allow_any_authenticated_user: true\n");
    assert!(has(&route("tcp+https://p.example.com/db.internal"), "needs a port"));
    assert!(has(&route("ftp://a.example.com"), "must start with `tcp+https://`"));
}

#[test]
fn to_must_not_mix_tcp_and_proxies() {
    let e = errors(
        "routes:\n  - from: tcp+https://a.example.com:22\n    to: [tcp://a:22, http://proxy:3128]\n    allow_any_authenticated_user: true\n",
    );
    assert!(e.iter().any(|i| i.message.contains("mixes tcp://") && i.line == 10), "{e:#?}");
}

#[test]
fn public_with_policy_and_missing_idp() {
    let e = errors(
        "routes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    allow_public_unauthenticated_access: true\n    allowed_users: [a@b.c]\n",
    );
    assert!(e.iter().any(|i| i.message.contains("public route cannot")), "{e:#?}");
    let body = "certificate_file: cert.pem\ncertificate_key_file: key.pem\nroutes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    allowed_domains: [example.com]\n";
    let Err(ConfigError::Invalid(e)) = parse_str(body, &fixtures()) else { panic!("needs an IdP") };
    assert!(e.iter().any(|i| i.line == 3 && i.message.contains("no identity provider")), "{e:#?}");
    let Err(ConfigError::Invalid(e)) = parse_str("idp_provider: github\n", &fixtures()) else {
        panic!("github is not OpenID Connect")
    };
    assert!(e.iter().any(|i| i.message.contains("not supported yet")), "{e:#?}");
}

#[test]
fn durations_and_globals() {
    let loaded = ok(&format!(
        "address: 127.0.0.1:8443\ncookie_expire: 1h30m\nidp_scopes: openid, email, groups\n{SEED}    idle_timeout: 90s\n"
    ));
    let c = &loaded.config;
    assert_eq!(c.address, "127.0.0.1:8443");
    assert_eq!(c.cookie_expire, Duration::from_secs(5400), "Go-style 1h30m");
    assert_eq!(c.idp.as_ref().map(|i| i.scopes.len()), Some(3), "comma-separated scopes");
    assert_eq!(c.routes[0].idle_timeout, Some(Duration::from_secs(90)));
    let zero = ok(&format!("{SEED}    idle_timeout: 0\n"));
    assert_eq!(
        zero.config.routes[0].idle_timeout,
        Some(Duration::ZERO),
        "0 means no idle timeout (kept apart from unset, which falls back to timeout_idle)"
    );
}

#[test]
fn downstream_mtls_parsing() {
    let loaded = ok(&format!(
        "downstream_mtls:\n  ca: {}\n  enforcement: reject_connection\n  max_verify_depth: 2\n{SEED}",
        b64("cert.pem")
    ));
    let m = loaded.config.downstream_mtls.as_ref().expect("downstream_mtls parsed");
    assert_eq!(m.enforcement, MtlsEnforcement::RejectConnection);
    assert!(m.ca_pem.starts_with(b"-----BEGIN CERTIFICATE"), "base64 CA decoded");
    assert!(loaded.warnings.iter().any(|w| w.message.contains("not supported yet")), "max_verify_depth warns");
    let file = ok(&format!("downstream_mtls:\n  ca_file: cert.pem\n{SEED}"));
    let m = file.config.downstream_mtls.expect("ca_file works");
    assert_eq!(m.enforcement, MtlsEnforcement::PolicyWithDefaultDeny, "default enforcement");
    let e = errors(&format!("downstream_mtls:\n  ca_file: cert.pem\n  enforcement: strict\n{SEED}"));
    assert!(e.iter().any(|i| i.line == 10 && i.message.contains("unknown enforcement")), "{e:#?}");
}

#[test]
fn inline_certificates_list() {
    let body = format!(
        "certificates:\n  - cert: {}\n    key: {}\n  - cert: cert.pem\n    key: key.pem\nroutes:\n  - from: tcp+https://a.example.com:22\n    to: tcp://a:22\n    allow_public_unauthenticated_access: true\n",
        b64("cert.pem"),
        b64("key.pem")
    );
    let loaded =
        parse_str(&body, &fixtures()).expect("base64 and path forms both load, and a public route needs no IdP");
    assert_eq!(loaded.config.certificates.len(), 2);
    assert!(loaded.config.idp.is_none());
}

#[test]
fn invalid_yaml_reports_its_line() {
    let Err(ConfigError::Invalid(e)) = parse_str("address: ':443'\nroutes:\n  - from: [unclosed\n", &fixtures()) else {
        panic!("broken YAML is an error");
    };
    assert!(e[0].message.starts_with("invalid YAML"), "{e:#?}");
    assert!(e[0].line >= 3, "the error points at or after the broken line: {e:#?}");
    let text = ConfigError::Invalid(e).to_string();
    assert!(text.contains("line "), "the error's message lists each issue: {text}");
}

#[test]
fn pomerium_timeouts_with_their_defaults_and_line_numbered_errors() {
    let defaults = ok(SEED).config.timeouts;
    assert_eq!(defaults.read, Some(Duration::from_secs(30)), "timeout_read defaults to 30 s, as Pomerium");
    assert_eq!(defaults.write, None, "timeout_write defaults to none, as Pomerium");
    assert_eq!(defaults.idle, Some(Duration::from_secs(300)), "timeout_idle defaults to 5 min, as Pomerium");

    let set = ok(&format!("timeout_read: 2s\ntimeout_write: 1h\ntimeout_idle: 0\n{SEED}"));
    assert!(set.warnings.is_empty(), "the timeout keys are used now, not ignored: {:#?}", set.warnings);
    let t = set.config.timeouts;
    assert_eq!(
        (t.read, t.write, t.idle),
        (Some(Duration::from_secs(2)), Some(Duration::from_secs(3600)), None),
        "0 disables"
    );

    let e = errors(&format!("timeout_read: soon\ntimeout_idle: 5 minutes\n{SEED}"));
    assert_eq!(e.len(), 1, "`5 minutes` is a valid duration, `soon` is not: {e:#?}");
    assert_eq!((e[0].line, e[0].field.as_str()), (8, "timeout_read"), "{e:#?}");
    assert!(e[0].message.contains("is not a duration"), "{}", e[0].message);
}

#[test]
fn end_tunnels_at_session_expiry_defaults_on_and_a_route_overrides_the_global_key() {
    let route = |extra: &str| {
        format!(
            "  - from: tcp+https://db.example.com:5432\n    to: tcp://db:5432\n    allow_any_authenticated_user: true\n{extra}"
        )
    };
    let loaded = ok(&format!("routes:\n{}", route("")));
    assert!(loaded.config.end_tunnels_at_session_expiry, "on by default");
    assert_eq!(loaded.config.routes[0].end_tunnels_at_session_expiry, None, "a route follows the global key");
    let loaded = ok(&format!(
        "end_tunnels_at_session_expiry: false\nroutes:\n{}",
        route("    end_tunnels_at_session_expiry: true\n")
    ));
    assert!(!loaded.config.end_tunnels_at_session_expiry);
    assert_eq!(loaded.config.routes[0].end_tunnels_at_session_expiry, Some(true));
    let e = errors(&format!("routes:\n{}", route("    end_tunnels_at_session_expiry: sometimes\n")));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!((e[0].line, e[0].field.as_str()), (12, "routes[0].end_tunnels_at_session_expiry"));
    assert_eq!(e[0].message, "expected true or false");
}

#[test]
fn codec_type_http3_turns_on_quic_and_names_the_alt_svc_port() {
    let on = ok("codec_type: http3\nhttp3_advertise_port: 8443\n");
    let h3 = on.config.http3.expect("codec_type: http3 enables HTTP/3");
    assert_eq!(h3.alt_svc(443), "h3=\":8443\"; ma=86400", "the advertised port wins");
    let listen = ok("codec_type: http3\n").config.http3.expect("enabled");
    assert_eq!(listen.alt_svc(4433), "h3=\":4433\"; ma=86400", "else the listen port");
    assert!(ok("codec_type: http2\n").config.http3.is_none(), "other codecs leave HTTP/3 off");
    let bad = errors("codec_type: http9\n");
    assert!(bad.iter().any(|e| e.message.contains("auto, http1, http2 or http3")), "{bad:#?}");
    let port = errors("codec_type: http3\nhttp3_advertise_port: 70000\n");
    assert!(port.iter().any(|e| e.message.contains("not a port")), "{port:#?}");
}
