//! Retry policy: exponential backoff with jitter, `Retry-After`, a total deadline, and the
//! idempotency rules that decide which failures may be repeated.
//!
//! The loop sleeps with `tokio::time`, so it is tested under `tokio::time::pause()`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use rand::RngExt as _;

use crate::error::{Error, Result};
use crate::observe::{RetryNotice, RetryObserver, reason};

/// Whether repeating a request can change the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat after any transient failure (GETs, cancel, stop, reset, delete, and
    /// run-now/submit carrying an `idempotency_token`).
    Idempotent,
    /// Might have been committed: retried only when the server provably did not process it
    /// (connection never established, or 429 rate-limit rejection).
    NonIdempotent,
}

/// Backoff and deadline settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry (before jitter).
    pub initial_backoff: Duration,
    /// Cap on the exponential delay.
    pub max_backoff: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Total time budget from the first attempt; no retry starts after it (SDK default 300 s).
    pub total_timeout: Duration,
    /// Optional cap on attempts (including the first).
    pub max_attempts: Option<u32>,
    /// Attempts allowed for a connection failure while the host has never answered this
    /// client (a wrong URL or port should fail in seconds, not after the whole budget).
    pub connect_attempts_before_answer: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            total_timeout: Duration::from_secs(300),
            max_attempts: None,
            connect_attempts_before_answer: 3,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries (useful for latency-sensitive probes).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: Some(1),
            ..Default::default()
        }
    }

    /// Delay after failed attempt number `attempt` (1-based), with `jitter` in `[0, 1)`:
    /// "equal jitter" — half the exponential delay is fixed, half is random, so concurrent
    /// clients spread out without ever retrying immediately.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .multiplier
            .powi(attempt.saturating_sub(1).min(30) as i32);
        let base = self.initial_backoff.mul_f64(exp).min(self.max_backoff);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The delay before the next attempt: the backoff, but never shorter than the server's
    /// `Retry-After`.
    pub fn next_delay(&self, attempt: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
        let b = self.backoff(attempt, jitter);
        match retry_after {
            Some(ra) => b.max(ra),
            None => b,
        }
    }
}

/// Whether `err` may be retried for a request of the given idempotency.
///
/// Idempotent requests (reads, idempotent writes, submits carrying an `idempotency_token`) are
/// also retried on 500 and 502: a single gateway or backend hiccup must not end a long
/// `runs/get` poll or an import, and repeating such a request cannot change the outcome.
/// Non-idempotent requests keep the strict rule, since a 500 may come after the commit.
pub fn should_retry(err: &Error, idempotency: Idempotency) -> bool {
    match idempotency {
        Idempotency::Idempotent => err.is_retryable() || is_server_hiccup(err),
        Idempotency::NonIdempotent => match err {
            Error::Transport { connect, .. } => *connect,
            Error::Api(e) => e.status.as_u16() == 429,
            _ => false,
        },
    }
}

/// 500 and 502: retried only for idempotent requests (see [`should_retry`]).
fn is_server_hiccup(err: &Error) -> bool {
    matches!(err, Error::Api(e) if matches!(e.status.as_u16(), 500 | 502))
}

/// What the retry loop may know about the request beyond the policy: its name for notices,
/// the observer to tell, and whether its host has answered the client before.
#[derive(Default)]
pub(crate) struct RetryHooks<'a> {
    /// Workspace URL, named in [`Error::Unreachable`].
    pub(crate) host: &'a str,
    /// HTTP method, for notices.
    pub(crate) method: &'a str,
    /// Request path, for notices.
    pub(crate) path: &'a str,
    /// Told before each retry.
    pub(crate) observer: Option<&'a RetryObserver>,
    /// Set once the host has sent any HTTP response; `None` = not tracked (full budget).
    pub(crate) answered: Option<&'a AtomicBool>,
}

/// Runs `op` until it succeeds, fails permanently, or the policy's budget is spent. `op`
/// receives the 1-based attempt number.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    op: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    with_retry_hooks(policy, idempotency, &RetryHooks::default(), op).await
}

/// [`with_retry`] with notices and the "never answered" rule for connection failures.
pub(crate) async fn with_retry_hooks<T, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    hooks: &RetryHooks<'_>,
    mut op: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let start = tokio::time::Instant::now();
    let deadline = start + policy.total_timeout;
    let mut attempt = 1u32;
    loop {
        let err = match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !should_retry(&err, idempotency) || policy.max_attempts.is_some_and(|m| attempt >= m) {
            return Err(err);
        }
        if let (Error::Transport { connect: true, .. }, Some(answered)) = (&err, hooks.answered)
            && !answered.load(Ordering::Relaxed)
            && attempt >= policy.connect_attempts_before_answer
        {
            return Err(Error::Unreachable {
                host: hooks.host.to_owned(),
                endpoint: format!("{} {}", hooks.method, hooks.path),
                attempts: attempt,
                reason: reason(&err),
            });
        }
        let retry_after = match &err {
            Error::Api(e) => e.retry_after,
            _ => None,
        };
        let jitter: f64 = rand::rng().random_range(0.0..1.0);
        let delay = policy.next_delay(attempt, jitter, retry_after);
        let now = tokio::time::Instant::now();
        if now + delay > deadline {
            tracing::warn!(attempt, ?delay, error = %err, "retry budget exhausted");
            return Err(err);
        }
        tracing::debug!(attempt, ?delay, error = %err, "retrying Databricks request");
        if let Some(observer) = hooks.observer {
            observer(&RetryNotice {
                method: hooks.method.to_owned(),
                path: hooks.path.to_owned(),
                attempt,
                reason: reason(&err),
                wait: delay,
            });
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Parses a `Retry-After` header: delta-seconds (integer or decimal) or an IMF-fixdate
/// HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`), relative to `now`. Dates in the past give zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    // HTTP-date in any of the three forms RFC 9110 allows (IMF-fixdate, RFC 850, asctime).
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use reqwest::StatusCode;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn api(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Api(ApiError::from_response(
            "GET /t",
            StatusCode::from_u16(status).expect("status"),
            b"{}",
            retry_after,
        ))
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(2, 1.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(2));
        assert_eq!(p.backoff(20, 1.0), Duration::from_secs(10));
        assert_eq!(p.backoff(20, 0.0), Duration::from_secs(5));
        assert_eq!(
            p.next_delay(1, 0.0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn retry_after_formats() {
        use std::time::UNIX_EPOCH;
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // 1994-11-06 08:49:30 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 2.5 ", now),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // RFC 850 and asctime forms are HTTP-dates too (RFC 9110 §5.6.7).
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:37 1994", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn classification() {
        use Idempotency::*;
        assert!(should_retry(&api(429, None), Idempotent));
        assert!(should_retry(&api(503, None), Idempotent));
        assert!(should_retry(&api(504, None), Idempotent));
        assert!(should_retry(&api(500, None), Idempotent));
        assert!(should_retry(&api(502, None), Idempotent));
        for s in [400, 401, 403, 404, 501] {
            assert!(!should_retry(&api(s, None), Idempotent), "{s}");
        }
        assert!(should_retry(&api(429, None), NonIdempotent));
        for s in [500, 502, 503] {
            assert!(!should_retry(&api(s, None), NonIdempotent), "{s}");
        }
        let timeout = Error::Timeout {
            endpoint: "POST /x".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(should_retry(&timeout, Idempotent));
        assert!(!should_retry(&timeout, NonIdempotent));
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_then_succeeds() {
        let calls = Arc::new(AtomicU32::new(0));
        let start = tokio::time::Instant::now();
        let c = calls.clone();
        let out = with_retry(&RetryPolicy::default(), Idempotency::Idempotent, |_| {
            let c = c.clone();
            async move {
                if c.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(api(429, Some(Duration::from_secs(1))))
                } else {
                    Ok(42)
                }
            }
        })
        .await
        .expect("ok");
        assert_eq!(out, 42);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(start.elapsed() >= Duration::from_secs(2));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_400_and_stops_at_deadline() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let err = with_retry(&RetryPolicy::default(), Idempotency::Idempotent, |_| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api(400, None))
            }
        })
        .await
        .expect_err("400");
        assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let policy = RetryPolicy {
            total_timeout: Duration::from_secs(20),
            ..Default::default()
        };
        let start = tokio::time::Instant::now();
        let c = calls.clone();
        let err = with_retry(&policy, Idempotency::Idempotent, |_| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api(503, None))
            }
        })
        .await
        .expect_err("deadline");
        assert!(err.is_retryable());
        assert!(start.elapsed() <= Duration::from_secs(20));
        assert!(calls.load(Ordering::SeqCst) > 3);
    }

    #[tokio::test(start_paused = true)]
    async fn non_idempotent_not_retried_on_503() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let _ = with_retry(&RetryPolicy::default(), Idempotency::NonIdempotent, |_| {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(api(503, None))
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
