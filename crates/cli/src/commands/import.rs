//! `polysync import NAME`: discover a platform's jobs with a progress bar.

use std::process::ExitCode;

use polysync_engine::{Engine, ImportReport};

use super::{EXIT_RUN_NOT_SUCCESSFUL, open_engine};
use crate::{output, progress::ImportBar};

/// Arguments of `polysync import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Platform to import.
    pub platform: String,
    /// Print the report as JSON (`{platform, added, updated, unchanged, removed, warnings, skipped}`).
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
    if report.is_partial() {
        eprintln!(
            "error: the import of {} was partial: {} item(s) skipped (listed above); the rest was imported",
            report.platform,
            report.skipped.len()
        );
        return Ok(ExitCode::from(EXIT_RUN_NOT_SUCCESSFUL));
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
    for w in &r.warnings {
        eprintln!("warning: {}", output::clean(w));
    }
    for s in &r.skipped {
        let what = if s.whole_kind {
            format!("all {} ({})", s.object, s.job_type.display_name())
        } else {
            format!("{} {}", s.job_type.display_name(), s.object)
        };
        eprintln!(
            "warning: skipped {}: {}",
            output::clean(&what),
            output::clean(&s.reason)
        );
    }
}
