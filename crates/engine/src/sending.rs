//! Which runs this process is sending right now. A run carries its
//! submit intent from before it is sent until its answer is stored; in
//! that window the tracker (and a dispatcher recovering its attempts)
//! would take it for a send whose answer was lost and send it again. The
//! idempotency token makes that harmless for Databricks, but each such
//! re-send is a wasted request and store round trips, and a pass of a
//! thousand sends left every tracking round re-sending hundreds. So a
//! sender claims the run here first and holds the claim until the answer
//! is stored; whoever finds a run claimed leaves it to its sender.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The run ids being sent by this process.
#[derive(Debug, Default)]
pub(crate) struct Sending {
    ids: Arc<Mutex<HashSet<String>>>,
}

/// A claim on sending one run; released when dropped (after the answer
/// is stored, or when the send is given up).
#[derive(Debug)]
pub(crate) struct SendClaim {
    ids: Arc<Mutex<HashSet<String>>>,
    id: String,
}

impl Sending {
    /// Claims `run_id` for sending; `None` while another caller holds it.
    pub(crate) fn claim(&self, run_id: &str) -> Option<SendClaim> {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.insert(run_id.to_owned()).then(|| SendClaim {
            ids: self.ids.clone(),
            id: run_id.to_owned(),
        })
    }

    /// Whether some caller is sending `run_id` right now.
    pub(crate) fn is_sending(&self, run_id: &str) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(run_id)
    }
}

impl Drop for SendClaim {
    fn drop(&mut self) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_claimed_once_until_its_claim_is_dropped() {
        let sending = Sending::default();
        let first = sending.claim("r1");
        assert!(first.is_some());
        assert!(sending.claim("r1").is_none());
        assert!(sending.is_sending("r1"));
        assert!(sending.claim("r2").is_some(), "another run is independent");
        drop(first);
        assert!(!sending.is_sending("r1"));
        assert!(sending.claim("r1").is_some());
    }
}
