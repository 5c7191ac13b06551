//! Each provider's issuer rules, and the sentences for names that cannot be used.

use std::path::Path;

use crate::config::{ConfigError, ConfigIssue, IdpConfig, parse_str};

/// A config with only the identity provider part (`idp_provider: <name>` plus `extra`).
fn idp(name: &str, extra: &str) -> Result<(IdpConfig, Vec<ConfigIssue>), Vec<ConfigIssue>> {
    let text = format!("idp_provider: {name}\nidp_client_id: porthole\nidp_client_secret: s3cret\n{extra}");
    match parse_str(&text, Path::new("/nonexistent")) {
        Ok(l) => Ok((l.config.idp.expect("an identity provider"), l.warnings)),
        Err(ConfigError::Invalid(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

fn issuer(name: &str, extra: &str) -> String {
    idp(name, extra).map(|(i, _)| i.provider_url.to_string()).unwrap_or_else(|e| panic!("{name}: {e:#?}"))
}

fn error(name: &str, extra: &str) -> String {
    match idp(name, extra) {
        Ok(i) => panic!("{name} must be refused, got {i:#?}"),
        Err(e) => e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

#[test]
fn providers_with_a_fixed_issuer_default_it() {
    assert_eq!(issuer("google", ""), "https://accounts.google.com/");
    assert_eq!(issuer("gitlab", ""), "https://gitlab.com/");
    assert_eq!(issuer("onelogin", ""), "https://openid-connect.onelogin.com/oidc");
    let url = "idp_provider_url: https://accounts.example.com\n";
    assert_eq!(issuer("google", url), "https://accounts.example.com/", "a URL given wins over the default");
}

#[test]
fn providers_without_a_default_need_the_url() {
    for name in ["oidc", "okta", "auth0", "cognito", "ping"] {
        let e = error(name, "");
        assert!(e.contains("line 1: idp_provider_url: `idp_provider_url` is required with `idp_provider: "), "{e}");
        let (i, _) = idp(name, "idp_provider_url: https://idp.example.com/tenant\n").expect(name);
        assert_eq!(i.provider, name);
        assert_eq!(i.scopes, ["openid", "profile", "email"]);
    }
}

#[test]
fn auth0_gets_its_trailing_slash() {
    assert_eq!(issuer("auth0", "idp_provider_url: https://corp.auth0.com/custom\n"), "https://corp.auth0.com/custom/");
    // Discovery compares the issuer byte for byte: auth0 keeps its slash, even on an empty
    // path, and every other provider's issuer has none.
    let auth0 = idp("auth0", "idp_provider_url: https://corp.auth0.com\n").unwrap().0;
    assert_eq!(auth0.issuer(), "https://corp.auth0.com/");
    let google = idp("google", "").unwrap().0;
    assert_eq!(google.issuer(), "https://accounts.google.com");
    let oidc = idp("oidc", "idp_provider_url: https://idp.example.com/realms/corp/\n").unwrap().0;
    assert_eq!(oidc.issuer(), "https://idp.example.com/realms/corp");
}

#[test]
fn azure_needs_the_tenant_url() {
    let e = error("azure", "");
    assert!(e.contains("https://login.microsoftonline.com/<tenant id>/v2.0"), "{e}");
    let e = error("azure", "idp_provider_url: https://login.microsoftonline.com/common/v2.0\n");
    assert!(e.starts_with("line 4: idp_provider_url:") && e.contains("`common`"), "{e}");
    let tenant = "https://login.microsoftonline.com/0f6e6e2c-3a1e-4c1b-9d8e-1b5a2b3c4d5e/v2.0";
    assert_eq!(issuer("azure", &format!("idp_provider_url: {tenant}\n")), tenant);
}

#[test]
fn onelogin_scopes_are_its_own() {
    let (i, w) = idp("onelogin", "idp_scopes: [openid]\n").unwrap();
    assert_eq!(i.scopes, ["openid", "profile", "email", "groups", "offline_access"]);
    assert!(w.iter().any(|w| w.field == "idp_scopes" && w.line == 4), "{w:#?}");
    let (i, _) = idp("onelogin", "idp_provider_url: https://corp.onelogin.com/oidc/2\n").unwrap();
    assert_eq!(i.scopes, ["openid", "profile", "email", "groups"], "v2 has no offline_access");
}

#[test]
fn not_oidc_and_unknown_names_are_sentences() {
    for name in ["github", "apple", "hosted"] {
        let e = error(name, "");
        assert!(e.starts_with("line 1: idp_provider: "), "{e}");
        assert!(e.contains("not OpenID Connect: it is not supported yet"), "{e}");
    }
    let e = error("keycloak", "");
    assert!(e.contains("idp_provider: oidc") && e.contains("/realms/<realm>"), "{e}");
    let e = error("facebook", "");
    let accepted = "accepted names: auth0, azure, cognito, gitlab, google, oidc, okta, onelogin, ping";
    assert!(e.contains("unknown idp_provider `facebook`") && e.contains(accepted), "{e}");
}
