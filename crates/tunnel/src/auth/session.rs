//! The token a tunnel sends, and the rule that there is **one login at a time per proxy**:
//! fifty connections arriving together before any login cause one browser launch, and all
//! fifty proceed when it completes (pomerium-cli opens fifty tabs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};

use super::browser::Browser;
use super::fallback::MemoryFallback;
use super::login::{LoginError, LoginSettings, browser_login_prompt};
use super::{Token, TokenStore};
use crate::events::TunnelEvent;

/// A token closer than this to its `exp` is treated as expired (clock skew, slow links).
pub const EXPIRY_SKEW_SECS: u64 = 30;

/// One proxy's login slot: a lock held while a login runs, its login page, and the outcome of
/// the last one.
struct Slot {
    /// Bumped when a login finishes.
    generation: Mutex<u64>,
    /// The last login's outcome (for connections that waited on it).
    last: Mutex<Option<Result<Token, LoginError>>>,
    /// Held by the login that runs (a task of its own, [`Authenticator::run_login`]).
    running: Arc<tokio::sync::Mutex<()>>,
    /// The running login's page once it has one: connections waiting on the slot show it too
    /// (each desktop connection has its own status, and "Open login" needs the URL).
    page: watch::Sender<Option<String>>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            generation: Mutex::default(),
            last: Mutex::default(),
            running: Arc::default(),
            page: watch::Sender::new(None),
        }
    }
}

impl Slot {
    /// How many logins have finished.
    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last login's outcome.
    fn last(&self) -> Option<Result<Token, LoginError>> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Records a finished login's outcome for the connections that waited on it.
    fn finish(&self, outcome: &Result<Token, LoginError>) {
        self.page.send_replace(None);
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(outcome.clone());
        *self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
    }
}

/// Tokens for every proxy, shared by all tunnels of a process (the desktop app runs many):
/// a process has one.
pub struct Authenticator {
    store: Arc<dyn TokenStore>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    service_account: Option<Token>,
    /// Set once a failing `load` was logged as a warning (later ones are debug).
    load_warned: AtomicBool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("service_account", &self.service_account.is_some())
            .finish_non_exhaustive()
    }
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Authenticator {
    /// Tokens kept in `store`; with a service account, logins use it instead of a browser.
    /// A token `store` cannot keep is kept in memory until the process exits
    /// ([`MemoryFallback`]), so a failing store never costs a second login.
    pub fn new(store: Arc<dyn TokenStore>, service_account: Option<Token>) -> Self {
        Self {
            store: Arc::new(MemoryFallback::new(store)),
            slots: Mutex::new(HashMap::new()),
            service_account,
            load_warned: AtomicBool::new(false),
        }
    }

    fn slot(&self, origin: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(origin.to_owned()).or_default().clone()
    }

    /// The stored token for `origin`, unless it is expired (an expired token is not sent).
    /// A store failure is treated as "no token" (and logged): the login will replace it.
    pub async fn current(&self, origin: &str) -> Option<Token> {
        let store = self.store.clone();
        let key = origin.to_owned();
        let loaded = tokio::task::spawn_blocking(move || store.load(&key)).await;
        match loaded {
            Ok(Ok(Some(t))) if !t.is_expired(now_unix(), EXPIRY_SKEW_SECS) => Some(t),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                if self.load_warned.swap(true, Ordering::Relaxed) {
                    tracing::debug!(origin, error = %e, "could not read the stored token");
                } else {
                    tracing::warn!(origin, error = %e, "could not read the stored token (this warning is shown once)");
                }
                None
            }
            Err(_) => None,
        }
    }

    /// Forgets the token for `origin` (the proxy refused it even right after a login).
    pub async fn forget(&self, origin: &str) {
        let store = self.store.clone();
        let key = origin.to_owned();
        let _ = tokio::task::spawn_blocking(move || store.delete(&key)).await;
    }

    /// Gets a new token for `origin` because `stale` (what this connection sent, if anything)
    /// was refused. If another connection is already logging in, waits for that login instead
    /// of starting a second one. The login runs as a task of its own: dropping this future (its
    /// connection was disconnected) does not end it ([`Self::run_login`]).
    ///
    /// # Errors
    /// [`LoginError`] from the login (shared by every connection that waited for it).
    pub async fn login(
        &self,
        origin: &str,
        login_base: &str,
        stale: Option<&Token>,
        settings: &LoginSettings,
        events: &broadcast::Sender<TunnelEvent>,
    ) -> Result<Token, LoginError> {
        let slot = self.slot(origin);
        let seen = slot.generation();
        let running = wait_for_slot(&slot, origin, events).await;
        if slot.generation() != seen {
            // A login finished while we waited: share its outcome.
            if let Some(outcome) = slot.last() {
                return outcome;
            }
        }
        // Another process (the desktop app, another CLI) may have logged in meanwhile.
        if let Some(t) = self.current(origin).await
            && Some(&t) != stale
        {
            return Ok(t);
        }
        self.run_login(slot, running, origin, login_base, settings, None, events).await
    }

    /// Forgets the token of `origin` and logs in again now, asking the identity provider to
    /// `prompt` (`login`: "log in as someone else" shows the login form even though the
    /// browser still has a session there). Waits for a login already running for `origin`.
    ///
    /// # Errors
    /// [`LoginError`] from the login.
    pub async fn login_again(
        &self,
        origin: &str,
        login_base: &str,
        settings: &LoginSettings,
        prompt: Option<&str>,
        events: &broadcast::Sender<TunnelEvent>,
    ) -> Result<Token, LoginError> {
        let slot = self.slot(origin);
        let running = wait_for_slot(&slot, origin, events).await;
        self.forget(origin).await;
        self.run_login(slot, running, origin, login_base, settings, prompt, events).await
    }

    /// Runs a login as a task of its own that holds the slot (`running`) until it ends, and
    /// waits for it. Dropping the caller (its connection was disconnected) leaves the login
    /// running: the browser tab stays good, and the connections that wait on the slot share its
    /// outcome instead of opening a second tab. It ends with the login's own timeout.
    #[allow(clippy::too_many_arguments)]
    async fn run_login(
        &self,
        slot: Arc<Slot>,
        running: tokio::sync::OwnedMutexGuard<()>,
        origin: &str,
        login_base: &str,
        settings: &LoginSettings,
        prompt: Option<&str>,
        events: &broadcast::Sender<TunnelEvent>,
    ) -> Result<Token, LoginError> {
        let (store, service_account) = (self.store.clone(), self.service_account.clone());
        let (origin, login_base, settings, events) =
            (origin.to_owned(), login_base.to_owned(), settings.clone(), events.clone());
        let prompt = prompt.map(str::to_owned);
        let task = tokio::spawn(async move {
            let page = |url: &str| {
                slot.page.send_replace(Some(url.to_owned()));
            };
            let outcome =
                login_now(store, service_account, &origin, &login_base, &settings, prompt.as_deref(), &events, page)
                    .await;
            slot.finish(&outcome);
            drop(running);
            outcome
        });
        match task.await {
            Ok(outcome) => outcome,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down: so is every connection that could use the token.
            Err(_) => Err(LoginError::Timeout(Duration::ZERO)),
        }
    }
}

/// Takes `slot`'s lock, which a running login holds. While it waits, this connection's
/// `events` say which login page it waits on ([`TunnelEvent::LoginPending`]), and that the
/// wait is over when it got the page.
async fn wait_for_slot(
    slot: &Slot,
    origin: &str,
    events: &broadcast::Sender<TunnelEvent>,
) -> tokio::sync::OwnedMutexGuard<()> {
    let pending = |url: Option<String>| {
        let _ = events.send(TunnelEvent::LoginPending { origin: origin.to_owned(), url });
    };
    let mut page = slot.page.subscribe();
    let lock = slot.running.clone().lock_owned();
    tokio::pin!(lock);
    let mut shown = false;
    let running = loop {
        if let Some(url) = page.borrow_and_update().clone() {
            pending(Some(url));
            shown = true;
        }
        tokio::select! {
            running = &mut lock => break running,
            changed = page.changed() => if changed.is_err() { break lock.await },
        }
    };
    if shown {
        pending(None);
    }
    running
}

/// One login: the service account's token, or the browser's; stored, and announced (`page`
/// is told the login page too, for the connections that wait on this login).
#[allow(clippy::too_many_arguments)]
async fn login_now(
    store: Arc<dyn TokenStore>,
    service_account: Option<Token>,
    origin: &str,
    login_base: &str,
    settings: &LoginSettings,
    prompt: Option<&str>,
    events: &broadcast::Sender<TunnelEvent>,
    page: impl Fn(&str),
) -> Result<Token, LoginError> {
    let token = match &service_account {
        Some(t) => Ok(t.clone()),
        None => {
            browser_login_prompt(login_base, settings, prompt, |url| {
                page(url);
                let _ = events.send(TunnelEvent::AuthRequired { origin: origin.to_owned(), url: url.to_owned() });
            })
            .await
        }
    };
    let token = match token {
        Ok(t) => t,
        Err(e) => {
            let _ = events.send(TunnelEvent::LoginFailed { origin: origin.to_owned(), message: e.to_string() });
            return Err(e);
        }
    };
    let (key, t) = (origin.to_owned(), token.clone());
    // The store is a `MemoryFallback`: it keeps what the backend refuses, and warns once.
    match tokio::task::spawn_blocking(move || store.store(&key, &t)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(origin, error = %e, "could not store the token"),
        Err(_) => {}
    }
    let _ = events.send(TunnelEvent::LoginCompleted { origin: origin.to_owned() });
    Ok(token)
}

/// Defaults for a login: the system browser, five minutes.
pub fn default_settings(tls: Option<Arc<rustls::ClientConfig>>) -> LoginSettings {
    LoginSettings { tls, browser: Browser::System, timeout: Duration::from_secs(300) }
}
