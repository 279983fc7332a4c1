//! `polysync import NAME`: discover a platform's jobs with a progress bar.

use std::process::ExitCode;

use polysync_engine::{Engine, ImportReport};

use super::open_engine;
use crate::{output, progress::ImportBar};

/// Arguments of `polysync import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Platform to import.
    pub platform: String,
    /// Print the report as JSON (`{platform, added, updated, unchanged, removed}`).
    #[arg(long)]
    pub json: bool,
}

/// Run `polysync import`.
pub async fn run(db: Option<String>, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(db).await?;
    let report = import_with_bar(&engine, &args.platform).await?;
    if args.json {
        output::print_json(&report)?;
    } else {
        print_summary(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Imports `platform`, showing a progress bar on a terminal.
pub async fn import_with_bar(engine: &Engine, platform: &str) -> anyhow::Result<ImportReport> {
    let bar = ImportBar::new(platform);
    let result = engine.import(platform, &bar).await;
    bar.finish();
    Ok(result?)
}

/// The human summary: counts, then the names that changed.
pub fn print_summary(r: &ImportReport) {
    crate::output::outln!(
        "imported {}: {} added, {} updated, {} unchanged, {} removed",
        r.platform,
        r.added.len(),
        r.updated.len(),
        r.unchanged.len(),
        r.removed.len()
    );
    for (label, names) in [
        ("added", &r.added),
        ("updated", &r.updated),
        ("removed", &r.removed),
    ] {
        for n in names {
            crate::output::outln!("  {label:<8} {}", output::clean(n));
        }
    }
}
