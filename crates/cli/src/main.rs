//! `polysync`: the command-line interface. Thin by design: it parses arguments, calls the
//! library crates, and renders results. Business logic lives in `polysync-engine` and below.

mod commands;
mod deadline;
mod hints;
mod output;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use commands::DbArgs;

/// Polysync: orchestrate Databricks notebooks, jobs, workflows and pipelines.
#[derive(Debug, Parser)]
#[command(name = "polysync", version, about, propagate_version = true)]
struct Cli {
    /// Database of the commands that use the store: `sqlite:PATH`, a file path, or
    /// `postgres://…`. Default: a SQLite file in the user's data directory
    /// (`<data dir>/polysync/polysync.db`). Those commands also accept it after their name.
    #[arg(long, env = "POLYSYNC_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Bound on the whole command (`30s`, `5m`, `1h`); exit 1 when it passes.
    #[arg(long, global = true, value_name = "DURATION", value_parser = deadline::parse)]
    timeout: Option<std::time::Duration>,
    /// Log lines on stderr as `text` or `json` (one object per line). Logs are on for `up` and
    /// `serve` (access log at info), else only when `RUST_LOG` asks.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A command's own arguments plus `--database-url`, for the commands that open the store.
#[derive(Debug, clap::Args)]
struct WithDb<T: clap::Args> {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    args: T,
}

/// A command group plus `--database-url` (accepted after any of its subcommands).
#[derive(Debug, clap::Args)]
struct GroupWithDb<T: Subcommand> {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    cmd: T,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything with no configuration: demo store, embedded emulator with the demo
    /// workspace, dispatcher and HTTP server (Ctrl-C stops it all).
    Up(WithDb<commands::serve::UpArgs>),
    /// Serve the HTTP API (the seed's /api/jobs routes) on the store.
    Serve(WithDb<commands::serve::ServeArgs>),
    /// Create, list and revoke the HTTP server's API tokens.
    Tokens(GroupWithDb<commands::tokens::TokensCommand>),
    /// Zero-config tour: embedded emulator, sample jobs of every type, import and runs.
    Quickstart(WithDb<commands::quickstart::QuickstartArgs>),
    /// Register, list, show and remove Databricks workspaces.
    Platform(GroupWithDb<commands::platform::PlatformCommand>),
    /// Discover a platform's notebooks, jobs, workflows and pipelines.
    Import(WithDb<commands::import::ImportArgs>),
    /// List, show, add, edit, remove jobs and re-sync their parameters.
    Jobs(GroupWithDb<commands::jobs::JobsCommand>),
    /// Run a job (`-p name=value` overrides, `--wait` to follow it to the end).
    Run(WithDb<commands::run::RunArgs>),
    /// List and show runs.
    Runs(GroupWithDb<commands::runs::RunsCommand>),
    /// Apply a tasks file; list, show, run and remove tasks.
    Tasks(GroupWithDb<commands::tasks::TasksCommand>),
    /// List, show and cancel DAG runs.
    #[command(name = "dag-runs")]
    DagRuns(GroupWithDb<commands::dag::DagRunsCommand>),
    /// Run the dispatcher in the foreground (Ctrl-C / SIGTERM drains it).
    Dispatcher(WithDb<commands::dag::DispatcherArgs>),
    /// Cancel a run by its Polysync run id.
    Cancel(WithDb<commands::runs::CancelArgs>),
    /// Run the Databricks workspace emulator (REST API compatible with official clients).
    Emulator(commands::emulator::EmulatorArgs),
    /// Validate and run Arazzo 1.0.x workflow documents.
    #[command(subcommand)]
    Arazzo(commands::arazzo::ArazzoCommand),
    /// Print a shell completion script (e.g. `polysync completions bash > /etc/bash_completion.d/polysync`).
    Completions(commands::docs::CompletionsArgs),
    /// Print the man page (roff), or write one page per command with `--dir`.
    Man(commands::docs::ManArgs),
}

impl Command {
    /// Whether the command may open the store (and so has a use for `--database-url`).
    fn uses_store(&self) -> bool {
        match self {
            Command::Emulator(_) | Command::Completions(_) | Command::Man(_) => false,
            Command::Arazzo(cmd) => matches!(
                cmd,
                commands::arazzo::ArazzoCommand::Run { .. }
                    | commands::arazzo::ArazzoCommand::Import { .. }
            ),
            _ => true,
        }
    }
}

/// Parses the command line. A `--database-url` written before a command that never opens
/// the store is refused rather than silently ignored (`POLYSYNC_DATABASE_URL` in the
/// environment is not: it is meant for every command).
fn parse() -> Result<Cli, clap::Error> {
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(std::env::args_os())?;
    let cli = Cli::from_arg_matches(&matches)?;
    if !cli.command.uses_store()
        && matches.value_source("database_url") == Some(clap::parser::ValueSource::CommandLine)
    {
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--database-url applies only to the commands that use the store (not emulator, arazzo validate, completions or man)",
        ));
    }
    Ok(cli)
}

fn main() -> ExitCode {
    // reqwest is built without a default TLS provider (see rust-stack notes); install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(err) => return commands::print_usage_error(&err),
    };
    let serving = matches!(cli.command, Command::Up(_) | Command::Serve(_));
    init_tracing(cli.log_format, serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(commands::EXIT_ERROR);
        }
    };
    let db = cli.database_url;
    let result = runtime.block_on(deadline::bounded(cli.timeout, async move {
        match cli.command {
            Command::Up(c) => commands::serve::run_up(c.db.database_url.or(db), c.args).await,
            Command::Serve(c) => commands::serve::run_serve(c.db.database_url.or(db), c.args).await,
            Command::Tokens(c) => commands::tokens::run(c.db.database_url.or(db), c.cmd).await,
            Command::Quickstart(c) => {
                commands::quickstart::run(c.db.database_url.or(db), c.args).await
            }
            Command::Platform(c) => commands::platform::run(c.db.database_url.or(db), c.cmd).await,
            Command::Import(c) => commands::import::run(c.db.database_url.or(db), c.args).await,
            Command::Jobs(c) => commands::jobs::run(c.db.database_url.or(db), c.cmd).await,
            Command::Run(c) => commands::run::run(c.db.database_url.or(db), c.args).await,
            Command::Runs(c) => commands::runs::run(c.db.database_url.or(db), c.cmd).await,
            Command::Cancel(c) => commands::runs::cancel(c.db.database_url.or(db), c.args).await,
            Command::Tasks(c) => commands::tasks::run(c.db.database_url.or(db), c.cmd).await,
            Command::DagRuns(c) => commands::dag::dag_runs(c.db.database_url.or(db), c.cmd).await,
            Command::Dispatcher(c) => {
                commands::dag::dispatcher(c.db.database_url.or(db), c.args).await
            }
            Command::Emulator(args) => commands::emulator::run(args).await,
            Command::Arazzo(cmd) => commands::arazzo::run(db, cmd).await,
            Command::Completions(args) => commands::docs::completions(Cli::command(), &args),
            Command::Man(args) => commands::docs::man(Cli::command(), &args),
        }
    }));
    // Nothing may outlive the command (emulators, pollers): stop background tasks promptly.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(err) => commands::print_error(&err),
    }
}

/// Logs go to stderr only when `RUST_LOG` asks for them, so normal output stays clean; the
/// server commands log at info by default (the access log).
fn init_tracing(format: LogFormat, serving: bool) {
    let filter = match tracing_subscriber::EnvFilter::try_from_env("RUST_LOG") {
        Ok(f) => f,
        Err(_) if serving => tracing_subscriber::EnvFilter::new("info"),
        Err(_) => return,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
