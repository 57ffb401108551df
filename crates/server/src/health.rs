//! Readiness: whether the store takes a durable write now, checked at most once a second
//! however often `/healthz` is asked, so that probing cannot become a write load.

use std::sync::Arc;
use std::time::Duration;

use tidings_store::Store;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long an answer is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// Longest a check waits for the store before it counts as unavailable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The store's readiness, checked on demand and remembered for a moment.
#[derive(Debug, Default)]
pub struct StoreHealth {
    last: Mutex<Option<(Instant, bool)>>,
}

impl StoreHealth {
    /// Whether the store took a write within the last second, checking again when the last
    /// answer is older. Concurrent callers wait for one check.
    pub(crate) async fn ready(&self, store: &Arc<dyn Store>) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ready)) = *last
            && at.elapsed() < FRESH_FOR
        {
            return ready;
        }
        let checked =
            tokio::time::timeout(CHECK_TIMEOUT, store.check_health(tidings_service::now())).await;
        let ready = match checked {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "health check: the store takes no write");
                false
            }
            Err(_) => {
                tracing::warn!(timeout = ?CHECK_TIMEOUT, "health check: the store did not answer");
                false
            }
        };
        *last = Some((Instant::now(), ready));
        ready
    }
}
