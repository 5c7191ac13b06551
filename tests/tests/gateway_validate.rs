//! `porthole-gateway --config FILE --validate`: 0 for a valid file, 2 with every problem on
//! stderr (file, line, field), warnings for Pomerium keys that do nothing here.

use std::path::Path;
use std::process::Command;

use porthole_e2e::bin;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/gateway/tests/fixtures");

fn head(dir: &Path) -> String {
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(Path::new(FIXTURES).join(f), dir.join(f)).unwrap();
    }
    "address: 127.0.0.1:0\n\
     certificate_file: cert.pem\n\
     certificate_key_file: key.pem\n\
     idp_provider: oidc\n\
     idp_provider_url: https://idp.example.com\n\
     idp_client_id: porthole\n\
     idp_client_secret: secret\n"
        .into()
}

fn validate(dir: &Path, yaml: &str) -> (i32, String) {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(bin("porthole-gateway")).arg("--config").arg(&path).arg("--validate").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_seed_example_validates() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = head(dir.path())
        + "routes:\n\
           \x20 - from: tcp+https://redis.corp.example.com:6379\n\
           \x20   to: tcp://redis.internal:6379\n\
           \x20   policy:\n\
           \x20     - allow:\n\
           \x20         or:\n\
           \x20           - email:\n\
           \x20               is: user@example.com\n\
           \x20           - claim/groups: 'admins'\n";
    let (code, err) = validate(dir.path(), &yaml);
    assert_eq!(code, 0, "the seed example loads as written: {err}");
    assert!(err.contains("valid"), "{err}");
}

#[test]
fn every_problem_is_reported_with_its_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = head(dir.path()) // lines 1-7
        + "routes:\n\
           \x20 - from: tcp+https://a.example.com:1\n\
           \x20   to: tcp://127.0.0.1:2\n\
           \x20   policy:\n\
           \x20     - allow:\n\
           \x20         or:\n\
           \x20           - emal:\n\
           \x20               is: a@example.com\n\
           \x20 - fromm: tcp+https://b.example.com:1\n\
           \x20   to: tcp://127.0.0.1:2\n\
           \x20 - from: tcp+https://c.example.com:1\n\
           \x20   to: tcp://127.0.0.1:2\n\
           \x20   tls_downstream_client_ca_file: missing-ca.pem\n\
           \x20   allow_any_authenticated_user: true\n";
    let (code, err) = validate(dir.path(), &yaml);
    assert_eq!(code, 2, "an invalid config exits 2: {err}");
    assert!(
        err.contains("config.yaml:14: routes[0].policy[0].allow.or[0].emal: unknown criterion `emal`"),
        "bad policy names line and field:\n{err}"
    );
    assert!(err.contains("did you mean `email`?"), "{err}");
    assert!(
        err.contains("config.yaml:16: routes[1].fromm: unknown key `fromm`; did you mean `from`?"),
        "unknown key with its line:\n{err}"
    );
    assert!(
        err.contains("config.yaml:20: routes[2].tls_downstream_client_ca_file:") && err.contains("missing-ca.pem"),
        "missing file named:\n{err}"
    );
    assert!(err.contains("problem(s); nothing was started"), "{err}");
}

#[test]
fn missing_certificate_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = head(dir.path()).replace("certificate_file: cert.pem", "certificate_file: nowhere/server.crt")
        + "routes:\n  - from: tcp+https://a.example.com:1\n    to: tcp://127.0.0.1:2\n    allow_any_authenticated_user: true\n";
    let (code, err) = validate(dir.path(), &yaml);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("config.yaml:2: certificate_file:") && err.contains("nowhere/server.crt"),
        "names field, line and path:\n{err}"
    );
}

#[test]
fn pomerium_keys_without_effect_warn_but_load() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = head(dir.path())
        + "routes:\n  - from: tcp+https://a.example.com:1\n    to: tcp://127.0.0.1:2\n    pass_identity_headers: true\n    allow_any_authenticated_user: true\n";
    let (code, err) = validate(dir.path(), &yaml);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning:") && err.contains("config.yaml:11") && err.contains("pass_identity_headers"),
        "one warning naming the key and line:\n{err}"
    );
}
