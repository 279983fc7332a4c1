//! The per-workspace request budget every client of one host shares: it
//! keeps each endpoint under ~90% of Databricks' published per-workspace
//! rate limits (`runs/get` 100 rps; jobs create/get/list/reset/run-now
//! 20; delete/update 10; workspace list 50, export 60, import 30, delete 2),
//! and a 429 with `Retry-After` pauses *every* caller of that workspace
//! together instead of each one finding the limit on its own.
//!
//! One budget per host per process ([`Budget::for_host`]): the dispatcher's
//! tracker, CLI waiters and server handlers in one process draw from it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::Method;

use crate::rate_limit::{Lane, RateLimiter};

/// The share of each published limit the budget uses (headroom for other
/// clients of the workspace and clock differences).
pub const SHARE: f64 = 0.9;

/// Re-exported here, where the budget applies it; defined once in [`crate::limits`].
pub use crate::limits::PUBLISHED_LIMITS;

/// When a 429 carries no `Retry-After`, how long everyone pauses.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// One workspace's shared budget.
pub struct Budget {
    host: String,
    limiters: HashMap<&'static str, RateLimiter>,
    paused_until: Mutex<Option<tokio::time::Instant>>,
    requests: AtomicU64,
    throttled: AtomicU64,
    paused_waits: AtomicU64,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("host", &self.host)
            .field("requests", &self.requests())
            .field("throttled", &self.throttled())
            .finish_non_exhaustive()
    }
}

/// `GET jobs/runs/get` for `GET /api/2.1/jobs/runs/get`.
fn endpoint_key(method: &Method, path: &str) -> String {
    let rest = path.trim_start_matches('/');
    let rest = rest.strip_prefix("api/").unwrap_or(rest);
    let rest = rest.split_once('/').map_or(rest, |(_, r)| r);
    format!("{} {rest}", method.as_str())
}

impl Budget {
    /// A fresh budget for `host` (tests; real callers use [`Budget::for_host`]).
    pub fn new(host: &str) -> Self {
        let limiters = PUBLISHED_LIMITS
            .iter()
            .map(|(k, rps)| (*k, RateLimiter::with_rate(rps * SHARE)))
            .collect();
        Budget {
            host: host.to_owned(),
            limiters,
            paused_until: Mutex::new(None),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            paused_waits: AtomicU64::new(0),
        }
    }

    /// The process-wide budget of `host`, shared by every client of it.
    pub fn for_host(host: &str) -> Arc<Budget> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<Budget>>>> = OnceLock::new();
        let all = ALL.get_or_init(|| Mutex::new(HashMap::new()));
        let mut all = all.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(host.to_owned())
            .or_insert_with(|| Arc::new(Budget::new(host)))
            .clone()
    }

    /// Waits until a request to `method path` may be sent: past any pause a
    /// 429 imposed on the workspace, then within the endpoint's share.
    pub async fn acquire(&self, method: &Method, path: &str) {
        let mut waited = false;
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(t) if t > tokio::time::Instant::now() => {
                    if !waited {
                        waited = true;
                        self.paused_waits.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep_until(t).await;
                }
                _ => break,
            }
        }
        if let Some(l) = self.limiters.get(endpoint_key(method, path).as_str()) {
            l.acquire(Lane::of(method)).await;
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A 429 answered: every caller of the workspace pauses for
    /// `retry_after` (default 1 s) from now.
    pub fn throttled_for(&self, retry_after: Option<Duration>) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let until = tokio::time::Instant::now() + retry_after.unwrap_or(DEFAULT_PAUSE);
        let mut p = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
        tracing::info!(host = %self.host, ?retry_after, "429: pausing every caller of the workspace");
    }

    /// Requests sent through the budget.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// 429 answers received.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Requests that waited for a pause another request's 429 imposed.
    pub fn paused_waits(&self) -> u64 {
        self.paused_waits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keys_drop_the_api_version() {
        assert_eq!(
            endpoint_key(&Method::GET, "/api/2.1/jobs/runs/get"),
            "GET jobs/runs/get"
        );
        assert_eq!(
            endpoint_key(&Method::POST, "/api/2.0/workspace/import"),
            "POST workspace/import"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_caller_and_limits_hold_at_ninety_percent() {
        let b = Budget::new("h");
        b.throttled_for(Some(Duration::from_secs(2)));
        let start = tokio::time::Instant::now();
        tokio::join!(
            b.acquire(&Method::GET, "/api/2.0/workspace/list"),
            b.acquire(&Method::GET, "/api/2.1/jobs/runs/get"),
        );
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert_eq!((b.throttled(), b.paused_waits()), (1, 2));
        // runs/get: 90 per second at most.
        let start = tokio::time::Instant::now();
        for _ in 0..270 {
            b.acquire(&Method::GET, "/api/2.1/jobs/runs/get").await;
        }
        assert!(
            start.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            start.elapsed()
        );
    }
}
