//! `--timeout DURATION`: one bound on any command, so scripts never hang on a slow workspace.

use std::future::Future;
use std::time::Duration;

use crate::commands::{EXIT_ERROR, Hinted};

/// Parses `30s`, `5m`, `1h`, `250ms` or bare seconds (`90`, `1.5`) for clap.
pub fn parse(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration (write e.g. 30s, 5m, 1h)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {raw:?} (use ms, s, m or h)"
            ));
        }
    };
    let secs = value * scale;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("{raw:?} must be a positive duration"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{raw:?}: {e}"))
}

/// Runs `command`, ending it with exit 1 and a clear message when `limit` passes first.
/// Whatever the command started in Databricks keeps running; only this process stops.
pub async fn bounded<F>(
    limit: Option<Duration>,
    command: F,
) -> anyhow::Result<std::process::ExitCode>
where
    F: Future<Output = anyhow::Result<std::process::ExitCode>>,
{
    let Some(limit) = limit else {
        return command.await;
    };
    match tokio::time::timeout(limit, command).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::Error::new(Hinted {
            message: format!(
                "the command did not finish within --timeout {}",
                short(limit)
            ),
            hint: "anything it started in Databricks keeps going (see `polysync runs list`); \
                   raise --timeout or leave it out to wait without a bound"
                .to_owned(),
            code: EXIT_ERROR,
        })),
    }
}

/// `1s`, `1.5s`, `250ms`, as the flag was likely written.
fn short(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse("0s").is_err());
        assert!(parse("5 parsecs").is_err());
        assert!(parse("soon").is_err());
    }
}
