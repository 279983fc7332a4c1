//! `polysync arazzo` (placeholder until the runner lands).

use std::process::ExitCode;

/// Subcommands of `polysync arazzo`.
#[derive(Debug, clap::Subcommand)]
pub enum ArazzoCommand {
    /// Validate a document.
    Validate {
        /// Path to the Arazzo document.
        file: std::path::PathBuf,
    },
}

/// Dispatch an `arazzo` subcommand.
pub async fn run(_cmd: ArazzoCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the Arazzo runner is not built yet")
}
