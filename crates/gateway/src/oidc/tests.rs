//! The refresh rules on tokio's paused clock, with a fetch that counts its calls and can be
//! made to fail: single flight, one on-demand refresh per 30 s, hourly timer, old keys kept.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use openidconnect::core::CoreProviderMetadata;
use tokio_util::sync::CancellationToken;

use super::{Discover, IdpError, MIN_REFETCH_GAP, Provider, REFRESH_EVERY, RETRY_WHILE_EMPTY};

const URL: &str = "http://idp.test";

/// A fetch that takes 100 ms, counts itself, and fails while `down` is set.
struct Fake {
    calls: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

fn metadata() -> CoreProviderMetadata {
    serde_json::from_value(serde_json::json!({
        "issuer": URL,
        "authorization_endpoint": format!("{URL}/auth"),
        "token_endpoint": format!("{URL}/token"),
        "jwks_uri": format!("{URL}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .expect("a minimal discovery document")
}

fn provider(down: bool) -> (Arc<Provider>, Fake) {
    let fake = Fake { calls: Arc::new(AtomicUsize::new(0)), down: Arc::new(AtomicBool::new(down)) };
    let (calls, is_down) = (fake.calls.clone(), fake.down.clone());
    let discover: Discover = Arc::new(move || {
        let (calls, is_down) = (calls.clone(), is_down.clone());
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            if is_down.load(Ordering::SeqCst) {
                return Err(IdpError::Unreachable { url: URL.into(), cause: "connection refused".into() });
            }
            Ok(metadata())
        })
    });
    (Arc::new(Provider::with_discover(URL.into(), discover)), fake)
}

/// Runs `n` key-miss refreshes at once and returns the generations they got.
async fn burst(p: &Arc<Provider>, seen: u64, n: usize) -> Vec<Option<u64>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let p = p.clone();
        set.spawn(async move { p.refresh_after_key_miss(seen).await.map(|s| s.generation) });
    }
    set.join_all().await
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_key_misses_fetches_once_per_30_seconds() {
    let (p, fake) = provider(false);
    let first = p.get().await.expect("first fetch");
    assert_eq!((first.generation, fake.calls.load(Ordering::SeqCst)), (1, 1));

    // Right after the first fetch: a rotation just after startup must be picked up at once.
    let got = burst(&p, first.generation, 50).await;
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2, "50 concurrent key misses share one fetch");
    assert!(got.iter().all(|g| *g == Some(2)), "every waiting login gets the new keys: {got:?}");

    let got = burst(&p, 2, 50).await;
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2, "no second fetch within 30 s of the last");
    assert!(got.iter().all(Option::is_none), "rate-limited: nothing newer to retry with: {got:?}");
    tokio::time::advance(MIN_REFETCH_GAP - Duration::from_secs(1)).await;
    assert!(p.refresh_after_key_miss(2).await.is_none(), "29 s later: still rate-limited");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);

    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(p.refresh_after_key_miss(2).await.map(|s| s.generation), Some(3), "31 s later: fetched again");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_old_keys() {
    let (p, fake) = provider(false);
    let first = p.get().await.expect("first fetch");
    fake.down.store(true, Ordering::SeqCst);

    p.refresh().await;
    assert_eq!(p.snapshot().map(|s| s.generation), Some(1), "the timer's failed fetch keeps generation 1");
    assert!(p.refresh_after_key_miss(first.generation).await.is_none(), "nothing newer when the provider is down");
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    assert_eq!(p.get().await.expect("still usable").generation, 1, "logins keep working with the old keys");
}

#[tokio::test(start_paused = true)]
async fn logins_during_an_outage_share_one_failed_fetch() {
    let (p, fake) = provider(true);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let p = p.clone();
        set.spawn(async move { p.get().await.map(|s| s.generation) });
    }
    for got in set.join_all().await {
        assert_eq!(
            got.expect_err("the provider is down").to_string(),
            "cannot reach the identity provider at http://idp.test: connection refused"
        );
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1, "20 logins waiting on one fetch share its error");
}

#[tokio::test(start_paused = true)]
async fn the_timer_fetches_at_start_retries_while_empty_then_hourly() {
    let (p, fake) = provider(true);
    let stop = CancellationToken::new();
    let task = tokio::spawn(p.clone().keep_fresh(stop.clone()));
    let calls = || fake.calls.load(Ordering::SeqCst);

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((calls(), p.snapshot().is_none()), (1, true), "fetched at startup, provider down");
    fake.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(RETRY_WHILE_EMPTY + Duration::from_millis(200)).await;
    assert_eq!(calls(), 2, "retried 30 s later");
    assert_eq!(p.snapshot().map(|s| s.generation), Some(1), "and now holds keys");

    tokio::time::sleep(REFRESH_EVERY - Duration::from_secs(60)).await;
    assert_eq!(calls(), 2, "no fetch before the hour is up");
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!((calls(), p.snapshot().map(|s| s.generation)), (3, Some(2)), "refreshed after an hour");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(1), task).await.expect("stops when cancelled").expect("no panic");
}
