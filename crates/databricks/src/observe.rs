//! Retry notices: what the retry loop tells an observer before it waits, so interactive
//! callers can say what they are retrying and why instead of staying silent for minutes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// One retry about to happen: the request, which attempt failed, why, and the wait before
/// the next one. `Display` gives the line a CLI prints:
/// `retrying GET /api/2.1/jobs/runs/get in 2s (HTTP 503)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryNotice {
    /// HTTP method (`GET`, `POST`…).
    pub method: String,
    /// Request path without the query string (never contains secrets).
    pub path: String,
    /// The 1-based attempt that just failed.
    pub attempt: u32,
    /// Why it failed, short: `HTTP 503`, `connection refused`, `timed out after 30s`.
    pub reason: String,
    /// How long the client waits before the next attempt.
    pub wait: Duration,
}

impl fmt::Display for RetryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "retrying {} {} in {} ({})",
            self.method,
            self.path,
            short_duration(self.wait),
            self.reason
        )
    }
}

/// Called before each retry; must be cheap and must not block (it runs on the request's task).
pub type RetryObserver = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// `500ms`, `2s`, `1.5s`: a wait as a person reads it.
pub fn short_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() < 50 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The short reason shown in a [`RetryNotice`] and in [`Error::Unreachable`].
pub fn reason(err: &Error) -> String {
    match err {
        Error::Api(e) => format!("HTTP {}", e.status.as_u16()),
        Error::Timeout { timeout, .. } => format!("timed out after {}", short_duration(*timeout)),
        Error::Transport { source, .. } => transport_reason(source),
        other => other.to_string(),
    }
}

/// The innermost cause of a transport failure, named the way people know it
/// (`connection refused`) rather than reqwest's outer "error sending request".
fn transport_reason(source: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(source);
    let mut last = source.to_string();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                std::io::ErrorKind::ConnectionAborted => "connection closed".to_owned(),
                _ => io.to_string(),
            };
        }
        last = e.to_string();
        cur = e.source();
    }
    last
}

/// A [`RetryObserver`] slot in [`crate::Config`]: `Debug` without printing a closure.
#[derive(Clone)]
pub(crate) struct ObserverSlot(pub(crate) RetryObserver);

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryObserver")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_reads_as_one_line() {
        let n = RetryNotice {
            method: "GET".into(),
            path: "/api/2.1/jobs/runs/get".into(),
            attempt: 1,
            reason: "HTTP 503".into(),
            wait: Duration::from_secs(2),
        };
        assert_eq!(
            n.to_string(),
            "retrying GET /api/2.1/jobs/runs/get in 2s (HTTP 503)"
        );
        assert_eq!(short_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(short_duration(Duration::from_millis(1500)), "1.5s");
    }
}
