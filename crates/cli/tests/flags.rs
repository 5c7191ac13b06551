//! `porthole tcp` takes pomerium-cli's `tcp` command line unchanged: every flag is there, in
//! both `--flag value` and `--flag=value` forms, and bad input gets a sentence and exit 1.

use std::process::Command;

/// Every flag of `pomerium-cli tcp` (docs/protocol.md §4.2).
const POMERIUM_CLI_TCP_FLAGS: &[&str] = &[
    "--listen",
    "--pomerium-url",
    "--browser-cmd",
    "--service-account",
    "--service-account-file",
    "--disable-tls-verification",
    "--alternate-ca-path",
    "--ca-cert",
    "--client-cert",
    "--client-key",
    "--client-cert-from-store",
    "--client-cert-issuer",
    "--client-cert-subject",
];

fn porthole(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_porthole")).args(args).output().expect("run porthole");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_pomerium_cli_tcp_flag() {
    let (code, help, _) = porthole(&["tcp", "--help"]);
    assert_eq!(code, 0);
    for flag in POMERIUM_CLI_TCP_FLAGS {
        assert!(help.contains(flag), "`porthole tcp --help` must list {flag}:\n{help}");
    }
    for ours in ["--no-browser", "--json", "--login-timeout"] {
        assert!(help.contains(ours), "{ours} missing:\n{help}");
    }
}

#[test]
fn bad_destination_and_url_are_sentences() {
    let (code, _, err) = porthole(&["tcp", "nonsense"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid destination"), "{err}");
    let (code, _, err) = porthole(&["tcp", "redis.example.com:6379", "--pomerium-url=example.com:1234"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid pomerium url"), "pomerium-cli's rule: a scheme is required: {err}");
}

#[test]
fn equals_forms_and_boolean_values_parse() {
    // A port that is taken makes the command fail after parsing, proving the flags parsed.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = porthole(&[
        "tcp",
        "redis.example.com:6379",
        &format!("--listen={addr}"),
        "--disable-tls-verification=true",
        "--client-cert-from-store=false",
        "--pomerium-url=https://127.0.0.1:9",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "a taken port is named: {err}");
    assert!(err.contains("TLS verification is disabled"), "insecure mode warns: {err}");
    let (code, _, err) = porthole(&["tcp", "a:1", "--client-cert", "x.pem"]);
    assert_eq!(code, 1);
    assert!(err.contains("--client-cert needs --client-key"), "{err}");
}
