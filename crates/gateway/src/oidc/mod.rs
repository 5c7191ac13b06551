//! The identity provider's discovery document and signing keys (JWKS), kept fresh.
//!
//! They are fetched in the background at startup (a gateway whose provider is down still starts,
//! says why in its log, and retries), again every [`REFRESH_EVERY`], and on demand when an ID
//! token names an unknown key or its signature fails: a provider that rotates its signing key
//! needs no gateway restart. On-demand refreshes are single-flight (one fetch, every waiting
//! login shares it) and at most one per [`MIN_REFETCH_GAP`], so a flood of bad tokens cannot
//! turn the gateway into a load generator against the provider. A failed refresh keeps the keys
//! already held: the gateway never ends up with none because the provider blinked.

pub mod error;
pub mod http;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use error::IdpError;

/// How often discovery and JWKS are fetched again while all is well. Pomerium Core has no
/// setting for this, so neither does the gateway.
pub const REFRESH_EVERY: Duration = Duration::from_secs(3600);
/// At most one on-demand refresh (unknown `kid`, failed signature) per this interval; the
/// timer's hourly fetch comes on top.
pub const MIN_REFETCH_GAP: Duration = Duration::from_secs(30);
/// While nothing was ever fetched (the provider was down at startup), try again this often.
pub const RETRY_WHILE_EMPTY: Duration = Duration::from_secs(30);
/// One fetch (discovery document, then JWKS) may take this long in all.
pub const FETCH_DEADLINE: Duration = Duration::from_secs(25);

/// A fetch of discovery + JWKS.
pub type Discover =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<CoreProviderMetadata, IdpError>> + Send>> + Send + Sync>;

/// Provider metadata (with its JWKS) and the number of the fetch that produced it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Discovery document and key set.
    pub metadata: Arc<CoreProviderMetadata>,
    /// Increases by one with every successful fetch.
    pub generation: u64,
}

/// Bookkeeping of fetches, behind the single-flight lock.
#[derive(Default)]
struct Fetches {
    /// When the last on-demand fetch (after a key miss, successful or not) started. Startup and
    /// timer fetches do not count: a rotation right after the gateway started must still work.
    last_on_demand: Option<Instant>,
    /// The error of the last fetch, if it failed.
    last_error: Option<IdpError>,
}

/// One identity provider's metadata and keys.
pub struct Provider {
    url: String,
    discover: Discover,
    current: RwLock<Option<Snapshot>>,
    /// Held for the whole of a fetch: one fetch at a time.
    fetches: tokio::sync::Mutex<Fetches>,
    /// Completed fetches, read before waiting for the lock to notice one finished meanwhile.
    completed: AtomicU64,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider whose issuer is `issuer` ([`crate::config::IdpConfig::issuer`]: as the
    /// provider writes it, with or without a trailing slash), fetched with `http`.
    pub fn new(issuer: String, http: http::HttpClient) -> Self {
        let url = issuer;
        let target = url.clone();
        let discover: Discover = Arc::new(move || {
            let (url, http) = (target.clone(), http.clone());
            Box::pin(async move {
                let issuer = IssuerUrl::new(url.clone())
                    .map_err(|e| IdpError::BadAnswer { url: url.clone(), detail: e.to_string() })?;
                CoreProviderMetadata::discover_async(issuer, &http).await.map_err(|e| error::discovery(&url, &e))
            })
        });
        Self::with_discover(url, discover)
    }

    /// A provider whose metadata comes from `discover` (tests count and fail fetches with it).
    pub fn with_discover(url: String, discover: Discover) -> Self {
        Self {
            url,
            discover,
            current: RwLock::new(None),
            fetches: tokio::sync::Mutex::new(Fetches::default()),
            completed: AtomicU64::new(0),
        }
    }

    /// The issuer URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The metadata held now, if any.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.current.read().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The metadata, fetched first if none is held. Logins that arrive during that fetch wait
    /// for it and share its result, error included.
    ///
    /// # Errors
    /// The fetch's [`IdpError`] when nothing is held and the provider cannot be used.
    pub async fn get(&self) -> Result<Snapshot, IdpError> {
        if let Some(s) = self.snapshot() {
            return Ok(s);
        }
        let seen = self.completed.load(Ordering::Acquire);
        let mut fetches = self.fetches.lock().await;
        if let Some(s) = self.snapshot() {
            return Ok(s);
        }
        if self.completed.load(Ordering::Acquire) != seen
            && let Some(e) = &fetches.last_error
        {
            return Err(e.clone());
        }
        self.fetch(&mut fetches, "first use").await
    }

    /// After an ID token signed with metadata `seen` failed its signature check: metadata
    /// newer than `seen`, fetched now unless another login just did, or `None` when a fetch
    /// ran less than [`MIN_REFETCH_GAP`] ago or failed (the old keys stay).
    pub async fn refresh_after_key_miss(&self, seen: u64) -> Option<Snapshot> {
        let mut fetches = self.fetches.lock().await;
        if let Some(s) = self.snapshot().filter(|s| s.generation != seen) {
            return Some(s);
        }
        if fetches.last_on_demand.is_some_and(|t| t.elapsed() < MIN_REFETCH_GAP) {
            tracing::debug!(provider = %self.url, "ID token key unknown; keys were fetched less than 30 s ago");
            return None;
        }
        fetches.last_on_demand = Some(Instant::now());
        self.fetch(&mut fetches, "unknown signing key").await.ok()
    }

    /// Fetches now (the timer's refresh); a failure is logged and the old keys kept.
    pub async fn refresh(&self) {
        let mut fetches = self.fetches.lock().await;
        let _ = self.fetch(&mut fetches, "timer").await;
    }

    /// Fetches at once, then every [`REFRESH_EVERY`] (every [`RETRY_WHILE_EMPTY`] while no
    /// fetch has ever succeeded), until `stop` is cancelled.
    pub async fn keep_fresh(self: Arc<Self>, stop: CancellationToken) {
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.refresh() => {}
            }
            wait = if self.snapshot().is_some() { REFRESH_EVERY } else { RETRY_WHILE_EMPTY };
        }
    }

    async fn fetch(&self, fetches: &mut Fetches, why: &str) -> Result<Snapshot, IdpError> {
        let outcome = match tokio::time::timeout(FETCH_DEADLINE, (self.discover)()).await {
            Ok(r) => r,
            Err(_) => Err(IdpError::Unreachable {
                url: self.url.clone(),
                cause: format!("no answer within {} s", FETCH_DEADLINE.as_secs()),
            }),
        };
        let result = match outcome {
            Ok(metadata) => {
                let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                let generation = current.as_ref().map_or(1, |s| s.generation + 1);
                let snapshot = Snapshot { metadata: Arc::new(metadata), generation };
                *current = Some(snapshot.clone());
                tracing::info!(
                    provider = %self.url,
                    keys = snapshot.metadata.jwks().keys().len(),
                    generation,
                    reason = why,
                    "identity provider metadata and keys fetched"
                );
                fetches.last_error = None;
                Ok(snapshot)
            }
            Err(e) => {
                let kept = if self.snapshot().is_some() { "; keeping the keys fetched before" } else { "" };
                tracing::warn!(reason = why, "{e}{kept}");
                fetches.last_error = Some(e.clone());
                Err(e)
            }
        };
        self.completed.fetch_add(1, Ordering::Release);
        result
    }
}

#[cfg(test)]
mod tests;
