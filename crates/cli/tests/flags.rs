//! `porthole tcp` takes pomerium-cli's `tcp` command line unchanged: every flag is there, in
//! both `--flag value` and `--flag=value` forms, and bad input gets a sentence and exit 1.

use std::collections::BTreeMap;
use std::process::Command;

/// How a flag takes its value, as `--help` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// `--flag <VALUE>`: a value is required.
    Value,
    /// `--flag [<BOOL>]`: alone means true, `--flag=false` also parses (Go's bool flags).
    OptionalBool,
    /// `--flag`: a switch that takes no value.
    Nothing,
}

/// Porthole's own flags, beyond pomerium-cli's.
const OURS: &[(&str, Takes)] = &[
    ("--no-browser", Takes::OptionalBool),
    ("--json", Takes::Nothing),
    ("--login-timeout", Takes::Value),
    ("--http3", Takes::Value),
    ("--help", Takes::Nothing),
];

/// The flag table of `pomerium-cli tcp` in docs/protocol.md §4.2: each flag and how it takes a
/// value (a `false` default is a Go bool flag; anything else takes a value).
fn documented_tcp_flags() -> BTreeMap<String, Takes> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md is in the repository");
    let section = doc.split("### 4.2 `pomerium-cli tcp").nth(1).expect("docs/protocol.md has §4.2 on tcp flags");
    let mut flags = BTreeMap::new();
    for line in section.lines().skip(1).skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(flag), Some(default)) = (cells.get(1), cells.get(2)) else { continue };
        let Some(flag) = flag.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else { continue };
        let takes = if *default == "false" { Takes::OptionalBool } else { Takes::Value };
        flags.insert(flag.to_owned(), takes);
    }
    assert!(flags.len() >= 13, "the §4.2 table was not read whole: {flags:?}");
    flags
}

/// Every flag in the `Options:` section of a clap help text, and how it takes its value.
fn help_flags(help: &str) -> BTreeMap<String, Takes> {
    let mut flags = BTreeMap::new();
    for line in help.lines().skip_while(|l| *l != "Options:").skip(1) {
        let line = line.trim_start();
        let line = line.strip_prefix("-h, ").unwrap_or(line);
        let Some(rest) = line.strip_prefix("--") else { continue };
        let mut words = rest.split_whitespace();
        let name = format!("--{}", words.next().unwrap_or_default());
        let takes = match words.next() {
            None => Takes::Nothing,
            Some("[<BOOL>]") => Takes::OptionalBool,
            Some(value) if value.starts_with('<') && value.ends_with('>') => Takes::Value,
            Some(other) => panic!("{name}: unexpected value form {other:?} in:\n{help}"),
        };
        assert!(flags.insert(name.clone(), takes).is_none(), "{name} is listed twice:\n{help}");
    }
    flags
}

fn porthole(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_porthole")).args(args).output().expect("run porthole");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_pomerium_cli_tcp_flag_with_its_value_form() {
    let (code, help, _) = porthole(&["tcp", "--help"]);
    assert_eq!(code, 0);
    let mut expected = documented_tcp_flags();
    expected.extend(OURS.iter().map(|(f, t)| ((*f).to_owned(), *t)));
    let listed = help_flags(&help);
    for (flag, takes) in &expected {
        assert_eq!(listed.get(flag), Some(takes), "`porthole tcp --help` must list {flag} taking {takes:?}:\n{help}");
    }
    let extra: Vec<&String> = listed.keys().filter(|f| !expected.contains_key(*f)).collect();
    assert!(extra.is_empty(), "flags neither pomerium-cli's nor in OURS (document them): {extra:?}");
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
