//! Live run streams: one SSE stream per client, fed by the engine's event
//! channel (the tracker polls each active run once, however many streams
//! follow it). An event is sent when the run's status changes, each with
//! `id: <runId>:<version>` so a client reconnecting with `Last-Event-ID`
//! gets only what it has not seen. A client going away ends its stream,
//! never the run.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use polysync_engine::{Event as EngineEvent, JobKey, Run};
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use crate::{AppState, views};

/// What makes two states of a run different for a stream: status,
/// life-cycle and result state (not every stored change, not every poll).
fn visible(run: &Run) -> (String, Option<String>, Option<String>) {
    (
        run.status.to_string(),
        run.life_cycle_state.clone(),
        run.result_state.clone(),
    )
}

fn event_of(run: &Run) -> Event {
    let id = match views::run_id(run) {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let data = json!({
        "status": views::status(run),
        "timestamp": jiff::Timestamp::now().as_millisecond(),
        "run": views::run(run),
    });
    Event::default()
        .id(format!("{id}:{}", run.version))
        .data(data.to_string())
}

/// The version a `Last-Event-ID` (`<runId>:<version>`) says the client saw.
pub fn last_seen_version(header: Option<&str>) -> Option<i64> {
    header?.rsplit_once(':')?.1.trim().parse().ok()
}

/// Streams `run` of `key` until it ends (or the key's wait timeout, the
/// client leaving, the server shutting down). `last_seen`: the version the
/// client already has (resume).
pub fn follow(
    state: AppState,
    key: JobKey,
    run: Run,
    last_seen: Option<i64>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Event>(16);
    // Subscribed before the re-read below: no change can fall in between.
    let events = state.engine.subscribe();
    tokio::spawn(drive(state.clone(), key, run, last_seen, events, tx));
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat"))
}

async fn drive(
    state: AppState,
    key: JobKey,
    run: Run,
    last_seen: Option<i64>,
    mut events: broadcast::Receiver<EngineEvent>,
    tx: mpsc::Sender<Event>,
) {
    let deadline = tokio::time::Instant::now() + key.wait_timeout;
    let mut current = state.engine.key_run(&key, &run.id).await.unwrap_or(run);
    let mut sent = None;
    if last_seen.is_none_or(|v| current.version > v) {
        if tx.send(event_of(&current)).await.is_err() {
            return;
        }
        sent = Some(visible(&current));
    }
    while !current.status.is_terminal() {
        let next = tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tx.closed() => return,
            () = tokio::time::sleep_until(deadline) => {
                let msg = json!({
                    "error": format!("run still {} after the job key's wait timeout of {}; it keeps running", views::status(&current), polysync_engine::format_duration(key.wait_timeout)),
                    "code": "TIMEOUT",
                });
                let _ = tx.send(Event::default().event("error").data(msg.to_string())).await;
                return;
            }
            ev = events.recv() => ev,
        };
        let changed = match next {
            Ok(EngineEvent::Run { run }) if run.id == current.id => run,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                match state.engine.key_run(&key, &current.id).await {
                    Ok(r) => r,
                    Err(_) => continue,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if changed.version <= current.version {
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
