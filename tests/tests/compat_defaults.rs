//! Pomerium's zero-setup defaults against the real gateway process: a config with no
//! certificate starts on a self-signed one saved beside it, which real OpenSSL and `porthole
//! tcp --alternate-ca-path` verify, which a restart reuses and a corrupted file replaces; and
//! `--validate` on every `idp_provider` name Pomerium accepts, and on its packaged sample.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use porthole_e2e::cli::Porthole;
use porthole_testkit::child::bin;
use porthole_testkit::echo::EchoServer;
use porthole_testkit::gateway::GatewayProcess;
use porthole_testkit::openssl::OpenSsl;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use sha2::{Digest as _, Sha256};

/// Where the gateway keeps its self-signed certificate and key (beside the config).
const CERT_FILE: &str = "porthole-gateway-self-signed.crt";
const KEY_FILE: &str = "porthole-gateway-self-signed.key";

/// A config with no certificate and one public route to `echo`.
fn config_without_certificates(dir: &Path, echo: SocketAddr) -> PathBuf {
    let path = dir.join("config.yaml");
    let yaml = format!(
        "address: 127.0.0.1:0\n\
         routes:\n\
         \x20 - from: tcp+https://echo.corp.example.com:7000\n\
         \x20   to: tcp://{echo}\n\
         \x20   allow_public_unauthenticated_access: true\n"
    );
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Starts the gateway with its log in `dir/<run>/gateway.log`.
fn start(config: &Path, dir: &Path, run: &str) -> GatewayProcess {
    let log_dir = dir.join(run);
    std::fs::create_dir_all(&log_dir).unwrap();
    GatewayProcess::start(config, &log_dir).unwrap_or_else(|e| panic!("{run}: the gateway starts: {e:#}"))
}

/// SHA-256 of the first certificate in `pem` (its fingerprint), hex.
fn fingerprint(pem: &[u8]) -> String {
    let cert = CertificateDer::pem_slice_iter(pem).next().expect("a certificate").expect("PEM");
    Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `openssl s_client` to `addr` as `localhost`, trusting only `ca`, refusing any verify error.
/// Returns the fingerprint of the certificate the gateway served.
async fn openssl_verifies(addr: SocketAddr, ca: &Path) -> String {
    let ca = ca.to_str().unwrap();
    let args = ["-CAfile", ca, "-verify_return_error", "-servername", "localhost", "-verify_hostname", "localhost"];
    let mut client = OpenSsl::client(addr, &args).unwrap();
    client.close_stdin();
    let status = client.wait_exit(Duration::from_secs(20)).await;
    let out = String::from_utf8_lossy(&client.stdout()).into_owned();
    assert!(
        status.is_some_and(|s| s.success()) && out.contains("Verify return code: 0 (ok)"),
        "OpenSSL trusts the saved certificate for `localhost` ({status:?}):\n{out}\n{}",
        client.stderr_text()
    );
    fingerprint(out.as_bytes())
}

/// Sends `msg` through `addr` and reads the echo.
fn echo_through(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(msg)?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got)?;
    Ok(got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certificate_serves_a_saved_self_signed_one_clients_pin_across_restarts() {
    let echo = EchoServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_without_certificates(dir.path(), echo.addr);
    let cert = dir.path().join(CERT_FILE);
    let key = dir.path().join(KEY_FILE);

    // First start: generated, saved, announced with the path to pin.
    let mut gateway = start(&config, dir.path(), "first");
    let log = gateway.log();
    let pin = format!("--alternate-ca-path {}", cert.display());
    assert!(log.contains("generated a self-signed certificate") && log.contains(&pin), "the warning names it:\n{log}");
    let key_pem = std::fs::read_to_string(&key).expect("the key is saved beside the config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the gateway's user may read the key");
    }
    let body: Vec<&str> = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!body.is_empty() && body.iter().all(|l| !log.contains(l)), "the key never reaches the log");
    let saved = fingerprint(&std::fs::read(&cert).unwrap());
    assert_eq!(openssl_verifies(gateway.addr, &cert).await, saved, "the gateway serves the saved certificate");

    // `porthole tcp` pins it with --alternate-ca-path and reaches the route (by IP: 127.0.0.1
    // is in the certificate too).
    let mut cmd = Command::new(bin("porthole"));
    cmd.env("PORTHOLE_TOKEN_STORE", "file").env("PORTHOLE_CACHE_DIR", dir.path().join("cache")).env("NO_COLOR", "1");
    cmd.args(["tcp", "echo.corp.example.com:7000", "--listen", "127.0.0.1:0", "--pomerium-url"])
        .arg(format!("https://127.0.0.1:{}", gateway.addr.port()))
        .arg("--alternate-ca-path")
        .arg(&cert);
    let tunnel = Porthole::spawn(cmd, &dir.path().join("porthole.log")).expect("porthole tcp listens");
    assert_eq!(echo_through(tunnel.addr, b"pinned").ok().as_deref(), Some(&b"pinned"[..]), "{}", tunnel.log());
    drop(tunnel);
    gateway.terminate().unwrap();

    // Restart: the same certificate (same fingerprint), said so.
    let mut gateway = start(&config, dir.path(), "second");
    let log = gateway.log();
    assert!(log.contains("serving the self-signed certificate saved in"), "{log}");
    assert!(!log.contains("generated a"), "no certificate is generated on a restart:\n{log}");
    assert_eq!(fingerprint(&std::fs::read(&cert).unwrap()), saved, "the file is kept");
    assert_eq!(openssl_verifies(gateway.addr, &cert).await, saved, "clients' pins still hold after a restart");
    gateway.terminate().unwrap();

    // A corrupted certificate file: a new pair, with a log line saying why.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        .unwrap();
    let gateway = start(&config, dir.path(), "third");
    let log = gateway.log();
    assert!(log.contains("was not usable") && log.contains("generated a new one"), "the log says why:\n{log}");
    let renewed = fingerprint(&std::fs::read(&cert).unwrap());
    assert_ne!(renewed, saved, "a new certificate replaced the corrupted one");
    assert_eq!(openssl_verifies(gateway.addr, &cert).await, renewed, "the new one is served and verifies");
}

/// `porthole-gateway --validate` on `yaml` written to `dir/config.yaml`: exit code and stderr.
fn validate(dir: &Path, yaml: &str) -> (i32, String) {
    let path = dir.join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(bin("porthole-gateway")).arg("--config").arg(&path).arg("--validate").output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn idp_config(provider: &str, url: Option<&str>) -> String {
    let url = url.map(|u| format!("idp_provider_url: {u}\n")).unwrap_or_default();
    format!("address: 127.0.0.1:0\nidp_provider: {provider}\n{url}idp_client_id: porthole\nidp_client_secret: s3cret\n")
}

#[test]
fn validate_accepts_every_openid_connect_provider_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("google", None),
        ("gitlab", None),
        ("onelogin", None),
        ("oidc", Some("https://idp.example.com")),
        ("okta", Some("https://corp.okta.com/oauth2/default")),
        ("auth0", Some("https://corp.auth0.com")),
        ("cognito", Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc")),
        ("ping", Some("https://auth.pingone.eu/0f6e6e2c/as")),
        ("azure", Some("https://login.microsoftonline.com/0f6e6e2c-3a1e-4c1b-9d8e-1b5a2b3c4d5e/v2.0")),
    ];
    for (provider, url) in cases {
        let (code, err) = validate(dir.path(), &idp_config(provider, url));
        assert_eq!(code, 0, "`idp_provider: {provider}` validates: {err}");
        assert!(err.contains("self-signed certificate saved in"), "the zero-setup certificate is announced: {err}");
    }
    assert!(!dir.path().join(CERT_FILE).exists(), "--validate writes no certificate");
}

#[test]
fn validate_refuses_github_and_unknown_names_with_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml").display().to_string();
    let (code, err) = validate(dir.path(), &idp_config("github", None));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{file}:2: idp_provider: `github` is GitHub, an OAuth 2.0 sign-in with no ID token, not OpenID Connect: it is not supported yet")),
        "the sentence names the file and line: {err}"
    );
    let (code, err) = validate(dir.path(), &idp_config("azure", None));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("https://login.microsoftonline.com/<tenant id>/v2.0"), "{err}");
    let (code, err) = validate(dir.path(), &idp_config("keycloak", Some("https://kc.example.com/realms/corp")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("write `idp_provider: oidc`"), "{err}");
    let (code, err) = validate(dir.path(), &idp_config("facebook", None));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("accepted names: auth0, azure, cognito, gitlab, google, oidc, okta, onelogin, ping"), "{err}");
}

/// Pomerium's installed-package sample (`ospkg/conf/config.yaml` in pomerium/pomerium), its
/// settings part: it listens on `:8443`, names an authenticate URL under
/// `localhost.pomerium.io`, one certificate pair in `/etc/pomerium`, placeholder shared and
/// cookie secrets, Google as identity provider with placeholder client credentials, and one
/// `https://` route with an email policy (an HTTP route: skipped here with a warning).
const PACKAGED_SAMPLE: &str = "\
# the packaged sample, settings part
address: :8443

authenticate_service_url: https://authenticate.localhost.pomerium.io
certificates:
  - cert: /etc/pomerium/cert.pem
    key: /etc/pomerium/key.pem
shared_secret: XXXXXX
cookie_secret: YYYYY
idp_provider: \"google\"
idp_client_id: XXXX
idp_client_secret: YYYY
routes:
  - from: https://verify.localhost.pomerium.io
    to: https://verify.example.org
    policy:
      - allow:
          or:
            - email:
                is: user@example.com
";

#[test]
fn the_packaged_sample_validates_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    // As installed, before a certificate is put in /etc/pomerium: the sample's own
    // certificate entry points at files that do not exist. Pomerium refuses that too
    // ("bad cert entry, file reference invalid"); here the error names the file.
    let (code, err) = validate(dir.path(), PACKAGED_SAMPLE);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/etc/pomerium/cert.pem"), "the missing file is named: {err}");
    // Zero setup: without the certificate entry it validates, with warnings for the secrets
    // that do nothing here and for the self-signed certificate.
    let sample: String = PACKAGED_SAMPLE
        .lines()
        .filter(|l| !l.starts_with("certificates:") && !l.contains("/etc/pomerium/"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, err) = validate(dir.path(), &sample);
    assert_eq!(code, 0, "{err}");
    let from_line = sample.lines().position(|l| l.contains("from: https://verify")).unwrap() + 1;
    let skipped =
        format!(":{from_line}: routes[0].from: https routes are HTTP routes; porthole-gateway serves TCP routes only");
    for warned in ["shared_secret", "cookie_secret", "self-signed certificate saved in", &skipped] {
        assert!(err.contains(warned), "a warning about {warned}: {err}");
    }
    // With the certificate files in place (paths moved to the test's folder), as is.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/gateway/tests/fixtures");
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(fixtures.join(f), dir.path().join(f)).unwrap();
    }
    let placed = PACKAGED_SAMPLE.replace("/etc/pomerium/", &format!("{}/", dir.path().display()));
    let (code, err) = validate(dir.path(), &placed);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("self-signed"), "a configured certificate is used as is: {err}");
}
