//! Fault injection: rate limits (429 + Retry-After), random 500/503, latency, dropped responses
//! and injected INTERNAL_ERROR runs. Kept off the hot path: with everything off, a request only
//! pays one `Arc` clone and a few comparisons.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use polysync_databricks::limits::{MAX_CONCURRENT_TASK_RUNS, PUBLISHED_LIMITS};
use serde::{Deserialize, Serialize};

/// Fault-injection settings, settable at start, via `EmulatorHandle::set_faults` or
/// `PUT /__emulator/faults` (same JSON shape; missing fields take their defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FaultConfig {
    /// Requests per second allowed per endpoint key (e.g. `"GET jobs/runs/get": 100`), counted
    /// over real time with a one-second burst. Exceeding answers 429 REQUEST_LIMIT_EXCEEDED with
    /// an integer `Retry-After`. The key `"*"` applies to every endpoint without its own entry.
    pub rate_limits: BTreeMap<String, f64>,
    /// Workspace limit of concurrently active task runs; a run-now/submit beyond it gets 429.
    pub max_concurrent_task_runs: Option<u64>,
    /// Probability (0–1) that an API request fails with 500 INTERNAL_ERROR or 503
    /// TEMPORARILY_UNAVAILABLE (half each) before it is handled.
    pub error_rate: f64,
    /// The status `error_rate` answers with: 500, 502, 503 or 504; `None` (default) = 500 and
    /// 503 half each. Lets a test aim at one retry rule (e.g. "reads survive 500s").
    pub error_status: Option<u16>,
    /// Latency added to every API request, in real milliseconds.
    pub latency_ms: u64,
    /// Probability (0–1) that a request is handled (committed) and then its connection is closed
    /// without a response: the client cannot tell whether it happened.
    pub drop_response_rate: f64,
    /// Deterministic variant: the next N matching requests are committed and their responses
    /// dropped. Re-arms each time faults are set.
    pub drop_next: u32,
    /// Endpoint keys the drop faults apply to (empty = all API endpoints).
    pub drop_endpoints: Vec<String>,
    /// Probability (0–1) that a newly created run ends INTERNAL_ERROR.
    pub internal_error_rate: f64,
    /// Endpoint keys answered with this HTTP status and a Databricks error body instead of being
    /// handled: a workspace without an API or a permission, e.g. `"GET pipelines": 404` (Delta
    /// Live Tables not enabled), `403` (no permission) or `501` (not implemented).
    pub refused_endpoints: BTreeMap<String, u16>,
}

impl FaultConfig {
    /// The published per-workspace limits (Databricks "Resource limits" page): the request
    /// rates of [`PUBLISHED_LIMITS`] and [`MAX_CONCURRENT_TASK_RUNS`] running task runs, from
    /// the one table the client's budget also reads.
    pub fn databricks_profile() -> Self {
        let rate_limits = PUBLISHED_LIMITS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        Self {
            rate_limits,
            max_concurrent_task_runs: Some(u64::from(MAX_CONCURRENT_TASK_RUNS)),
            ..Self::default()
        }
    }

    /// Look up a named profile (`databricks` or `none`).
    pub fn profile(name: &str) -> Option<Self> {
        match name {
            "databricks" => Some(Self::databricks_profile()),
            "none" | "off" => Some(Self::default()),
            _ => None,
        }
    }

    /// Whether anything at all is switched on (lets the hot path skip the fault layer).
    pub fn is_active(&self) -> bool {
        !self.rate_limits.is_empty()
            || !self.refused_endpoints.is_empty()
            || self.error_rate > 0.0
            || self.latency_ms > 0
            || self.drop_response_rate > 0.0
            || self.drop_next > 0
    }

    /// Whether drop faults apply to this endpoint key.
    pub fn drop_applies(&self, key: &str) -> bool {
        self.drop_endpoints.is_empty() || self.drop_endpoints.iter().any(|e| e == key)
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per endpoint key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Take one token for `key` at `rps`; `Err(retry_after_secs)` when the bucket is empty.
    pub fn check(&self, key: &str, rps: f64) -> Result<(), u64> {
        if !(rps.is_finite() && rps > 0.0) {
            return Err(1);
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: rps,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rps).min(rps.max(1.0));
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / rps;
            Err((wait.ceil() as u64).max(1))
        }
    }

    /// Forget all buckets (new limits start full).
    pub fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// A uniform random number in [0, 1).
pub fn roll() -> f64 {
    rand::random::<f64>()
}
