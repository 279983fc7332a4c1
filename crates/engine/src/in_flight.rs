//! The runs this process is sending to Databricks right now. A run stored
//! with its submit intent and no answer yet looks, from the store, exactly
//! like one whose answer a crash lost, which the tracker recovers by
//! re-sending under the same token. While the first send is still under
//! way here (queued behind the workspace's `run-now` budget, say), such a
//! re-send is a duplicate request that spends that budget again and holds
//! up the tracking round: the tracker skips runs listed here. A crash
//! empties the list with the process, so recovery is unchanged.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// The ids of the runs being sent by this process.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    ids: Mutex<HashSet<String>>,
}

/// Listed while alive: dropped (sent, failed, or the task cancelled), the
/// run leaves the list.
pub(crate) struct Sending<'a> {
    set: &'a InFlight,
    id: String,
}

impl InFlight {
    /// Lists `run_id` until the returned guard is dropped.
    pub(crate) fn enter(&self, run_id: &str) -> Sending<'_> {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run_id.to_owned());
        Sending {
            set: self,
            id: run_id.to_owned(),
        }
    }

    /// Whether this process is sending `run_id` now.
    pub(crate) fn contains(&self, run_id: &str) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(run_id)
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.set
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_while_the_guard_lives() {
        let f = InFlight::default();
        {
            let _s = f.enter("r1");
            assert!(f.contains("r1"));
            assert!(!f.contains("r2"));
        }
        assert!(!f.contains("r1"));
    }
}
