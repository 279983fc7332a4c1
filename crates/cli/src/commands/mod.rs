//! One module per top-level subcommand, plus the error and exit-code conventions they share.

pub mod arazzo;
pub mod dag;
pub mod docs;
pub mod emulator;
pub mod import;
pub mod jobs;
pub mod platform;
pub mod quickstart;
pub mod run;
pub mod runs;
pub mod serve;
pub mod tasks;
pub mod tokens;

use std::process::ExitCode;

use polysync_engine::{Engine, Error as EngineError, ErrorKind, RetryNotice};

/// Exit code: the command failed (store, network, Databricks refused).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: invalid arguments or input (nothing was sent to Databricks).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the run finished (or was left) in a status other than Success.
pub const EXIT_RUN_NOT_SUCCESSFUL: u8 = 3;

/// An error with the one-line fix to show under it.
#[derive(Debug)]
pub struct Hinted {
    /// What went wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
    /// Exit code to use.
    pub code: u8,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// A usage error (exit code 2) with its hint, as an `anyhow::Error`.
pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted {
        message: message.into(),
        hint: hint.into(),
        code: EXIT_USAGE,
    })
}

/// Keeps a message on one line, so stderr is always "error" + "hint".
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Print an error as one clear line plus one hint line, and pick the exit code.
/// Never a backtrace: users act on the message, developers use `RUST_LOG`.
pub fn print_error(err: &anyhow::Error) -> ExitCode {
    // The top message of an engine or hinted error is complete; for other errors the
    // context and its causes form the message.
    let (message, hint, code) = if let Some(h) = err.downcast_ref::<Hinted>() {
        (err.to_string(), Some(h.hint.clone()), h.code)
    } else if let Some(e) = err.downcast_ref::<EngineError>() {
        (
            err.to_string(),
            e.hint().map(|h| crate::hints::render(&h)),
            engine_exit_code(e),
        )
    } else {
        let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
        (
            chain.join(": "),
            Some("re-run with RUST_LOG=debug for details".to_owned()),
            EXIT_ERROR,
        )
    };
    eprintln!("error: {}", one_line(&message));
    if let Some(h) = hint.filter(|h| !h.trim().is_empty()) {
        eprintln!("hint: {}", one_line(&h));
    }
    ExitCode::from(code)
}

fn engine_exit_code(e: &EngineError) -> u8 {
    match e.kind() {
        ErrorKind::Invalid
        | ErrorKind::NotFound
        | ErrorKind::AlreadyExists
        | ErrorKind::Conflict => EXIT_USAGE,
        ErrorKind::Timeout => EXIT_RUN_NOT_SUCCESSFUL,
        _ => EXIT_ERROR,
    }
}

/// Print a command-line parsing error in the same two-line shape (help and version
/// requests print normally).
pub fn print_usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's message is its first paragraph (e.g. "required arguments were not provided:"
    // followed by the list); usage and tips follow after a blank line.
    let rendered = err.render().to_string();
    let first: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let first = first.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    let first = if first.trim().is_empty() {
        "invalid arguments"
    } else {
        first
    };
    eprintln!("error: {}", one_line(first));
    match suggestion(err) {
        Some(s) => eprintln!(
            "hint: did you mean {s}? see `polysync --help` (or `polysync COMMAND --help`) for the accepted forms"
        ),
        None => eprintln!(
            "hint: see `polysync --help` (or `polysync COMMAND --help`) for the accepted forms"
        ),
    }
    ExitCode::from(EXIT_USAGE)
}

/// clap's "did you mean" for a mistyped subcommand, option or value (`jbos` → `jobs`,
/// `--wiat` → `--wait`), quoted; clap prints it as a tip after the usage block that the
/// two-line shape leaves out, so it is carried into the hint line instead.
fn suggestion(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    [
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedArg,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(|kind| match err.get(kind)? {
        ContextValue::String(s) => Some(format!("`{s}`")),
        ContextValue::Strings(v) if !v.is_empty() => Some(
            v.iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        _ => None,
    })
}

/// The database used when `--database-url` is not given:
/// `<data dir>/polysync/<file>` (e.g. `~/.local/share/polysync/polysync.db`).
pub fn default_database(file: &str) -> anyhow::Result<String> {
    let Some(dir) = dirs::data_dir().or_else(|| dirs::home_dir().map(|h| h.join(".polysync")))
    else {
        return Err(usage(
            "cannot find a data directory for the default database",
            "pass --database-url (or set POLYSYNC_DATABASE_URL)",
        ));
    };
    Ok(dir
        .join("polysync")
        .join(file)
        .to_string_lossy()
        .into_owned())
}

/// `--database-url` on the commands that open the store, and only on them (`emulator`,
/// `arazzo validate`, `completions` and `man` never do, so their help does not offer it).
/// It is global within the command, so it may follow the subcommand
/// (`polysync jobs list --database-url URL`); the same option before the command
/// (`polysync --database-url URL jobs list`) and `POLYSYNC_DATABASE_URL` work too.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DbArgs {
    /// Database: `sqlite:PATH`, a file path, or `postgres://…` (env `POLYSYNC_DATABASE_URL`).
    /// Default: a SQLite file in the user's data directory (`<data dir>/polysync/polysync.db`).
    #[arg(
        long = "database-url",
        id = "command_database_url",
        global = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
}

/// Opens the engine on `--database-url`, or the default SQLite file.
pub async fn open_engine(database_url: Option<String>) -> anyhow::Result<Engine> {
    let url = match database_url.filter(|u| !u.trim().is_empty()) {
        Some(u) => u,
        None => default_database("polysync.db")?,
    };
    let engine = Engine::open(&url).await?;
    // Say what is being retried and why, instead of looking stuck for minutes.
    Ok(
        engine.with_retry_observer(std::sync::Arc::new(|n: &RetryNotice| {
            eprintln!("{n}");
        })),
    )
}

/// Splits `NAME=VALUE` (at the first `=`), refusing anything else with a hint.
pub fn parse_assignment(flag: &str, raw: &str) -> anyhow::Result<(String, String)> {
    match raw.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.to_owned()))
        }
        _ => Err(usage(
            format!("bad {flag} value {raw:?}: expected NAME=VALUE"),
            format!("write it as {flag} name=value, e.g. {flag} env=prod"),
        )),
    }
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM: how foreground services (`emulator`,
/// `dispatcher`, `serve`, `up`) learn to stop cleanly. The handlers are installed when this is
/// CALLED, not when the future is first polled: a service calls it before it announces itself,
/// so a signal sent as soon as its URL is printed stops it cleanly instead of finding no handler
/// (SIGINT's default action kills the process).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
