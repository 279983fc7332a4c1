//! Routes the engine's change events to the live streams following each
//! run. With one engine receiver per stream, every change was cloned and
//! delivered to every open stream (1,000 streams: 1,000 copies of each
//! run change, and lagging receivers re-reading the store); here one task
//! receives each change once and wakes only the streams of that run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use polysync_engine::{Engine, Event as EngineEvent};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How many changes of one run a slow stream may fall behind before it is
/// told to re-read the run.
const PER_RUN_CAPACITY: usize = 64;

/// Fewest entries before abandoned ones are swept out.
const SWEEP_MIN: usize = 64;

/// What a stream hears about the run it follows.
#[derive(Debug, Clone)]
pub(crate) enum Notice {
    /// A stored change of the run (a DAG run: of it or one of its task runs).
    Changed(Arc<EngineEvent>),
    /// Changes may have been missed (the router fell behind the engine):
    /// re-read the run.
    Missed,
}

/// The routing table: run (or DAG run) id → the channel its streams hear.
pub(crate) struct RunWatches {
    inner: Mutex<Table>,
}

struct Table {
    runs: HashMap<String, broadcast::Sender<Notice>>,
    /// Size at which runs no stream follows any more are dropped.
    sweep_at: usize,
}

/// The id whose streams an event concerns: a run's own id; a DAG run's id
/// for the DAG run and its task runs.
fn routing_key(ev: &EngineEvent) -> &str {
    match ev {
        EngineEvent::Run { run } => &run.id,
        EngineEvent::DagRun { dag_run } => &dag_run.id,
        EngineEvent::TaskRun { task_run } => &task_run.dag_run_id,
    }
}

impl RunWatches {
    /// An empty table.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Table {
                runs: HashMap::new(),
                sweep_at: SWEEP_MIN,
            }),
        })
    }

    /// Starts hearing the changes of run (or DAG run) `id`. Subscribe
    /// before reading the run, so no change falls in between.
    pub(crate) fn watch(&self, id: &str) -> broadcast::Receiver<Notice> {
        let mut t = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tx) = t.runs.get(id) {
            return tx.subscribe();
        }
        if t.runs.len() >= t.sweep_at {
            t.runs.retain(|_, tx| tx.receiver_count() > 0);
            t.sweep_at = (t.runs.len() * 2).max(SWEEP_MIN);
        }
        let (tx, rx) = broadcast::channel(PER_RUN_CAPACITY);
        t.runs.insert(id.to_owned(), tx);
        rx
    }

    /// Delivers one engine event to the streams of its run, if any.
    fn route(&self, ev: EngineEvent) {
        let mut t = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = routing_key(&ev);
        let Some(tx) = t.runs.get(key) else {
            return;
        };
        if tx.send(Notice::Changed(Arc::new(ev.clone()))).is_err() {
            // Nobody follows it any more.
            let key = key.to_owned();
            t.runs.remove(&key);
        }
    }

    /// Tells every stream it may have missed changes.
    fn missed_all(&self) {
        let mut t = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        t.runs.retain(|_, tx| tx.send(Notice::Missed).is_ok());
    }

    /// Routes every engine event until `shutdown`.
    pub(crate) async fn feed(self: Arc<Self>, engine: Engine, shutdown: CancellationToken) {
        let mut rx = engine.subscribe();
        loop {
            let ev = tokio::select! {
                () = shutdown.cancelled() => return,
                ev = rx.recv() => ev,
            };
            match ev {
                Ok(ev) => self.route(ev),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("live streams' event router lagged by {n} changes");
                    self.missed_all();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polysync_core::{Job, JobType, Run};

    fn run(id: &str) -> EngineEvent {
        let job = Job::new("j", JobType::DatabricksJob, "1", "p");
        EngineEvent::Run {
            run: Run::new(&job, id.to_owned(), 0),
        }
    }

    #[test]
    fn only_the_runs_streams_hear_its_changes_and_abandoned_runs_are_dropped() {
        let w = RunWatches::new();
        let mut a = w.watch("a");
        let mut a2 = w.watch("a");
        let mut b = w.watch("b");
        w.route(run("a"));
        for rx in [&mut a, &mut a2] {
            match rx.try_recv() {
                Ok(Notice::Changed(ev)) => assert_eq!(routing_key(&ev), "a"),
                other => panic!("expected a's change, got {other:?}"),
            }
        }
        assert!(b.try_recv().is_err());
        drop((a, a2));
        w.route(run("a"));
        let t = w.inner.lock().expect("lock");
        assert!(!t.runs.contains_key("a"));
        assert!(t.runs.contains_key("b"));
        drop(t);
        w.missed_all();
        assert!(matches!(b.try_recv(), Ok(Notice::Missed)));
    }
}
