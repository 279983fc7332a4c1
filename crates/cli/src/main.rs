//! `polysync`: the command-line interface. Thin by design: it parses arguments, calls the
//! library crates, and renders results. Business logic lives in `polysync-engine` and below.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Polysync: orchestrate Databricks notebooks, jobs, workflows and pipelines.
#[derive(Debug, Parser)]
#[command(name = "polysync", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the Databricks workspace emulator (REST API compatible with official clients).
    Emulator(commands::emulator::EmulatorArgs),
    /// Validate and run Arazzo 1.0.x workflow documents.
    #[command(subcommand)]
    Arazzo(commands::arazzo::ArazzoCommand),
}

fn main() -> ExitCode {
    // reqwest is built without a default TLS provider (see rust-stack notes); install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Emulator(args) => commands::emulator::run(args).await,
            Command::Arazzo(cmd) => commands::arazzo::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            commands::print_error(&err);
            ExitCode::FAILURE
        }
    }
}
