//! The desktop's own words for a failed attempt: a [`Cause`] from the engine becomes a
//! sentence pointing at the form's sections ("Open TLS settings…") and a [`Fix`] button. The
//! CLI renders the same causes with its flags; nothing here may name one.

use porthole_tunnel::cause::{Cause, CertProblem, LoginProblem};

use crate::model::Fix;

/// What the connection knows that the cause does not: the CA file it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The profile's CA file, if any.
    pub ca_file: Option<String>,
}

/// The sentence and the fix for `cause`, in the desktop's words.
#[must_use]
pub fn describe(cause: &Cause, ctx: &Context) -> (String, Option<Fix>) {
    match cause {
        Cause::Unreachable { proxy, reason } => (
            format!(
                "Cannot reach the proxy at {proxy} ({reason}). Check the proxy URL and port in the proxy settings."
            ),
            Some(Fix::EditProxy),
        ),
        Cause::UntrustedCertificate { proxy, problem, ca_given } => certificate(proxy, problem, *ca_given, ctx),
        Cause::HandshakeRefused { proxy, .. } => (
            format!("The proxy at {proxy} refused the secure connection; it may require a client certificate."),
            Some(Fix::EditClientCert),
        ),
        Cause::Tls { proxy, detail } => (
            format!("The secure connection to the proxy at {proxy} failed: {detail}. Check the TLS settings."),
            Some(Fix::EditTls),
        ),
        Cause::BadAnswer { detail } => (
            format!("The proxy's answer could not be used ({detail}). Check that the proxy URL points to Pomerium."),
            Some(Fix::EditProxy),
        ),
        Cause::LoginRequired { .. } => ("The proxy asks you to log in.".into(), Some(Fix::LogIn)),
        Cause::LoginFailed { problem } => login(problem),
        Cause::Denied { destination, user } => (
            match user {
                Some(user) => format!(
                    "Access to {destination} is denied for {user} by the proxy's policy. Ask for access, or log in \
                     as someone else."
                ),
                None => format!("Access to {destination} is denied by the proxy's policy. Ask for access."),
            },
            Some(Fix::LogInAsSomeoneElse),
        ),
        Cause::NoRoute { destination } => (
            format!("The proxy has no route for {destination}. Check the destination against the route's address."),
            Some(Fix::EditDestination),
        ),
        Cause::CertificateRequired { destination } => (
            format!(
                "The route to {destination} requires a client certificate from its's certificate authority. Choose one in the client certificate settings."
            ),
            Some(Fix::EditClientCert),
        ),
        Cause::Unavailable { destination, detail } => (
            format!("The destination {destination} is down: the proxy could not reach it ({detail}). Try again later."),
            Some(Fix::Retry),
        ),
        Cause::Status { status, detail } => (format!("The proxy answered HTTP {status}: {detail}."), Some(Fix::Retry)),
        Cause::Revoked { destination, user } => (
            match user {
                Some(user) => format!(
                    "Access to {destination} was revoked for {user}. Logging in again as the same user will not \
                     help; ask for access, or log in as someone else."
                ),
                None => format!("Access to {destination} was revoked. Ask for access."),
            },
            Some(Fix::LogInAsSomeoneElse),
        ),
        Cause::SessionExpired => ("Your session expired. Log in again.".into(), Some(Fix::LogIn)),
        Cause::RouteRemoved { destination } => (
            format!("The proxy no longer has a route for {destination}. Check the destination."),
            Some(Fix::EditDestination),
        ),
    }
}

fn certificate(proxy: &str, problem: &CertProblem, ca_given: bool, ctx: &Context) -> (String, Option<Fix>) {
    let by = match (&ctx.ca_file, ca_given) {
        (Some(path), true) => format!("the certificate authority in {path}"),
        (_, true) => "the certificate authority given".to_owned(),
        (_, false) => "a certificate authority this computer trusts".to_owned(),
    };
    let trust = "In TLS settings, choose the CA file that issued it, or turn off certificate verification.";
    match problem {
        CertProblem::UnknownIssuer => (
            format!(
                "The certificate of the proxy at {proxy} is not signed by {by}{}. {trust}",
                if ca_given { " nor by one this computer trusts" } else { "" }
            ),
            Some(Fix::EditTls),
        ),
        CertProblem::BadSignature => (
            format!(
                "The certificate of the proxy at {proxy} is not signed by {by}, though it names a certificate \
                 authority of that name (one regenerated with a new key?). {trust}"
            ),
            Some(Fix::EditTls),
        ),
        CertProblem::WrongName { expected, presented } if !presented.is_empty() => (
            format!(
                "The certificate of the proxy at {proxy} is for {}, not for {expected}. Use one of those names in \
                 the proxy URL, or have the certificate reissued.",
                presented.join(", ")
            ),
            Some(Fix::EditProxy),
        ),
        CertProblem::WrongName { expected, .. } => {
            (format!("The certificate of the proxy at {proxy} is not valid for {expected}."), Some(Fix::EditProxy))
        }
        CertProblem::Expired => (
            format!(
                "The certificate of the proxy at {proxy} has expired: the proxy must renew it (or this \
                 computer's clock is wrong)."
            ),
            None,
        ),
        CertProblem::NotYetValid => (
            format!(
                "The certificate of the proxy at {proxy} is not valid yet: check this computer's clock, or the \
                 certificate's dates."
            ),
            None,
        ),
        CertProblem::CaAsServerCertificate => (
            format!(
                "The proxy at {proxy} presents a certificate authority's certificate as its own. To trust it, \
                 choose that very certificate as the CA file in TLS settings."
            ),
            Some(Fix::EditTls),
        ),
        CertProblem::Other { detail } => (format!("{}. {trust}", capitalized(detail)), Some(Fix::EditTls)),
    }
}

fn login(problem: &LoginProblem) -> (String, Option<Fix>) {
    match problem {
        LoginProblem::Unreachable { base, detail } => {
            (format!("Could not start a login at {base} ({detail}). Check the proxy settings."), Some(Fix::EditProxy))
        }
        LoginProblem::NoBrowser => (
            "No browser could be opened for the login. Use \"Open login\" to copy or open the URL yourself.".into(),
            Some(Fix::LogIn),
        ),
        LoginProblem::TimedOut { after_secs } => {
            (format!("The login was not completed within {}. Log in again.", duration(*after_secs)), Some(Fix::LogIn))
        }
        LoginProblem::Callback { detail } => {
            (format!("The login could not receive the browser's answer on 127.0.0.1 ({detail})."), Some(Fix::LogIn))
        }
        LoginProblem::FreshTokenRefused { status } => (
            format!("The proxy refused the session it had just issued (HTTP {status}). Log in again."),
            Some(Fix::LogIn),
        ),
    }
}

fn duration(secs: u64) -> String {
    if secs >= 60 && secs.is_multiple_of(60) {
        let m = secs / 60;
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    } else {
        format!("{secs} seconds")
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use porthole_tunnel::tls::explain::{UntrustedCertificate, certificate_problem};
    use rustls::{CertificateError, OtherError};

    use super::*;

    /// Every cause the engine reports, with facts as the engine fills them (the certificate
    /// problems through the engine's own classifier, with and without a CA given).
    fn every_cause() -> Vec<Cause> {
        let d = "db.corp:5432".to_owned();
        let proxy = "proxy.corp:443".to_owned();
        let mut causes = vec![
            Cause::Unreachable { proxy: proxy.clone(), reason: "connection refused".into() },
            Cause::HandshakeRefused { proxy: proxy.clone(), alert: "HandshakeFailure".into() },
            Cause::Tls { proxy: proxy.clone(), detail: "the handshake did not finish within 10 s".into() },
            Cause::BadAnswer { detail: "no answer to CONNECT within 10 s".into() },
            Cause::LoginRequired { status: 302 },
            Cause::Denied { destination: d.clone(), user: Some("alice@example.com".into()) },
            Cause::Denied { destination: d.clone(), user: None },
            Cause::NoRoute { destination: d.clone() },
            Cause::CertificateRequired { destination: d.clone() },
            Cause::Unavailable { destination: d.clone(), detail: "upstream down".into() },
            Cause::Status { status: 500, detail: "Internal Server Error".into() },
            Cause::Revoked { destination: d.clone(), user: Some("alice@example.com".into()) },
            Cause::Revoked { destination: d.clone(), user: None },
            Cause::SessionExpired,
            Cause::RouteRemoved { destination: d },
        ];
        for problem in [
            LoginProblem::Unreachable { base: "https://proxy.corp".into(), detail: "connection refused".into() },
            LoginProblem::NoBrowser,
            LoginProblem::TimedOut { after_secs: 300 },
            LoginProblem::Callback { detail: "address in use".into() },
            LoginProblem::FreshTokenRefused { status: 401 },
        ] {
            causes.push(Cause::LoginFailed { problem });
        }
        let webpki = |e: webpki::Error| CertificateError::Other(OtherError(Arc::new(e)));
        for cert in [
            CertificateError::UnknownIssuer,
            CertificateError::BadSignature,
            CertificateError::Expired,
            CertificateError::NotValidYet,
            CertificateError::Revoked,
            CertificateError::BadEncoding,
            CertificateError::NotValidForName,
            webpki(webpki::Error::CaUsedAsEndEntity),
            webpki(webpki::Error::EndEntityUsedAsCa),
            webpki(webpki::Error::CertDistrusted),
        ] {
            for ca_given in [false, true] {
                let untrusted = UntrustedCertificate {
                    problem: cert.clone(),
                    server_name: Some("proxy.corp".into()),
                    ca_label: ca_given.then(|| "--alternate-ca-path /etc/ca.pem".to_owned()),
                    ca_given,
                };
                let (problem, ca_given) =
                    certificate_problem(&CertificateError::Other(OtherError(Arc::new(untrusted))));
                causes.push(Cause::UntrustedCertificate { proxy: proxy.clone(), problem, ca_given });
            }
        }
        causes
    }

    /// No desktop sentence names a command-line flag, although the CLI's sentences for the
    /// same failures do; each is a sentence (capital, full stop).
    #[test]
    fn no_desktop_message_names_a_cli_flag() {
        let ctx = Context { ca_file: Some("/etc/corp-ca.pem".into()) };
        for cause in every_cause() {
            for ctx in [&ctx, &Context::default()] {
                let (text, _) = describe(&cause, ctx);
                assert!(!text.contains("--"), "{cause:?}: {text}");
                assert!(text.ends_with('.') && text.chars().next().is_some_and(|c| c.is_uppercase()), "{text}");
            }
        }
        let cli = porthole_tunnel::tls::explain::certificate_sentence(&CertificateError::UnknownIssuer);
        assert!(cli.contains("--alternate-ca-path"), "the CLI keeps its flags: {cli}");
    }

    /// A wrong CA points at the TLS section and names the file given; a 403 names the user and
    /// offers another account; an unreachable proxy points at the proxy settings.
    #[test]
    fn each_failure_points_at_its_fix() {
        let ctx = Context { ca_file: Some("/etc/corp-ca.pem".into()) };
        let cause =
            Cause::UntrustedCertificate { proxy: "p:443".into(), problem: CertProblem::UnknownIssuer, ca_given: true };
        let (text, fix) = describe(&cause, &ctx);
        assert_eq!(fix, Some(Fix::EditTls));
        assert!(text.contains("in /etc/corp-ca.pem") && text.contains("TLS settings"), "{text}");
        let (text, fix) =
            describe(&Cause::Denied { destination: "db:5432".into(), user: Some("bob@example.com".into()) }, &ctx);
        assert_eq!(fix, Some(Fix::LogInAsSomeoneElse));
        assert!(text.contains("denied for bob@example.com"), "{text}");
        let (_, fix) = describe(&Cause::Unreachable { proxy: "p:1".into(), reason: "connection refused".into() }, &ctx);
        assert_eq!(fix, Some(Fix::EditProxy));
        assert_eq!(describe(&Cause::SessionExpired, &ctx).1, Some(Fix::LogIn));
    }
}
