//! `polysync emulator` (placeholder until the emulator lands).

use std::process::ExitCode;

/// Arguments of `polysync emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {}

/// Run the emulator until interrupted.
pub async fn run(_args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("the emulator is not built yet")
}
