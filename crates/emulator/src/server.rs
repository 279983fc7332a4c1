//! HTTP plumbing: the connection listener (with a per-connection "kill" switch used by the
//! drop-response fault), the router, and the middleware that logs, counts, authenticates and
//! injects faults.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::error::ApiError;
use crate::faults::roll;
use crate::state::{LogEntry, Shared};

/// TCP stream whose writes fail once `kill` is set: the response is never sent and the
/// connection closes, which is exactly what a client sees when a gateway drops a response.
pub struct KillableIo {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

fn killed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "response dropped by fault injection",
    )
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::Relaxed) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Listener producing [`KillableIo`] connections.
pub struct KillableListener(TcpListener);

impl axum::serve::Listener for KillableListener {
    type Io = KillableIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((s, a)) => {
                    let _ = s.set_nodelay(true);
                    return (
                        KillableIo {
                            inner: s,
                            kill: Arc::new(AtomicBool::new(false)),
                        },
                        a,
                    );
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
            }
        }
    }
    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Per-connection kill switch, available to middleware as `ConnectInfo<ConnKill>`.
#[derive(Clone, Debug)]
pub struct ConnKill(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, KillableListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        ConnKill(stream.io().kill.clone())
    }
}

/// Spawn the server; returns the shutdown trigger and the task.
pub fn serve(
    listener: TcpListener,
    state: Shared,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let app = router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            KillableListener(listener),
            app.into_make_service_with_connect_info::<ConnKill>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await;
    });
    (tx, task)
}

fn router(state: Shared) -> Router {
    let api = crate::routes::api_routes()
        .route_layer(middleware::from_fn_with_state(state.clone(), api_mw));
    let open = crate::routes::open_routes(&state.config.azure_authority_path)
        .route_layer(middleware::from_fn_with_state(state.clone(), open_mw));
    Router::new()
        .merge(api)
        .merge(open)
        .nest("/__emulator", crate::admin::routes())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("No API found for '{} {}'", req.method(), req.uri().path()),
    )
}

/// The Databricks-shaped answer of an injected server error of `status`.
fn injected_error(status: u16) -> ApiError {
    match status {
        502 => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "BAD_GATEWAY",
            "Bad gateway (injected).",
        ),
        503 => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TEMPORARILY_UNAVAILABLE",
                "The service is temporarily unavailable. Please try again later.",
            )
        },
        504 => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "DEADLINE_EXCEEDED",
            "Gateway timeout (injected).",
        ),
        _ => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error (injected).",
        ),
    }
}

/// Normalised endpoint key: `GET jobs/runs/get` from `/api/{v}/jobs/runs/get`.
fn endpoint_key(method: &str, matched: &str) -> String {
    let rest = matched
        .strip_prefix("/api/{v}/")
        .unwrap_or(matched.trim_start_matches('/'));
    format!("{method} {rest}")
}

fn version_ok(path: &str, key: &str) -> bool {
    let v = path
        .strip_prefix("/api/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("");
    let jobs = key
        .split(' ')
        .nth(1)
        .is_some_and(|k| k.starts_with("jobs/"));
    match v {
        "2.0" => true,
        "2.1" => jobs || key.contains(" clusters/"),
        "2.2" => jobs,
        _ => false,
    }
}

async fn api_mw(state: State<Shared>, req: Request, next: Next) -> Response {
    handle(state.0, req, next, true).await
}

async fn open_mw(state: State<Shared>, req: Request, next: Next) -> Response {
    handle(state.0, req, next, false).await
}

async fn handle(state: Shared, req: Request, next: Next, api: bool) -> Response {
    let method = req.method().clone();
    // Key and counter are interned per route: no formatting or hashing of the key per request.
    let ep = {
        let matched = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str)
            .unwrap_or_else(|| req.uri().path());
        state.endpoint(&method, matched, || endpoint_key(method.as_str(), matched))
    };
    let key: &str = &ep.key;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let timestamp_ms = crate::clock::wall_ms();
    ep.count.fetch_add(1, Ordering::Relaxed);

    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::malformed("Request body too large or unreadable.").into_response();
        }
    };
    // Logged as raw bytes and parsed only when the log is read (the handler parses it anyway).
    // Copied so the log never pins the connection's read buffer.
    let log_body =
        (api && bytes.first() == Some(&b'{')).then(|| bytes::Bytes::copy_from_slice(&bytes));
    let mut caller = None;
    let mut dropped = false;
    let response = 'resp: {
        if api {
            if !version_ok(parts.uri.path(), key) {
                break 'resp ApiError::new(
                    StatusCode::NOT_FOUND,
                    "ENDPOINT_NOT_FOUND",
                    format!("No API found for '{} {}'", method, parts.uri.path()),
                )
                .into_response();
            }
            match crate::auth::authenticate(&state, &parts.headers) {
                Ok(c) => caller = Some(c),
                Err(e) => break 'resp e.into_response(),
            }
        }
        let faults = if state.faults_active.load(Ordering::Relaxed) {
            Some(state.faults())
        } else {
            None
        };
        if let Some(f) = &faults {
            if f.latency_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(f.latency_ms)).await;
            }
            if api {
                let limit = f.rate_limits.get(key).or_else(|| f.rate_limits.get("*"));
                if let Some(&rps) = limit
                    && let Err(retry) = state.limiter.check(key, rps)
                {
                    break 'resp ApiError::rate_limited(
                        format!(
                            "Exceeded the rate limit of {rps} requests per second for {key}. RPC token bucket limit has been exceeded."
                        ),
                        retry,
                    )
                    .into_response();
                }
                if f.error_rate > 0.0 && roll() < f.error_rate {
                    let status = f
                        .error_status
                        .unwrap_or(if roll() < 0.5 { 500 } else { 503 });
                    break 'resp injected_error(status).into_response();
                }
            }
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let resp = next.run(req).await;
        if api
            && let Some(f) = &faults
            && f.drop_applies(key)
        {
            let deterministic = state
                .drop_left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
            if deterministic || (f.drop_response_rate > 0.0 && roll() < f.drop_response_rate) {
                dropped = true;
            }
        }
        resp
    };
    if !key.starts_with("GET __") {
        state.log_request(LogEntry {
            seq: 0,
            method,
            path,
            endpoint: ep.key.clone(),
            body: log_body,
            caller,
            status: if dropped {
                0
            } else {
                response.status().as_u16()
            },
            timestamp_ms,
        });
    }
    if dropped && let Some(k) = kill {
        k.0.store(true, Ordering::Relaxed);
    }
    response
}
