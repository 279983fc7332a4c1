//! The one channel on which every stored change of a run, a task run or a
//! DAG run is published, so watchers (the server's SSE streams, `run
//! --wait`, the dashboard) follow them without polling the store or
//! Databricks themselves.

use serde::Serialize;
use tokio::sync::broadcast;

use polysync_core::Run;
use polysync_core::dag::{DagRun, TaskRun};

/// How many changes a slow receiver may fall behind before it is told it
/// lagged (and should re-read what it shows).
const CAPACITY: usize = 4096;

/// Something as just stored after a change. Each carries its row's
/// `version` (task and DAG runs: `updated_at`), which orders the events of
/// one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A Polysync run (a one-off run or a task attempt's run).
    Run {
        /// The run after the change.
        run: Run,
    },
    /// A task run of a DAG run.
    TaskRun {
        /// The task run after the change.
        task_run: TaskRun,
    },
    /// A DAG run.
    DagRun {
        /// The DAG run after the change.
        dag_run: DagRun,
    },
}

impl Event {
    /// The run, when this is a run change.
    pub fn as_run(&self) -> Option<&Run> {
        match self {
            Self::Run { run } => Some(run),
            _ => None,
        }
    }
}

/// The sender side, held by the engine.
pub(crate) struct Events {
    tx: broadcast::Sender<Event>,
}

impl Events {
    pub(crate) fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self { tx }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Publishes a stored run change; having no subscriber is not an error.
    pub(crate) fn publish(&self, run: &Run) {
        let _ = self.tx.send(Event::Run { run: run.clone() });
    }

    /// Publishes a stored task-run change.
    pub(crate) fn publish_task_run(&self, task_run: &TaskRun) {
        let _ = self.tx.send(Event::TaskRun {
            task_run: task_run.clone(),
        });
    }

    /// Publishes a stored DAG-run change.
    pub(crate) fn publish_dag_run(&self, dag_run: &DagRun) {
        let _ = self.tx.send(Event::DagRun {
            dag_run: dag_run.clone(),
        });
    }
}
