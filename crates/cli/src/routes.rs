//! `porthole routes`: the routes a Pomerium server's portal lists for you (name, type, from),
//! or its JSON with `--json`, read with the stored login for that server (a browser login
//! first when there is none).

use std::process::ExitCode;

use anyhow::Context as _;
use porthole_client::portal::{FetchSettings, PortalSource, fetch_routes};
use porthole_client::tunnel_options;
use porthole_tunnel::auth::Authenticator;
use tokio::sync::broadcast;

use crate::args::RoutesArgs;
use crate::output::Printer;

/// Runs `porthole routes`.
///
/// # Errors
/// A bad URL, an unreadable CA file, an unreachable server, a failed login or an answer that
/// is not the portal's JSON.
pub async fn run(args: RoutesArgs) -> anyhow::Result<ExitCode> {
    let insecure = args.disable_tls_verification.unwrap_or(false);
    let no_browser = args.no_browser.unwrap_or(false);
    let source = PortalSource {
        pomerium_url: args.pomerium_url.clone(),
        ca_file: args.alternate_ca_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
        disable_tls_verification: insecure,
    };
    let settings = FetchSettings {
        browser: tunnel_options::browser(args.browser_cmd.as_deref(), no_browser),
        login_timeout: args.login_timeout,
        cert_store_dir: tunnel_options::cert_store_dir(),
    };
    // Login progress goes to stderr as `porthole tcp` shows it; stdout is the list.
    let printer = Printer::new(false, no_browser);
    let (store, warning) = crate::tokens::store();
    let mut warnings: Vec<String> = warning.into_iter().collect();
    if insecure {
        warnings.push("TLS verification is disabled (--disable-tls-verification)".to_owned());
    }
    let auth = Authenticator::new(store, None);
    let (events, rx) = broadcast::channel(64);
    let printing = tokio::spawn(printer.run(rx, warnings, false));
    let list = fetch_routes(&source, &auth, &settings, &events).await;
    drop(events);
    let _ = printing.await;
    let list = list.with_context(|| format!("while listing the routes of {}", args.pomerium_url))?;
    if args.json {
        let body = serde_json::json!({ "routes": list.routes });
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.routes.is_empty() {
        eprintln!("{} lists no routes you may use", list.server);
        return Ok(ExitCode::SUCCESS);
    }
    let width = list.routes.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).max(4);
    println!("{:width$}  {:4}  FROM", "NAME", "TYPE");
    for r in &list.routes {
        println!("{:width$}  {:4}  {}", r.name, r.kind, r.from);
    }
    Ok(ExitCode::SUCCESS)
}
