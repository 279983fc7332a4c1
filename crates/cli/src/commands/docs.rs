//! `polysync completions SHELL` and `polysync man`: generated from the command definitions
//! themselves (clap_complete, clap_mangen), so they never drift from the real options.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::output;

/// Arguments of `polysync completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// Shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `polysync man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `polysync.1` and one `polysync-COMMAND.1` per command into this directory
    /// instead of printing the top-level page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Prints the completion script of `shell` on stdout.
pub fn completions(mut cmd: clap::Command, args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "polysync", &mut script);
    output::write_bytes(&script);
    Ok(ExitCode::SUCCESS)
}

/// Prints the top-level man page, or writes every page into `--dir`.
pub fn man(cmd: clap::Command, args: &ManArgs) -> anyhow::Result<ExitCode> {
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
            output::outln!("man pages written to {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            output::write_bytes(&page);
        }
    }
    Ok(ExitCode::SUCCESS)
}
