//! `idp_provider` and the other `idp_*` keys → [`IdpConfig`], with each provider's rules as
//! Pomerium applies them (its `pkg/identity/oidc/<provider>` packages):
//!
//! - `google`: issuer `https://accounts.google.com` when `idp_provider_url` is absent.
//! - `gitlab`: issuer `https://gitlab.com` when absent.
//! - `onelogin`: issuer `https://openid-connect.onelogin.com/oidc` when absent; the scopes are
//!   the provider's own, whatever `idp_scopes` says: `openid profile email groups`, plus
//!   `offline_access` unless the URL is a v2 one (`/oidc/2`).
//! - `azure`: Pomerium's default is the multi-tenant `common` endpoint with the issuer check
//!   switched off (its tokens carry each tenant's issuer); this gateway always checks the
//!   issuer, so it needs the tenant's URL, `https://login.microsoftonline.com/<tenant>/v2.0`.
//! - `auth0`: Pomerium appends a `/` to the URL (Auth0's issuer ends in one).
//! - `oidc`, `okta`, `auth0`, `cognito`, `ping`: `idp_provider_url` is required.
//!
//! `github` and `apple` are OAuth 2.0 sign-ins in Pomerium (no ID token to verify), `hosted`
//! is Pomerium's own hosted sign-in service: none is OpenID Connect, none is supported yet.

use std::path::Path;

use super::global::Entries;
use super::values;
use super::yaml::{self, Issues};
use super::{IdpConfig, Secret};

/// One `idp_provider` name this gateway accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider {
    /// The name in `idp_provider`.
    pub name: &'static str,
    /// The issuer used when `idp_provider_url` is absent; `None` means the key is required.
    pub default_url: Option<&'static str>,
}

/// The OpenID Connect providers Pomerium registers, in its order.
pub(crate) const OIDC: &[Provider] = &[
    Provider { name: "auth0", default_url: None },
    Provider { name: "azure", default_url: None },
    Provider { name: "cognito", default_url: None },
    Provider { name: "gitlab", default_url: Some("https://gitlab.com") },
    Provider { name: "google", default_url: Some("https://accounts.google.com") },
    Provider { name: "oidc", default_url: None },
    Provider { name: "okta", default_url: None },
    Provider { name: "onelogin", default_url: Some("https://openid-connect.onelogin.com/oidc") },
    Provider { name: "ping", default_url: None },
];

/// Names Pomerium accepts that are not OpenID Connect, and what they are instead.
pub(crate) const NOT_OIDC: &[(&str, &str)] = &[
    ("apple", "Sign in with Apple, which Pomerium drives as an OAuth 2.0 sign-in"),
    ("github", "GitHub, an OAuth 2.0 sign-in with no ID token"),
    ("hosted", "Pomerium's hosted sign-in service"),
];

/// Azure's multi-tenant endpoints: their tokens name each tenant as issuer.
const AZURE_MULTI_TENANT: &[&str] = &["common", "organizations", "consumers"];

/// The `idp_*` keys: `None` when `idp_provider` is absent or not usable (then with an error).
pub(crate) fn parse(map: &Entries<'_, '_>, base_dir: &Path, issues: &mut Issues) -> Option<IdpConfig> {
    let Some((_, provider)) = map.get("idp_provider") else {
        for key in ["idp_provider_url", "idp_client_id", "idp_client_secret", "idp_client_secret_file", "idp_scopes"] {
            if let Some((n, _)) = map.get(key) {
                issues.warn(yaml::line(n), key, "ignored because `idp_provider` is not set");
            }
        }
        return None;
    };
    let provider_line = yaml::line(provider);
    let name = yaml::string(provider, "idp_provider", issues)?;
    let known = lookup(&name);
    if let Err(message) = &known {
        issues.error(provider_line, "idp_provider", message.clone());
    }
    let required = |key: &str, issues: &mut Issues| -> Option<(String, usize)> {
        match map.get(key) {
            Some((_, v)) => yaml::string(v, key, issues).map(|s| (s, yaml::line(v))),
            None => {
                issues.error(provider_line, key, format!("`{key}` is required with `idp_provider: {name}`"));
                None
            }
        }
    };
    let provider_url = match (&known, map.get("idp_provider_url")) {
        (Err(_), _) => None,
        (Ok(_), Some((_, v))) => yaml::string(v, "idp_provider_url", issues).and_then(|u| {
            let line = yaml::line(v);
            super::global::http_url(&u, line, "idp_provider_url", issues).filter(|u| azure_ok(&name, u, line, issues))
        }),
        (Ok(Provider { default_url: Some(url), .. }), None) => url::Url::parse(url).ok(),
        (Ok(Provider { name: "azure", .. }), None) => {
            issues.error(provider_line, "idp_provider_url", azure_message());
            None
        }
        (Ok(_), None) => {
            let message = format!("`idp_provider_url` is required with `idp_provider: {name}`");
            issues.error(provider_line, "idp_provider_url", message);
            None
        }
    };
    let client_id = required("idp_client_id", issues).map(|(s, _)| s);
    let client_secret = match (map.get("idp_client_secret"), map.get("idp_client_secret_file")) {
        (Some((_, v)), _) => yaml::string(v, "idp_client_secret", issues),
        (None, Some((_, v))) => yaml::string(v, "idp_client_secret_file", issues).and_then(|p| {
            let bytes = values::read_file(base_dir, &p, yaml::line(v), "idp_client_secret_file", issues)?;
            Some(String::from_utf8_lossy(&bytes).trim().to_owned())
        }),
        (None, None) => required("idp_client_secret", issues).map(|(s, _)| s),
    };
    let configured_scopes = map.get("idp_scopes").map(|(n, v)| {
        let scopes = yaml::string_list(v, "idp_scopes", true, issues).into_iter().map(|(s, _, _)| s).collect();
        (yaml::line(n), scopes)
    });
    known.ok()?;
    let mut provider_url = provider_url?;
    if name == "auth0" && !provider_url.path().ends_with('/') {
        let path = format!("{}/", provider_url.path());
        provider_url.set_path(&path);
    }
    let scopes = scopes(&name, &provider_url, configured_scopes, issues);
    Some(IdpConfig {
        provider: name,
        provider_url,
        client_id: client_id?,
        client_secret: Secret(client_secret?),
        scopes,
    })
}

/// The provider named `name`, or the sentence that says why it cannot be used.
pub(crate) fn lookup(name: &str) -> Result<Provider, String> {
    if let Some(p) = OIDC.iter().find(|p| p.name == name) {
        return Ok(*p);
    }
    let accepted = OIDC.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    if let Some((_, what)) = NOT_OIDC.iter().find(|(n, _)| *n == name) {
        return Err(format!(
            "`{name}` is {what}, not OpenID Connect: it is not supported yet by this gateway; \
             use one of the OpenID Connect providers: {accepted}"
        ));
    }
    if name.eq_ignore_ascii_case("keycloak") {
        return Err(format!(
            "Pomerium has no `keycloak` provider: Keycloak is an OpenID Connect provider, so write \
             `idp_provider: oidc` and `idp_provider_url: https://<host>/realms/<realm>` (accepted names: {accepted})"
        ));
    }
    Err(format!("unknown idp_provider `{name}`; accepted names: {accepted}"))
}

/// Azure with a multi-tenant endpoint: refused with [`azure_message`].
fn azure_ok(name: &str, url: &url::Url, line: usize, issues: &mut Issues) -> bool {
    let tenant = url.path_segments().and_then(|mut s| s.next()).unwrap_or_default();
    if name == "azure" && AZURE_MULTI_TENANT.contains(&tenant.to_ascii_lowercase().as_str()) {
        issues.error(line, "idp_provider_url", azure_message());
        return false;
    }
    true
}

fn azure_message() -> String {
    "with `idp_provider: azure`, set `idp_provider_url: https://login.microsoftonline.com/<tenant id>/v2.0` \
     (the Directory (tenant) ID from the app registration). Pomerium's default, the multi-tenant `common` \
     endpoint, signs tokens with each tenant's issuer, which this gateway cannot check"
        .to_owned()
}

/// The scopes asked for: onelogin's own (as Pomerium, which ignores `idp_scopes` for it), else
/// `idp_scopes`, else `openid profile email`.
fn scopes(name: &str, url: &url::Url, configured: Option<(usize, Vec<String>)>, issues: &mut Issues) -> Vec<String> {
    let owned = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    if name == "onelogin" {
        let own = if url.path().contains("/oidc/2") {
            owned(&["openid", "profile", "email", "groups"])
        } else {
            owned(&["openid", "profile", "email", "groups", "offline_access"])
        };
        if let Some((line, _)) = configured {
            let message =
                format!("ignored with `idp_provider: onelogin`, as Pomerium does: the scopes are {}", own.join(" "));
            issues.warn(line, "idp_scopes", message);
        }
        return own;
    }
    configured.map_or_else(|| owned(&["openid", "profile", "email"]), |(_, s)| s)
}

impl IdpConfig {
    /// The issuer as the provider's ID tokens and discovery document name it: the URL without a
    /// trailing slash (the URL type always adds one to an empty path), except for `auth0`, whose
    /// issuer ends in one (as in Pomerium; discovery compares the issuer byte for byte).
    #[must_use]
    pub fn issuer(&self) -> String {
        let url = self.provider_url.as_str();
        if self.provider == "auth0" { url.to_owned() } else { url.trim_end_matches('/').to_owned() }
    }
}

#[cfg(test)]
mod tests;
