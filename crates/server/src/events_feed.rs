//! `GET /api/events`: one SSE feed of every run, task-run and DAG-run
//! change. Each change gets a sequence number (the event id); the last
//! [`BACKLOG`] are kept so a client reconnecting with `Last-Event-ID`
//! receives what it missed, then the live changes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use polysync_engine::Engine;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// How many changes a reconnecting client can catch up on.
pub const BACKLOG: usize = 1024;

/// The numbered feed, shared by every `/api/events` client.
pub struct EventLog {
    backlog: Mutex<VecDeque<(u64, String)>>,
    tx: broadcast::Sender<(u64, String)>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        let (tx, _) = broadcast::channel(BACKLOG);
        Arc::new(Self {
            backlog: Mutex::new(VecDeque::with_capacity(BACKLOG)),
            tx,
        })
    }

    fn push(&self, data: String) {
        let Ok(mut b) = self.backlog.lock() else {
            return;
        };
        let seq = b.back().map_or(1, |(s, _)| s + 1);
        if b.len() == BACKLOG {
            b.pop_front();
        }
        b.push_back((seq, data.clone()));
        let _ = self.tx.send((seq, data));
    }

    /// Numbers and records every engine event until `shutdown`.
    pub async fn feed(self: Arc<Self>, engine: Engine, shutdown: CancellationToken) {
        let mut rx = engine.subscribe();
        loop {
            let ev = tokio::select! {
                () = shutdown.cancelled() => return,
                ev = rx.recv() => ev,
            };
            match ev {
                Ok(ev) => {
                    if let Ok(data) = serde_json::to_string(&ev) {
                        self.push(data);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("event feed lagged by {n} changes");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

fn event(seq: u64, data: &str) -> Event {
    Event::default().id(seq.to_string()).data(data)
}

/// `GET /api/events`.
#[utoipa::path(get, path = "/api/events", tag = "events",
    summary = "Every run, task-run and DAG-run status change (SSE, resumable with Last-Event-ID)",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id.")),
    responses((status = 200, description = "An endless SSE stream of `status` events.", content_type = "text/event-stream", body = String)))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let log = state.events.clone();
    // Subscribe before copying the backlog: nothing falls in between.
    let mut live = log.tx.subscribe();
    let missed: Vec<(u64, String)> = log
        .backlog
        .lock()
        .map(|b| b.iter().filter(|(s, _)| *s > after).cloned().collect())
        .unwrap_or_default();
    let (tx, rx) = mpsc::channel::<Event>(64);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut last = after;
        for (seq, data) in missed {
            if tx.send(event(seq, &data)).await.is_err() {
                return;
            }
            last = seq;
        }
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tx.closed() => return,
                n = live.recv() => n,
            };
            match next {
                Ok((seq, data)) if seq > last => {
                    if tx.send(event(seq, &data)).await.is_err() {
                        return;
                    }
                    last = seq;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let stream =
        futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
        );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(state.heartbeat).text("heartbeat"))
}
