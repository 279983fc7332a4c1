//! `polysync`: the command-line interface. Thin by design: it parses arguments, calls the
//! library crates, and renders results. Business logic lives in `polysync-engine` and below.

mod commands;
mod deadline;
mod hints;
mod output;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Polysync: orchestrate Databricks notebooks, jobs, workflows and pipelines.
#[derive(Debug, Parser)]
#[command(name = "polysync", version, about, propagate_version = true)]
struct Cli {
    /// Database: `sqlite:PATH`, a file path, or `postgres://…`. Default: a SQLite file in
    /// the user's data directory (`<data dir>/polysync/polysync.db`).
    #[arg(long, global = true, env = "POLYSYNC_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Bound on the whole command (`30s`, `5m`, `1h`); exit 1 when it passes.
    #[arg(long, global = true, value_name = "DURATION", value_parser = deadline::parse)]
    timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Zero-config tour: embedded emulator, sample jobs of every type, import and runs.
    Quickstart(commands::quickstart::QuickstartArgs),
    /// Register, list, show and remove Databricks workspaces.
    #[command(subcommand)]
    Platform(commands::platform::PlatformCommand),
    /// Discover a platform's notebooks, jobs, workflows and pipelines.
    Import(commands::import::ImportArgs),
    /// List, show, add, edit jobs and re-sync their parameters.
    #[command(subcommand)]
    Jobs(commands::jobs::JobsCommand),
    /// Run a job (`-p name=value` overrides, `--wait` to follow it to the end).
    Run(commands::run::RunArgs),
    /// List and show runs.
    #[command(subcommand)]
    Runs(commands::runs::RunsCommand),
    /// Cancel a run by its Polysync run id.
    Cancel(commands::runs::CancelArgs),
    /// Run the Databricks workspace emulator (REST API compatible with official clients).
    Emulator(commands::emulator::EmulatorArgs),
    /// Validate and run Arazzo 1.0.x workflow documents.
    #[command(subcommand)]
    Arazzo(commands::arazzo::ArazzoCommand),
}

fn main() -> ExitCode {
    // reqwest is built without a default TLS provider (see rust-stack notes); install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return commands::print_usage_error(&err),
    };
    init_tracing();
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
            Command::Quickstart(args) => commands::quickstart::run(db, args).await,
            Command::Platform(cmd) => commands::platform::run(db, cmd).await,
            Command::Import(args) => commands::import::run(db, args).await,
            Command::Jobs(cmd) => commands::jobs::run(db, cmd).await,
            Command::Run(args) => commands::run::run(db, args).await,
            Command::Runs(cmd) => commands::runs::run(db, cmd).await,
            Command::Cancel(args) => commands::runs::cancel(db, args).await,
            Command::Emulator(args) => commands::emulator::run(args).await,
            Command::Arazzo(cmd) => commands::arazzo::run(db, cmd).await,
        }
    }));
    // Nothing may outlive the command (emulators, pollers): stop background tasks promptly.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(err) => commands::print_error(&err),
    }
}

/// Logs go to stderr only when `RUST_LOG` asks for them, so normal output stays clean.
fn init_tracing() {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
