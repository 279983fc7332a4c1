//! Rendering: human tables (comfy-table) by default, JSON for scripts, TTY detection.
//!
//! On a non-terminal stdout the output carries no control characters at all: ASCII
//! tables, no colour, no carriage returns.

use std::io::IsTerminal;

use comfy_table::{ContentArrangement, Table, presets};
use polysync_engine::{Job, Parameter, ParameterMapping, Platform, Run, RunStatus, TaskType};
use serde::Serialize;
use serde_json::{Value, json};

/// Whether stdout is an interactive terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is an interactive terminal (live status lines, progress bars).
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Writes one line on stdout, used through [`outln!`] instead of `println!`.
///
/// `println!` panics when stdout is closed (`polysync jobs list | head` once `head` has
/// exited), which showed a panic and exit status 101. Like other Unix tools, Polysync stops
/// writing quietly instead: a broken pipe is ignored (the command ends with its usual exit
/// status). Any other write error (a full disk) is reported in the usual two-line shape and
/// ends the process with exit status 1, since the output the user asked for is lost.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    stdout_written(written);
}

/// Writes bytes as they are on stdout (generated scripts and man pages), with the same
/// handling of a closed pipe as [`write_line`].
pub fn write_bytes(bytes: &[u8]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    stdout_written(out.write_all(bytes).and_then(|()| out.flush()));
}

fn stdout_written(written: std::io::Result<()>) {
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            eprintln!("hint: check the file or device standard output is redirected to");
            std::process::exit(i32::from(crate::commands::EXIT_ERROR));
        }
    }
}

/// `println!` for command output: the same formatting, but a closed stdout (a pipe into
/// `head`) ends the output quietly instead of panicking (see [`write_line`]).
macro_rules! outln {
    () => {
        $crate::output::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::write_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Prints a value as pretty JSON on stdout (and nothing else).
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// The width to fit output to: `COLUMNS` when set (as shells and `less` do, also when stdout
/// is a pipe, e.g. `COLUMNS=120 polysync runs list | tee`), else the terminal's width, else
/// none (a pipe without `COLUMNS` gets whole lines).
pub fn width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w >= 20)
        .or_else(|| {
            stdout_is_tty()
                .then(|| console::Term::stdout().size_checked().map(|(_, cols)| cols))
                .flatten()
        })
}

/// A table with the given header, styled for the terminal or plain ASCII otherwise, fitted to
/// [`width`]: long cells wrap inside their column instead of making lines wider than the
/// terminal (the full values stay in `--json`).
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut t = Table::new();
    if stdout_is_tty() {
        t.load_style(presets::UTF8_FULL_CONDENSED);
    } else {
        t.load_style(presets::ASCII_MARKDOWN);
    }
    if let Some(w) = width() {
        t.set_width(w);
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t.set_header(header);
    t
}

/// Cuts `s` to at most `max` characters, marking the cut with `…`: for one-line displays
/// (the `--wait` status line) that must not wrap.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A duration in milliseconds, short: `42s`, `3m05s`, `1h02m`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Removes control characters from text that came from outside (Databricks messages).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Quotes a value for a POSIX shell when it needs it, so the commands the CLI suggests can be
/// pasted as printed (job names like `Demo: sales workflow`, data dirs with spaces as on macOS).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=@+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Epoch milliseconds as an RFC 3339 timestamp (seconds precision).
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A run status as a word (`Success`, `Failed`, ...).
pub fn status(s: RunStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// The JSON shape of a parameter in `jobs list|show --json`.
pub fn parameter_json(p: &Parameter) -> Value {
    json!({
        "name": p.name,
        "data_type": p.data_type.as_str(),
        "direction": p.direction.as_str(),
        "default": p.default_value,
        "value": p.current_value,
        "forwarded": p.forwarded,
        "choices": p.choices,
    })
}

/// The JSON shape of a job in `jobs list|show --json`.
pub fn job_json(j: &Job) -> Value {
    json!({
        "name": j.name,
        "type": j.job_type.id(),
        "external_id": j.external_id,
        "platform": j.platform,
        "removed": j.removed_at.is_some(),
        "parameters": j.parameters.iter().map(parameter_json).collect::<Vec<_>>(),
    })
}

/// How a Databricks Job's parameters reach `run-now`, in words (never the Rust debug form).
pub fn mapping_text(m: &ParameterMapping) -> String {
    match m {
        ParameterMapping::JobParameters => "job-level parameters (job_parameters)".to_owned(),
        ParameterMapping::Task { task_type } => match task_type {
            TaskType::Notebook => "notebook task (notebook_params)",
            TaskType::PythonWheel => "Python wheel task (python_named_params)",
            TaskType::PythonScript => "Python script task (python_params)",
            TaskType::SparkJar => "Spark JAR task (jar_params)",
            TaskType::Sql => "SQL task (sql_params)",
            TaskType::Dbt => "dbt task (takes no parameters)",
            _ => "other task type (only job-level parameters reach it)",
        }
        .to_owned(),
    }
}

/// The JSON shape of a platform (credential references only, never a secret).
pub fn platform_json(p: &Platform) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

/// How a platform authenticates, for tables.
pub fn auth_text(p: &Platform) -> String {
    match &p.auth {
        polysync_engine::Auth::Profile { name, config_file } => match config_file {
            Some(f) => format!("profile {name} ({})", f.display()),
            None => format!("profile {name}"),
        },
        polysync_engine::Auth::TokenEnv { var } => format!("token from ${var}"),
    }
}

/// The compute summary of a platform, for tables.
pub fn compute_text(p: &Platform) -> String {
    let c = &p.compute;
    let mut parts = vec![c.compute_type.to_string()];
    for (k, v) in [
        ("version", c.cluster_version.as_deref()),
        ("node", c.node_type.as_deref()),
        ("cluster", c.existing_cluster_id.as_deref()),
        ("pool", c.existing_instance_pool.as_deref()),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(n) = c.num_workers {
        parts.push(format!("workers={n}"));
    }
    parts.join(" ")
}

/// One table row for a run. "Started" is Databricks' start time (`-` until Databricks
/// reports one); the duration runs from it (else from the submit) to the end or now.
pub fn run_row(r: &Run) -> Vec<String> {
    let now = jiff::Timestamp::now().as_millisecond();
    vec![
        r.id.clone(),
        clean(&r.job_name),
        r.job_type.display_name().to_owned(),
        status(r.status),
        r.databricks_run_id.clone().unwrap_or_else(|| "-".into()),
        r.started_at.map(time).unwrap_or_else(|| "-".into()),
        duration(r.duration_ms(now)),
        r.monitor_url.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The header matching [`run_row`].
pub const RUN_HEADER: [&str; 8] = [
    "Run id",
    "Job",
    "Type",
    "Status",
    "Databricks run",
    "Started",
    "Duration",
    "Monitor URL",
];

#[cfg(test)]
mod tests {
    use super::{duration, shell_quote, truncate};

    #[test]
    fn durations_and_truncation() {
        assert_eq!(duration(42_500), "42s");
        assert_eq!(duration(185_000), "3m05s");
        assert_eq!(duration(3_720_000), "1h02m");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("prod"), "prod");
        assert_eq!(shell_quote("/Demo/sales_report"), "/Demo/sales_report");
        assert_eq!(shell_quote("prod:123"), "prod:123");
        assert_eq!(
            shell_quote("Demo: sales workflow"),
            "'Demo: sales workflow'"
        );
        assert_eq!(
            shell_quote("/Users/a/Library/Application Support/polysync/q.db"),
            "'/Users/a/Library/Application Support/polysync/q.db'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
