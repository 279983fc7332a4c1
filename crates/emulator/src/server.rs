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
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

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

/// Accepts the next connection as a [`KillableIo`] (transient accept errors, such as running
/// out of file descriptors, are waited out rather than ending the server).
async fn accept(listener: &TcpListener) -> KillableIo {
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                return KillableIo {
                    inner: s,
                    kill: Arc::new(AtomicBool::new(false)),
                };
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Per-connection kill switch, available to middleware as `ConnectInfo<ConnKill>`.
#[derive(Clone, Debug)]
pub struct ConnKill(Arc<AtomicBool>);

/// Spawn the server; returns the shutdown trigger and the task.
///
/// Each connection is served by hyper's HTTP/1 connection with a header read timeout (a
/// client that trickles its request line and headers is disconnected, as a real gateway
/// would); the body read timeout and size limits are enforced per request in [`handle`].
pub fn serve(
    listener: TcpListener,
    state: Shared,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let header_timeout = state.config.header_read_timeout;
    let app = router(state);
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let tracker = tokio_util::task::TaskTracker::new();
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        loop {
            let io = tokio::select! {
                _ = &mut rx => break,
                io = accept(&listener) => io,
            };
            let kill = ConnKill(io.kill.clone());
            let app = app.clone();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(kill.clone()));
                app.clone().oneshot(req.map(Body::new))
            });
            let mut closing = closing_rx.clone();
            tracker.spawn(async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout);
                let conn = builder.serve_connection(TokioIo::new(io), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = closing.changed() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        drop(listener);
        let _ = closing_tx.send(true);
        tracker.close();
        tracker.wait().await;
    });
    (tx, task)
}

fn router(state: Shared) -> Router {
    let api = crate::routes::api_routes()
        .route_layer(middleware::from_fn_with_state(state.clone(), api_mw));
    let open = crate::routes::open_routes(&state.config.azure_authority_path)
        .route_layer(middleware::from_fn_with_state(state.clone(), open_mw));
    // Body limits are enforced (per endpoint, as JSON errors) in `handle`; the extractors'
    // own 2 MB default would otherwise answer plain text and refuse a 10 MB import.
    Router::new()
        .merge(api)
        .merge(open)
        .nest(
            "/__emulator",
            crate::admin::routes().layer(axum::extract::DefaultBodyLimit::max(DEFAULT_BODY_LIMIT)),
        )
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        format!("No API found for '{} {}'", req.method(), req.uri().path()),
    )
}

/// Largest request body per endpoint: Databricks accepts 10 MB for `workspace/import` (a
/// notebook's base64 content) and far less elsewhere; 2 MB is ample for every JSON request.
pub const IMPORT_BODY_LIMIT: usize = 10 * 1024 * 1024;
/// Largest request body of every other endpoint (see [`IMPORT_BODY_LIMIT`]).
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

fn body_limit(key: &str) -> usize {
    if key == "POST workspace/import" {
        IMPORT_BODY_LIMIT
    } else {
        DEFAULT_BODY_LIMIT
    }
}

fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Databricks' answer to an oversized request, as JSON like every other error.
fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "REQUEST_ENTITY_TOO_LARGE",
        format!(
            "The request body exceeds the limit of {} MB for this endpoint.",
            limit / (1024 * 1024)
        ),
    )
}

/// An error answered with `Connection: close`: the unread rest of the body must not be
/// parsed as the next request, and a slow client must not keep the connection.
fn closing(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
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
    let limit = body_limit(key);
    if let Some(announced) = content_length(&parts.headers)
        && announced > limit as u64
    {
        // Refused before reading a byte: a 100 GB Content-Length gets its answer at once.
        return closing(too_large(limit));
    }
    let read = tokio::time::timeout(
        state.config.body_read_timeout,
        axum::body::to_bytes(body, limit),
    );
    let bytes = match read.await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            let mut cause: Option<&dyn std::error::Error> = Some(&e);
            let mut too_big = false;
            while let Some(c) = cause {
                too_big |= c.to_string().contains("length limit exceeded");
                cause = c.source();
            }
            return closing(if too_big {
                too_large(limit)
            } else {
                ApiError::malformed("Request body unreadable.")
            });
        }
        Err(_) => {
            return closing(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                "The request body was not received in time.",
            ));
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
            if api && let Some(&status) = f.refused_endpoints.get(key) {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND);
                let (code, message) = match status.as_u16() {
                    403 => (
                        "PERMISSION_DENIED",
                        format!("You are not authorized to call {key}."),
                    ),
                    501 => (
                        "NOT_IMPLEMENTED",
                        format!("{key} is not implemented in this workspace."),
                    ),
                    _ => (
                        "FEATURE_DISABLED",
                        format!("{key} is not enabled in this workspace."),
                    ),
                };
                break 'resp ApiError::new(status, code, message).into_response();
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
