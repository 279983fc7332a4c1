//! Live run streams: one SSE stream per client, fed with its run's changes
//! by the event router ([`crate::run_watch`]; the tracker polls each
//! active run once, however many streams follow it). An event is sent when the run's status changes, each with
//! `id: <runId>:<version>` so a client reconnecting with `Last-Event-ID`
//! gets only what it has not seen. A client going away ends its stream,
//! never the run.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use polysync_engine::{Event as EngineEvent, JobKey, KeyRun};
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::run_watch::Notice;
use crate::{AppState, views};

/// What makes two states of a run different for a stream: status,
/// life-cycle and result state (not every stored change, not every poll);
/// of a DAG run: its status and each task run's status and attempts.
fn visible(run: &KeyRun) -> String {
    match run {
        KeyRun::Job(r) => format!("{}|{:?}|{:?}", r.status, r.life_cycle_state, r.result_state),
        KeyRun::Dag(d) => {
            let mut out = d.view.status.as_str().to_owned();
            for t in &d.view.tasks {
                let last = t.attempts.last();
                out.push_str(&format!(
                    "|{}:{}:{}:{:?}:{:?}",
                    t.task,
                    t.status.as_str(),
                    t.attempts.len(),
                    last.map(|a| a.status.as_str()),
                    last.and_then(|a| a.databricks_run_id.as_deref()),
                ));
            }
            out
        }
    }
}

/// The stored version a stream's event ids carry: the run's row version,
/// a DAG run's revision.
fn version(run: &KeyRun) -> i64 {
    match run {
        KeyRun::Job(r) => r.version,
        KeyRun::Dag(d) => d.revision,
    }
}

fn event_of(run: &KeyRun) -> Event {
    let id = match views::key_run_id(run) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let data = json!({
        "status": views::key_status(run),
        "timestamp": jiff::Timestamp::now().as_millisecond(),
        "run": views::key_run(run),
    });
    Event::default()
        .id(format!("{id}:{}", version(run)))
        .data(data.to_string())
}

/// The version a `Last-Event-ID` (`<runId>:<version>`) says the client saw.
pub fn last_seen_version(header: Option<&str>) -> Option<i64> {
    header?.rsplit_once(':')?.1.trim().parse().ok()
}

/// Streams `run` of `key` until it ends (or the key's wait timeout, at
/// most the stream tier's; the client leaving; the server shutting down).
/// `last_seen`: the version the client already has (resume).
pub fn follow(
    state: AppState,
    key: JobKey,
    run: KeyRun,
    last_seen: Option<i64>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(16);
    // Subscribed before the re-read below: no change can fall in between.
    let events = state.watches.watch(run.id());
    tokio::spawn(drive(state.clone(), key, run, last_seen, events, tx));
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat"))
}

/// The new state of `current` an engine event tells of, if any: a job
/// run's event carries it; a DAG run (or one of its task runs) changing
/// is re-read from the store.
async fn changed_by(
    state: &AppState,
    key: &JobKey,
    current: &KeyRun,
    ev: &EngineEvent,
) -> Option<KeyRun> {
    match (current, ev) {
        (KeyRun::Job(cur), EngineEvent::Run { run }) if run.id == cur.id => {
            Some(KeyRun::Job(Box::new(run.clone())))
        }
        (KeyRun::Dag(cur), EngineEvent::DagRun { dag_run }) if dag_run.id == cur.view.id => {
            state.engine.key_run_stored(key, &cur.view.id).await.ok()
        }
        (KeyRun::Dag(cur), EngineEvent::TaskRun { task_run })
            if task_run.dag_run_id == cur.view.id =>
        {
            state.engine.key_run_stored(key, &cur.view.id).await.ok()
        }
        _ => None,
    }
}

async fn drive(
    state: AppState,
    key: JobKey,
    run: KeyRun,
    last_seen: Option<i64>,
    mut events: broadcast::Receiver<Notice>,
    tx: mpsc::Sender<Event>,
) {
    // The key's wait timeout, bounded by the stream tier's.
    let limit = key.wait_timeout.min(state.stream_timeout);
    let deadline = tokio::time::Instant::now() + limit;
    let mut current = state
        .engine
        .key_run_stored(&key, run.id())
        .await
        .unwrap_or(run);
    let mut sent = None;
    if last_seen.is_none_or(|v| version(&current) > v) {
        if tx.send(event_of(&current)).await.is_err() {
            return;
        }
        sent = Some(visible(&current));
    }
    // A DAG run is also re-read from the store every poll: its attempts'
    // Databricks runs change without a DAG-run event, and a dispatcher in
    // another process publishes nothing here. (Store reads only.)
    let mut reread = tokio::time::interval(state.poll.max(Duration::from_millis(10)));
    reread.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let dag = matches!(current, KeyRun::Dag(_));
    while !current.is_terminal() {
        let changed = tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tx.closed() => return,
            () = tokio::time::sleep_until(deadline) => {
                let msg = json!({
                    "error": format!("run still {} after the stream's timeout of {} (the job key's wait_timeout, at most the stream tier's); it keeps running", views::key_status(&current), polysync_engine::format_duration(limit)),
                    "code": "TIMEOUT",
                });
                let _ = tx.send(Event::default().event("error").data(msg.to_string())).await;
                return;
            }
            _ = reread.tick(), if dag => state.engine.key_run_stored(&key, current.id()).await.ok(),
            ev = events.recv() => match ev {
                Ok(Notice::Changed(ev)) => changed_by(&state, &key, &current, &ev).await,
                Ok(Notice::Missed) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    state.engine.key_run_stored(&key, current.id()).await.ok()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let Some(changed) = changed else {
            continue;
        };
        if version(&changed) <= version(&current) {
            continue;
        }
        current = changed;
        if sent.as_ref() != Some(&visible(&current)) {
            if tx.send(event_of(&current)).await.is_err() {
                return;
            }
            sent = Some(visible(&current));
        }
    }
}

/// The heartbeat interval of the seed's improvement list (AppKit: 10 s).
pub const HEARTBEAT: Duration = Duration::from_secs(15);
