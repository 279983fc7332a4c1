//! The dispatcher's batched steps: a claim of many task runs becomes many
//! attempts sent concurrently (a bounded number in flight), so a pass's
//! cost is a few transactions plus the slowest few submits, not one
//! round trip after another per task run.

use futures_util::stream::{self, StreamExt};
use polysync_core::dag::TaskRun;

use crate::Result;
use crate::dag::now_ms;
use crate::dispatcher::Dispatcher;

/// Attempts sent at once. Enough to hide a workspace's latency; far below
/// the 429 threshold of one workspace when the client rate limit is on.
pub(crate) const SEND_CONCURRENCY: usize = 32;

impl Dispatcher {
    /// Claims up to `max_claim` ready task runs in one transaction,
    /// publishes them, and starts their attempts concurrently. Returns how
    /// many were claimed.
    pub(crate) async fn claim_and_start(&self) -> Result<usize> {
        let engine = self.engine();
        let now = now_ms();
        let claimed = engine
            .inner
            .store
            .claim_task_runs(
                self.id(),
                now,
                crate::dispatcher::ms(self.options().lease),
                self.options().max_claim,
            )
            .await?;
        for tr in &claimed {
            engine.inner.events.publish_task_run(tr);
        }
        self.start_all(&claimed).await?;
        Ok(claimed.len())
    }

    /// Starts the attempts of claimed task runs, [`SEND_CONCURRENCY`] at a
    /// time; the first store error is returned once all have been tried.
    /// Each attempt is written before it is sent (see
    /// `Dispatcher::start_attempt`), so a crash here loses nothing.
    pub(crate) async fn start_all(&self, claimed: &[TaskRun]) -> Result<()> {
        let results: Vec<Result<()>> = stream::iter(claimed)
            .map(|tr| self.start_attempt(tr))
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }
}
