//! Who is signed in where: the user of each stored token (its `email` claim, read without
//! verifying; the token itself is never logged), and logging in to a connection's proxy, as
//! the same user or, with the identity provider asked to show its login form again
//! (`prompt=login`, passed on by the gateway's login API), as someone else.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

use crate::app::{App, lock};
use crate::error::{AppError, ErrorCode};
use crate::model::ConnectionStatus;
use crate::tokens;

/// One proxy with a stored token, and whom it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    /// The proxy origin (`https://proxy.example.com`).
    pub origin: String,
    /// The token's `email` (or `sub`) claim, when it has one.
    pub user: Option<String>,
}

/// The `prompt` "Log in as someone else" sends: the identity provider shows its login form
/// even though the browser still has a session there.
pub const SWITCH_ACCOUNT_PROMPT: &str = "login";

impl App {
    /// Proxy origins that have a stored token, with the user each token names.
    pub async fn signed_in_users(&self) -> Vec<SignedIn> {
        let mut origins: Vec<String> = tokens::OriginIndex::new(&self.state.cache_dir).list();
        origins.extend(lock(&self.state.origins).iter().cloned());
        origins.sort();
        origins.dedup();
        let store = self.state.tokens.clone();
        tokio::task::spawn_blocking(move || {
            origins
                .into_iter()
                .filter_map(|origin| match store.load(&origin) {
                    Ok(Some(token)) => Some(SignedIn { user: token.user(), origin }),
                    _ => None,
                })
                .collect()
        })
        .await
        .unwrap_or_default()
    }

    /// Logs in to the proxy of connection `id` now. `switch_account` forgets the stored token
    /// (as the login starts, under the proxy's login slot) and asks the identity provider for
    /// its login form (another account); when that login fails the proxy is signed out. A failing
    /// running connection then restarts on its address, so the next client tries as the new
    /// user.
    ///
    /// # Errors
    /// `not_found`; those of building the tunnel; `auth` when the login fails.
    pub async fn log_in(&self, id: &str, switch_account: bool) -> Result<(), AppError> {
        let profile = self.profile(id)?;
        let config = self.tunnel_options(&profile)?.build()?;
        let target = config.connector.target();
        let origin = target.proxy.origin();
        let (events, _) = broadcast::channel(16);
        let auth = &self.state.auth;
        let result = if switch_account {
            // `login_again` forgets the old token while it holds the proxy's login slot: a
            // connection that finds no token meanwhile waits for this login and shares it,
            // instead of starting one without the prompt (which the IdP's browser session
            // would answer as the old user).
            let again = auth
                .login_again(&origin, &target.proxy.login_base(), &config.login, Some(SWITCH_ACCOUNT_PROMPT), &events)
                .await;
            if again.is_err() {
                // The old login is gone either way: say so everywhere (keychain, file cache).
                let _ = self.sign_out(&origin).await;
            }
            again
        } else {
            auth.login(&origin, &target.proxy.login_base(), None, &config.login, &events).await
        };
        result.map_err(|e| AppError::new(ErrorCode::Auth, crate::wording::login_failed(&e.problem())))?;
        lock(&self.state.origins).insert(origin);
        if matches!(self.status(id), ConnectionStatus::Failing { .. }) {
            self.reconnect(id).await?;
        }
        Ok(())
    }
}
