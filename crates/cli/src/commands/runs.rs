//! `polysync runs list|show` and `polysync cancel RUN`.

use std::process::ExitCode;

use polysync_engine::{RunFilter, RunStatus};

use super::{open_engine, usage};
use crate::output;

/// Subcommands of `polysync runs`.
#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Only runs of this job (Polysync name).
        #[arg(long)]
        job: Option<String>,
        /// Only runs on this platform.
        #[arg(long)]
        platform: Option<String>,
        /// Only runs with this status (Queued, Running, Success, Failed, Cancelled, Unknown).
        #[arg(long)]
        status: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a run (by Polysync run id) and its status history.
    Show {
        /// Polysync run id (as printed by `polysync run`).
        run: String,
        /// Refresh the status from Databricks first.
        #[arg(long)]
        refresh: bool,
        /// Print JSON (`{run, history}`) instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `polysync cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// Polysync run id.
    pub run: String,
    /// Print the run as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_status(s: &str) -> anyhow::Result<RunStatus> {
    RunStatus::ALL
        .into_iter()
        .find(|v| output::status(*v).eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            usage(
                format!("unknown status {s:?}"),
                "use one of: Queued, Running, Success, Failed, Cancelled, Unknown",
            )
        })
}

/// Run a `polysync runs` subcommand.
pub async fn run(db: Option<String>, cmd: RunsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RunsCommand::List {
            job,
            platform,
            status,
            limit,
            json,
        } => {
            let status = status.as_deref().map(parse_status).transpose()?;
            let engine = open_engine(db).await?;
            let filter = RunFilter {
                job_name: job,
                platform,
                status,
            };
            let runs = engine.list_runs(&filter, limit).await?;
            if json {
                output::print_json(&runs)?;
            } else if runs.is_empty() {
                crate::output::outln!("no runs; start one with `polysync run JOB --wait`");
            } else {
                let mut t = output::table(output::RUN_HEADER);
                for r in &runs {
                    t.add_row(output::run_row(r));
                }
                crate::output::outln!("{t}");
            }
        }
        RunsCommand::Show { run, refresh, json } => {
            let engine = open_engine(db).await?;
            if refresh {
                engine.refresh_run(&run).await?;
            }
            let details = engine.get_run(&run).await?;
            if json {
                // The CLI's JSON keeps the hint as the line it prints.
                let mut value = serde_json::to_value(&details)?;
                if let (Some(obj), Some(h)) = (value.as_object_mut(), &details.hint) {
                    obj.insert("hint".into(), crate::hints::render(h).into());
                }
                output::print_json(&value)?;
            } else {
                let r = &details.run;
                let mut t = output::table(["Field", "Value"]);
                let rows: Vec<(&str, Option<String>)> = vec![
                    ("Run id", Some(r.id.clone())),
                    ("Databricks run", r.databricks_run_id.clone()),
                    ("Job", Some(output::clean(&r.job_name))),
                    ("Type", Some(r.job_type.display_name().to_owned())),
                    ("External Id", Some(output::clean(&r.job_external_id))),
                    ("Platform", Some(r.platform.clone())),
                    ("Status", Some(output::status(r.status))),
                    ("Life cycle state", r.life_cycle_state.clone()),
                    ("Result state", r.result_state.clone()),
                    ("Update state", r.update_state.clone()),
                    (
                        "State message",
                        r.state_message.as_deref().map(output::clean),
                    ),
                    ("Error", r.error_message.as_deref().map(output::clean)),
                    (
                        "Notebook exit value",
                        r.notebook_exit_value.as_deref().map(output::clean),
                    ),
                    ("Created", Some(output::time(r.created_at))),
                    ("Updated", Some(output::time(r.updated_at))),
                    ("Ended", r.ended_at.map(output::time)),
                    ("Monitor URL", r.monitor_url.clone()),
                ];
                for (k, v) in rows {
                    if let Some(v) = v {
                        t.add_row(vec![k.to_owned(), v]);
                    }
                }
                for (k, v) in &r.parameters {
                    t.add_row(vec![
                        format!("Parameter {}", output::clean(k)),
                        output::clean(v),
                    ]);
                }
                crate::output::outln!("{t}");
                if let Some(hint) = engine.run_hint(r).await {
                    crate::output::outln!("hint: {}", output::clean(&crate::hints::render(&hint)));
                }
                if !details.history.is_empty() {
                    let mut h = output::table(["At", "Status", "Databricks state", "Message"]);
                    for c in &details.history {
                        let state = [
                            c.life_cycle_state.as_deref(),
                            c.result_state.as_deref(),
                            c.update_state.as_deref(),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                        h.add_row(vec![
                            output::time(c.at),
                            output::status(c.status),
                            state,
                            c.state_message
                                .as_deref()
                                .map(output::clean)
                                .unwrap_or_default(),
                        ]);
                    }
                    crate::output::outln!("{h}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `polysync cancel`.
pub async fn cancel(db: Option<String>, args: CancelArgs) -> anyhow::Result<ExitCode> {
    let engine = open_engine(db).await?;
    let run = engine.cancel_run(&args.run).await?;
    if args.json {
        output::print_json(&run)?;
    } else {
        crate::output::outln!(
            "run {} {}: {}",
            run.id,
            output::clean(&run.job_name),
            output::status(run.status)
        );
    }
    Ok(ExitCode::SUCCESS)
}
