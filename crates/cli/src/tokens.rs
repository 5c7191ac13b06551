//! Where tokens live for the CLI (the OS keychain, shared with the desktop app, or a 0600 file
//! when no keychain is reachable), and `logout` / `cache location` / `cache clear`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use porthole_client::tokens::{self, MemoryStore, TokenStore};

/// The store tokens are kept in, and the warning to show once, loudly, when it is a file.
pub fn store() -> (Arc<dyn TokenStore>, Option<String>) {
    let (store, kind) = tokens::default_store();
    (store, kind.warning())
}

/// A store that keeps nothing past this run (service accounts are not persisted).
pub fn memory_store() -> Arc<dyn TokenStore> {
    Arc::new(MemoryStore::default())
}

/// The token origin for what a person types: `https://proxy.example.com`, `proxy:8443`, …
fn origin_of(proxy: &str) -> anyhow::Result<String> {
    let url = if proxy.contains("://") { proxy.to_owned() } else { format!("https://{proxy}") };
    let target = porthole_tunnel::target::parse("logout.invalid:1", Some(&url))
        .with_context(|| format!("{proxy:?} is not a proxy URL (e.g. https://proxy.example.com)"))?;
    Ok(target.proxy.origin())
}

/// `porthole logout [proxy]`.
///
/// # Errors
/// When the proxy is not a URL or the store fails.
pub fn logout(proxy: Option<&str>) -> anyhow::Result<ExitCode> {
    let (store, _) = tokens::default_store();
    let cache = tokens::cache_location();
    match proxy {
        Some(p) => {
            let origin = origin_of(p)?;
            tokens::logout(&*store, &cache, &origin)?;
            eprintln!("logged out of {origin}");
        }
        None => {
            let cleared = tokens::clear_all(&*store, &cache)?;
            eprintln!("logged out of {} prox{}", cleared.len(), if cleared.len() == 1 { "y" } else { "ies" });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `porthole cache location`: prints the cache directory (and where tokens are kept).
///
/// # Errors
/// Never.
pub fn location() -> anyhow::Result<ExitCode> {
    println!("{}", tokens::cache_location().display());
    Ok(ExitCode::SUCCESS)
}

/// `porthole cache clear`: deletes every stored token.
///
/// # Errors
/// When the store fails.
pub fn clear() -> anyhow::Result<ExitCode> {
    let (store, _) = tokens::default_store();
    let cleared = tokens::clear_all(&*store, &tokens::cache_location())?;
    eprintln!("removed {} stored token(s)", cleared.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_from_what_people_type() {
        assert_eq!(origin_of("https://proxy.example.com").unwrap(), "https://proxy.example.com:443");
        assert_eq!(origin_of("proxy.example.com").unwrap(), "https://proxy.example.com:443");
        assert_eq!(origin_of("proxy.example.com:8443").unwrap(), "https://proxy.example.com:8443");
        assert_eq!(origin_of("http://proxy.example.com").unwrap(), "http://proxy.example.com:80");
    }
}
