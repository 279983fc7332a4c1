//! The AppKit jobs seed's execution tiers (read, write, stream, poll) as
//! they apply to Polysync: timeouts and retries of the Databricks calls
//! each tier makes, and a read cache that can never serve a stale run
//! status.
//!
//! AppKit cached `getRun` for 60 s and answered PENDING after the run had
//! ended. Here run state is never cached: it is served from the store,
//! and a read of an active run refreshes it upstream first. The read
//! cache holds only Databricks answers that cannot change any more: the
//! task runs (states, errors, exit values) of a run that has ended.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use polysync_databricks::{ConfigBuilder, RetryPolicy};
use polysync_providers::TaskRun;

/// The read tier: `runs/get`, `runs/list`, `runs/get-output`, job and
/// workspace reads (every GET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTier {
    /// How long an ended run's task-run details are kept (0: no cache).
    pub cache: Duration,
    /// Attempts per request, the first included (1: no retry).
    pub attempts: u32,
    /// Timeout of each attempt.
    pub timeout: Duration,
}

/// The write tier: `run-now`, `runs/submit`, `runs/cancel` (every
/// mutating request). Never cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteTier {
    /// Attempts per request, the first included (1: no retry; a run that
    /// was not started is re-sent under the same idempotency token by the
    /// tracker, never duplicated).
    pub attempts: u32,
    /// Timeout of each attempt.
    pub timeout: Duration,
}

/// Every tier, defaulting to the seed's values: reads 60 s cache / 3
/// attempts / 30 s, writes no cache / no retry / 120 s, streams 600 s,
/// poll 5000 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionTiers {
    /// Reads.
    pub read: ReadTier,
    /// Writes.
    pub write: WriteTier,
    /// The longest a live stream follows a run (a key's own
    /// `wait_timeout` may end it sooner); the run keeps going.
    pub stream: Duration,
    /// Delay between tracking rounds of the server's loop.
    pub poll: Duration,
}

impl Default for ExecutionTiers {
    fn default() -> Self {
        Self {
            read: ReadTier {
                cache: Duration::from_secs(60),
                attempts: 3,
                timeout: Duration::from_secs(30),
            },
            write: WriteTier {
                attempts: 1,
                timeout: Duration::from_secs(120),
            },
            stream: Duration::from_secs(600),
            poll: Duration::from_millis(5000),
        }
    }
}

impl ExecutionTiers {
    /// Applies the read and write tiers to a workspace client's builder.
    pub(crate) fn configure(&self, builder: ConfigBuilder) -> ConfigBuilder {
        let policy = |attempts: u32| RetryPolicy {
            max_attempts: Some(attempts.max(1)),
            ..RetryPolicy::default()
        };
        builder
            .read_timeout(self.read.timeout)
            .write_timeout(self.write.timeout)
            .retry_policy(policy(self.read.attempts))
            .write_retry_policy(policy(self.write.attempts))
    }
}

/// Ended runs' task runs by (run id, with outputs), with when they were read.
type TaskRunCache = HashMap<(String, bool), (Instant, Vec<TaskRun>)>;

/// The engine's tier settings (none: the client's defaults, as the CLI
/// uses) and the read cache they govern.
#[derive(Debug, Default)]
pub(crate) struct TierState {
    pub(crate) tiers: Option<ExecutionTiers>,
    cache: Mutex<TaskRunCache>,
}

impl TierState {
    pub(crate) fn new(tiers: Option<ExecutionTiers>) -> Self {
        Self {
            tiers,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn ttl(&self) -> Duration {
        self.tiers.map_or(Duration::ZERO, |t| t.read.cache)
    }

    /// The cached task runs of the ended run `run_id`, if still fresh.
    pub(crate) fn cached(&self, run_id: &str, outputs: bool) -> Option<Vec<TaskRun>> {
        let ttl = self.ttl();
        if ttl.is_zero() {
            return None;
        }
        let mut cache = self.cache.lock().ok()?;
        let key = (run_id.to_owned(), outputs);
        match cache.get(&key) {
            Some((at, tasks)) if at.elapsed() < ttl => Some(tasks.clone()),
            Some(_) => {
                cache.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Keeps the task runs of the ended run `run_id` (only ever called for
    /// a run whose stored status is terminal: they cannot change).
    pub(crate) fn keep(&self, run_id: &str, outputs: bool, tasks: &[TaskRun]) {
        let ttl = self.ttl();
        if ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            cache.insert(
                (run_id.to_owned(), outputs),
                (Instant::now(), tasks.to_vec()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tiers_no_cache_and_zero_ttl_no_cache() {
        let none = TierState::default();
        none.keep("r", false, &[]);
        assert!(none.cached("r", false).is_none());
        let mut tiers = ExecutionTiers::default();
        tiers.read.cache = Duration::ZERO;
        let off = TierState::new(Some(tiers));
        off.keep("r", false, &[]);
        assert!(off.cached("r", false).is_none());
        let on = TierState::new(Some(ExecutionTiers::default()));
        on.keep("r", false, &[]);
        assert_eq!(on.cached("r", false), Some(Vec::new()));
        assert!(on.cached("r", true).is_none());
    }
}
