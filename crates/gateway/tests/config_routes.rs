//! Routes of real Pomerium configs: non-TCP routes are skipped with one warning each (line and
//! why), `tcp://host` without a port is accepted with the port it gets, wildcard hosts load.

use std::path::{Path, PathBuf};

use porthole_gateway::config::{ConfigError, ConfigIssue, Loaded, Upstream, parse_str};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Certificates and an identity provider (lines 1–6).
const HEADER: &str = "certificate_file: cert.pem\n\
                      certificate_key_file: key.pem\n\
                      idp_provider: oidc\n\
                      idp_provider_url: https://idp.example.com\n\
                      idp_client_id: porthole\n\
                      idp_client_secret: s3cret\n";

fn load(body: &str) -> Result<Loaded, Vec<ConfigIssue>> {
    match parse_str(&format!("{HEADER}{body}"), &fixtures()) {
        Ok(loaded) => Ok(loaded),
        Err(ConfigError::Invalid(issues)) => Err(issues),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// A mix as Pomerium's docs show it: an HTTP app, native SSH, UDP DNS, and two TCP routes.
const MIXED: &str = "routes:
  - from: https://wiki.example.com
    to: https://wiki.internal:8443
    pass_identity_headers: true
    prefix: /docs
    allow_any_authenticated_user: true
  - from: ssh://bastion
    to: ssh://10.0.0.5:22
    allow_any_authenticated_user: true
  - from: udp+https://dns.example.com:53
    to: udp://10.0.0.53:53
    allow_any_authenticated_user: true
  - from: tcp+https://*.db.example.com:5432
    to: tcp://pg.internal:5432
    allow_any_authenticated_user: true
  - from: http://old.example.com
    response:
      status: 200
      body: hello
  - from: tcp+https://redis.example.com:6379
    to: tcp://redis.internal
    allow_any_authenticated_user: true
";

#[test]
fn non_tcp_routes_are_skipped_with_one_warning_each_and_the_tcp_routes_load() {
    let loaded = load(MIXED).unwrap_or_else(|e| panic!("a mixed Pomerium config loads: {e:#?}"));
    let froms: Vec<&str> = loaded.config.routes.iter().map(|r| r.from.raw.as_str()).collect();
    assert_eq!(
        froms,
        ["udp+https://dns.example.com:53", "tcp+https://*.db.example.com:5432", "tcp+https://redis.example.com:6379"]
    );
    assert!(loaded.config.routes[0].from.udp, "the udp+ route is served");
    assert_eq!(loaded.config.routes[0].to, [Upstream::Udp { host: "10.0.0.53".into(), port: 53 }]);
    let skipped: Vec<(usize, &str, &str)> = loaded
        .warnings
        .iter()
        .filter(|w| w.message.contains("skipped"))
        .map(|w| (w.line, w.field.as_str(), w.message.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                8,
                "routes[0].from",
                "https routes are HTTP routes; porthole-gateway serves TCP routes only; this route is skipped"
            ),
            (
                13,
                "routes[1].from",
                "ssh routes are Pomerium's SSH routes; porthole-gateway serves TCP routes only (a `tcp+https://host:22` route \
                 tunnels SSH); this route is skipped"
            ),
            (
                22,
                "routes[4].from",
                "http routes are HTTP routes; porthole-gateway serves TCP routes only; this route is skipped"
            ),
        ],
        "one warning per skipped route, at its `from` line: {:#?}",
        loaded.warnings
    );
    assert!(
        !loaded.warnings.iter().any(|w| w.message.contains("pass_identity_headers") || w.message.contains("prefix")),
        "a skipped route's own keys are not judged: {:#?}",
        loaded.warnings
    );
}

#[test]
fn a_tcp_upstream_without_port_gets_port_80_as_pomerium_and_says_so() {
    let loaded = load(MIXED).unwrap();
    assert_eq!(loaded.config.routes[2].to, [Upstream::Tcp { host: "redis.internal".into(), port: 80 }]);
    let w = loaded.warnings.iter().find(|w| w.field == "routes[5].to").expect("a warning for the port-less `to`");
    assert_eq!(w.line, 27);
    assert!(w.message.contains("connecting to port 80"), "{w}");
    assert!(w.message.contains("tcp://redis.internal:PORT"), "{w}");
}

#[test]
fn udp_upstreams_do_not_mix_with_other_schemes_and_need_a_udp_from() {
    let errors =
        |body: &str| load(body).expect_err("the config is refused").into_iter().map(|i| i.message).collect::<Vec<_>>();
    let mixed = errors(
        "routes:\n  - from: udp+https://dns.example.com:53\n    to: [udp://10.0.0.53:53, tcp://10.0.0.54:53]\n    allow_any_authenticated_user: true\n",
    );
    assert!(mixed.iter().any(|m| m.contains("mixes")), "{mixed:?}");
    let tcp_to = errors(
        "routes:\n  - from: udp+https://dns.example.com:53\n    to: tcp://10.0.0.53:53\n    allow_any_authenticated_user: true\n",
    );
    assert!(tcp_to.iter().any(|m| m.contains("a udp+ route needs `to: udp://host:port`")), "{tcp_to:?}");
    let udp_to = errors(
        "routes:\n  - from: tcp+https://dns.example.com:53\n    to: udp://10.0.0.53:53\n    allow_any_authenticated_user: true\n",
    );
    assert!(udp_to.iter().any(|m| m.contains("udp:// upstreams need a `udp+https://`")), "{udp_to:?}");
    let both = load(
        "routes:\n  - from: udp+https://iperf.example.com:5201\n    to: udp://10.0.0.9:5201\n    allow_any_authenticated_user: true\n\
         \x20 - from: tcp+https://iperf.example.com:5201\n    to: tcp://10.0.0.9:5201\n    allow_any_authenticated_user: true\n",
    );
    assert!(both.is_ok(), "a tcp+ and a udp+ route may share an authority: {both:?}");
}

#[test]
fn pomeriums_installed_sample_routes_are_skipped_not_fatal() {
    // The shape of the sample /etc/pomerium/config.yaml the packages install: one HTTP route.
    let body = "routes:
  - from: https://app.localhost.pomerium.io
    to: https://app.local
    policy:
      - allow:
          or:
            - user:
                is: someone@example.com
";
    let loaded = load(body).unwrap_or_else(|e| panic!("the sample's route does not stop the config: {e:#?}"));
    assert!(loaded.config.routes.is_empty());
    assert!(loaded.warnings.iter().any(|w| w.line == 8 && w.message.starts_with("https routes are HTTP routes")));
}

#[test]
fn unknown_schemes_are_still_errors() {
    let e = load("routes:\n  - from: tcp+htps://a.example.com:1\n    to: tcp://a:1\n").unwrap_err();
    assert!(e.iter().any(|i| i.line == 8 && i.message.contains("must start with `tcp+https://`")), "{e:#?}");
}
