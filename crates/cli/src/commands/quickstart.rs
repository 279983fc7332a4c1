//! `polysync quickstart`: the zero-config tour.
//!
//! Starts an embedded emulator on the emulator crate's demo workspace (notebooks embedded in
//! the binary; a single-task job, a multi-task workflow and two pipelines seeded into it),
//! registers the emulator as a platform in a fresh SQLite store, imports it, runs one job of
//! each type, prints a summary, and stops everything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use polysync_emulator::{DemoWorkspace, EmulatorConfig};
use polysync_engine::{Auth, Engine, Job, JobFilter, JobType, Platform, Run, WaitOptions};

use super::{EXIT_RUN_NOT_SUCCESSFUL, default_database, usage};
use crate::output;

/// Platform name used by the quickstart.
const PLATFORM: &str = "quickstart";
/// Variable name the quickstart platform names for its token (resolved in-process).
const TOKEN_VAR: &str = "POLYSYNC_QUICKSTART_TOKEN";
/// Simulated seconds per real second: the whole tour stays well under a minute.
const TIME_SCALE: f64 = 10.0;

/// Arguments of `polysync quickstart`.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    /// Only write the demo notebooks to DIR (for `polysync emulator --workspace-dir DIR`)
    /// and exit.
    #[arg(long, value_name = "DIR")]
    pub write_demo_workspace: Option<PathBuf>,
}

/// Which job of one type to run, found by type and External Id, with its overrides.
type Pick<'a> = (JobType, &'a str, Vec<(String, String)>);

/// One summary row.
struct Outcome {
    job_type: JobType,
    job: String,
    run: Option<Run>,
    error: Option<String>,
}

/// Run `polysync quickstart`.
pub async fn run(db: Option<String>, args: QuickstartArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.write_demo_workspace {
        write_demo(&dir)?;
        crate::output::outln!("demo notebooks written to {}", dir.display());
        crate::output::outln!(
            "start an emulator on them: polysync emulator --workspace-dir {} --time-scale 10",
            output::shell_quote(&dir.display().to_string())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let db_url = match db.filter(|u| !u.trim().is_empty()) {
        Some(u) => u,
        None => {
            let path = default_database("quickstart.db")?;
            fresh_sqlite(Path::new(&path))?;
            path
        }
    };
    let workspace = tempfile::tempdir().context("creating a temporary demo workspace")?;
    write_demo(workspace.path())?;
    let token = format!(
        "quickstart-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let config = EmulatorConfig {
        tokens: vec![token.clone()],
        workspace_dir: Some(workspace.path().to_path_buf()),
        time_scale: TIME_SCALE,
        ..EmulatorConfig::default()
    };
    let emulator = polysync_emulator::start(config)
        .await
        .context("starting the embedded emulator")?;
    let url = emulator.url();
    crate::output::outln!("emulator listening on {url} (time scale x{TIME_SCALE})");
    let result = match emulator.seed_demo() {
        Ok(seeded) => tour(&db_url, &url, &token, &seeded).await,
        Err(e) => Err(anyhow::Error::new(e).context("seeding the demo workspace")),
    };
    emulator.shutdown().await;
    drop(workspace);
    let outcomes = result?;
    print_summary(&outcomes, &db_url, started.elapsed());
    let all_ok = outcomes.iter().all(|o| {
        o.run
            .as_ref()
            .is_some_and(|r| r.status == polysync_engine::RunStatus::Success)
    });
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUN_NOT_SUCCESSFUL)
    })
}

/// Register, import, run. The emulator is stopped by the caller whatever happens.
async fn tour(
    db_url: &str,
    url: &str,
    token: &str,
    seeded: &DemoWorkspace,
) -> anyhow::Result<Vec<Outcome>> {
    crate::output::outln!(
        "seeded 4 notebooks (Python, Scala, SQL, R), job {}, workflow {}, 2 pipelines",
        seeded.job_id,
        seeded.workflow_id
    );
    let secret = token.to_owned();
    let engine = Engine::open(db_url)
        .await?
        .with_env(Arc::new(move |k: &str| {
            (k == TOKEN_VAR).then(|| secret.clone())
        }));
    let outcome = tour_engine(&engine, url, seeded).await;
    engine.close().await;
    outcome
}

async fn tour_engine(
    engine: &Engine,
    url: &str,
    seeded: &DemoWorkspace,
) -> anyhow::Result<Vec<Outcome>> {
    let platform = Platform::new(
        PLATFORM,
        url,
        Auth::TokenEnv {
            var: TOKEN_VAR.to_owned(),
        },
    );
    engine.add_platform(platform).await.map_err(|e| match e {
        e @ polysync_engine::Error::AlreadyExists { .. } => usage(
            e.to_string(),
            "the quickstart needs a fresh database: omit --database-url (it then recreates <data dir>/polysync/quickstart.db) or point it at an empty one",
        ),
        other => other.into(),
    })?;
    crate::output::outln!("registered platform {PLATFORM}");
    let report = super::import::import_with_bar(engine, PLATFORM).await?;
    super::import::print_summary(&report);
    let jobs = engine
        .list_jobs(&JobFilter {
            platform: Some(PLATFORM.to_owned()),
            ..JobFilter::default()
        })
        .await?;
    let job_id = seeded.job_id.to_string();
    let workflow_id = seeded.workflow_id.to_string();
    let picks: [Pick<'_>; 4] = [
        (
            JobType::DatabricksNotebook,
            "/Demo/sales_report",
            vec![("region".to_owned(), "APAC".to_owned())],
        ),
        (JobType::DatabricksJob, &job_id, Vec::new()),
        (JobType::DatabricksWorkflow, &workflow_id, Vec::new()),
        (JobType::DatabricksPipeline, &seeded.pipeline_id, Vec::new()),
    ];
    let mut outcomes = Vec::new();
    for (job_type, external_id, overrides) in picks {
        let Some(job) = find(&jobs, job_type, external_id) else {
            outcomes.push(Outcome {
                job_type,
                job: external_id.to_owned(),
                run: None,
                error: Some("not found by the import".to_owned()),
            });
            continue;
        };
        outcomes.push(run_one(engine, job, &overrides).await);
    }
    Ok(outcomes)
}

fn find<'a>(jobs: &'a [Job], job_type: JobType, external_id: &str) -> Option<&'a Job> {
    jobs.iter()
        .find(|j| j.job_type == job_type && j.external_id == external_id)
        .or_else(|| jobs.iter().find(|j| j.job_type == job_type))
}

async fn run_one(engine: &Engine, job: &Job, overrides: &[(String, String)]) -> Outcome {
    let mut outcome = Outcome {
        job_type: job.job_type,
        job: job.name.clone(),
        run: None,
        error: None,
    };
    let shown: Vec<String> = overrides
        .iter()
        .map(|(k, v)| format!("-p {k}={v}"))
        .collect();
    crate::output::outln!(
        "running {} {}{}",
        job.job_type.display_name(),
        output::clean(&job.name),
        if shown.is_empty() {
            String::new()
        } else {
            format!(" {}", shown.join(" "))
        }
    );
    let run = match engine.start_run(&job.name, overrides).await {
        Ok(r) => r,
        Err(e) => {
            outcome.error = Some(e.to_string());
            return outcome;
        }
    };
    let opts = WaitOptions {
        poll_interval: Duration::from_millis(250),
        timeout: Some(Duration::from_secs(40)),
    };
    let label = format!("{} {}", job.job_type.display_name(), job.name);
    match super::run::wait_with_line(
        engine,
        &run,
        &label,
        opts,
        false,
        super::run::DEFAULT_HINT_CHECK,
    )
    .await
    {
        Ok(r) => outcome.run = Some(r),
        Err(e) => {
            outcome.error = Some(e.to_string());
            outcome.run = Some(run);
        }
    }
    outcome
}

fn print_summary(outcomes: &[Outcome], db_url: &str, elapsed: Duration) {
    let mut t = output::table([
        "Type",
        "Job",
        "Status",
        "Run id",
        "Databricks run",
        "Monitor URL",
    ]);
    for o in outcomes {
        let (status, id, dbr, url) = match &o.run {
            Some(r) => (
                output::status(r.status),
                r.id.clone(),
                r.databricks_run_id.clone().unwrap_or_else(|| "-".into()),
                r.monitor_url.clone().unwrap_or_else(|| "-".into()),
            ),
            None => ("not run".into(), "-".into(), "-".into(), "-".into()),
        };
        let status = match &o.error {
            Some(e) => format!("{status}: {}", output::clean(e)),
            None => status,
        };
        t.add_row(vec![
            o.job_type.display_name().to_owned(),
            output::clean(&o.job),
            status,
            id,
            dbr,
            url,
        ]);
    }
    crate::output::outln!("{t}");
    crate::output::outln!(
        "quickstart finished in {:.1} s; the emulator is stopped.",
        elapsed.as_secs_f64()
    );
    let db = output::shell_quote(db_url);
    let first_run = outcomes
        .iter()
        .find_map(|o| o.run.as_ref().map(|r| r.id.clone()))
        .unwrap_or_else(|| "RUN_ID".into());
    crate::output::outln!();
    crate::output::outln!("Try next:");
    crate::output::outln!("  polysync --database-url {db} jobs list        # what was imported");
    crate::output::outln!("  polysync --database-url {db} jobs show /Demo/sales_report");
    crate::output::outln!("  polysync --database-url {db} runs show {first_run}");
    crate::output::outln!("Run your own emulator with the demo notebooks and register it:");
    crate::output::outln!("  polysync quickstart --write-demo-workspace ./demo-workspace");
    crate::output::outln!(
        "  polysync emulator --workspace-dir ./demo-workspace --port 8080 --time-scale 10 &"
    );
    crate::output::outln!("  export DEMO_TOKEN=dapi-emulator");
    crate::output::outln!(
        "  polysync platform add demo --host http://127.0.0.1:8080 --token-env DEMO_TOKEN"
    );
    crate::output::outln!("  polysync import demo");
    crate::output::outln!("  polysync run /Demo/sales_report -p region=APAC --wait");
    crate::output::outln!(
        "Against a real workspace: polysync platform add prod --profile DEFAULT (or --host URL --token-env VAR)"
    );
}

/// Removes a previous quickstart database (and its WAL files) so the store is fresh.
pub(super) fn fresh_sqlite(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(usage(
                    format!(
                        "cannot remove the previous quickstart database {}: {e}",
                        path.display()
                    ),
                    "delete it by hand or pass --database-url",
                ));
            }
        }
    }
    Ok(())
}

/// Writes the emulator's demo notebooks under `dir`.
pub(super) fn write_demo(dir: &Path) -> anyhow::Result<()> {
    polysync_emulator::demo::write_notebooks(dir).context("writing the demo notebooks")
}
