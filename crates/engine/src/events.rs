//! The one channel on which every stored run change is published, so
//! watchers (the server's SSE streams, `run --wait`, later the dashboard)
//! follow runs without polling the store or Databricks themselves.

use serde::Serialize;
use tokio::sync::broadcast;

use polysync_core::Run;

/// How many changes a slow receiver may fall behind before it is told it
/// lagged (and should re-read what it shows).
const CAPACITY: usize = 4096;

/// A run as just stored after a change of status or Databricks state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEvent {
    /// The run after the change (its `version` orders events of one run).
    pub run: Run,
}

/// The sender side, held by the engine.
pub(crate) struct Events {
    tx: broadcast::Sender<RunEvent>,
}

impl Events {
    pub(crate) fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self { tx }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<RunEvent> {
        self.tx.subscribe()
    }

    /// Publishes a stored change; having no subscriber is not an error.
    pub(crate) fn publish(&self, run: &Run) {
        let _ = self.tx.send(RunEvent { run: run.clone() });
    }
}
