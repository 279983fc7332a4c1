//! `polysync runs list|show` and `polysync cancel RUN`.

use std::process::ExitCode;

use polysync_engine::{RunFilter, RunStatus, TaskRun, WaitOptions};

use super::{open_engine, usage};
use crate::output;

/// Subcommands of `polysync runs`.
#[derive(Debug, clap::Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List {
        /// Only runs of this job (Polysync name or PLATFORM:EXTERNAL_ID); unknown: exit 2.
        #[arg(long)]
        job: Option<String>,
        /// Only runs on this platform (unknown: exit 2).
        #[arg(long)]
        platform: Option<String>,
        /// Refresh the runs shown that have not ended from Databricks first (one batched
        /// listing per platform, not one request per run).
        #[arg(long)]
        refresh: bool,
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
    /// Show a run, its status history and (multi-task runs) its task runs.
    Show {
        /// Polysync run id, a unique prefix of it, or the Databricks run id.
        run: String,
        /// Refresh the status from Databricks first.
        #[arg(long)]
        refresh: bool,
        /// Also read each ended task's notebook exit value (one request per task).
        #[arg(long)]
        output: bool,
        /// Print JSON (`{run, history}`) instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `polysync cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// Polysync run id, a unique prefix of it, or the Databricks run id.
    pub run: String,
    /// Wait until the run has ended and print its final status.
    #[arg(long)]
    pub wait: bool,
    /// Seconds between status polls with --wait.
    #[arg(long, default_value = "1", value_name = "SECS")]
    pub poll_interval: String,
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
            refresh,
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
            let runs = if refresh {
                let refreshed = engine.refresh_runs(&filter, limit).await?;
                for f in &refreshed.failures {
                    eprintln!(
                        "warning: runs on platform {} not refreshed: {}",
                        f.platform,
                        output::clean(&f.message)
                    );
                }
                refreshed.runs
            } else {
                engine.list_runs(&filter, limit).await?
            };
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
        RunsCommand::Show {
            run,
            refresh,
            output: outputs,
            json,
        } => {
            let engine = open_engine(db).await?;
            if refresh {
                engine.refresh_run(&run).await?;
            }
            let details = engine.get_run_details(&run, outputs).await?;
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
                    (
                        "Outputs",
                        r.outputs.as_ref().map(|o| output::clean(&o.to_string())),
                    ),
                    ("Created", Some(output::time(r.created_at))),
                    ("Started", r.started_at.map(output::time)),
                    (
                        "Duration",
                        Some(output::duration(
                            r.duration_ms(jiff::Timestamp::now().as_millisecond()),
                        )),
                    ),
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
                print_tasks(&details.tasks, outputs);
                if let Some(e) = &details.tasks_error {
                    eprintln!("warning: task runs not read: {}", output::clean(e));
                }
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

/// A multi-task run's task runs: key, status, duration, and under a failed task its error and
/// trace (with `--output`, every task's notebook exit value).
fn print_tasks(tasks: &[TaskRun], outputs: bool) {
    if tasks.is_empty() {
        return;
    }
    let mut t = output::table(["Task", "Status", "Databricks state", "Duration", "Task run"]);
    for task in tasks {
        let state = [
            task.life_cycle_state.as_deref(),
            task.result_state.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
        t.add_row(vec![
            output::clean(&task.task_key),
            output::status(task.status),
            state,
            task.duration_ms.map(output::duration).unwrap_or_default(),
            task.run_id.clone(),
        ]);
    }
    crate::output::outln!("{t}");
    for task in tasks {
        let key = output::clean(&task.task_key);
        if let Some(e) = &task.error {
            crate::output::outln!("task {key} error: {}", output::clean(e));
        }
        if let Some(trace) = &task.error_trace {
            crate::output::outln!("task {key} error trace:");
            for line in trace.lines() {
                crate::output::outln!("    {}", output::clean(line));
            }
        }
        if outputs {
            match &task.notebook_exit_value {
                Some(v) => crate::output::outln!("task {key} output: {}", output::clean(v)),
                None => crate::output::outln!("task {key} output: (none)"),
            }
        }
    }
}

/// Run `polysync cancel`: asks Databricks to stop the run (asynchronous there, so the run is
/// usually still terminating when this returns), or says the run had already ended (a no-op,
/// exit 0). With `--wait`, follows the run to its end and prints the final status.
pub async fn cancel(db: Option<String>, args: CancelArgs) -> anyhow::Result<ExitCode> {
    let poll_interval = super::run::seconds("--poll-interval", &args.poll_interval)?;
    let engine = open_engine(db).await?;
    let asked = jiff::Timestamp::now().as_millisecond();
    let run = engine.cancel_run(&args.run).await?;
    let label = format!("run {} {}", run.id, output::clean(&run.job_name));
    // Ended before the cancel was asked, or ended otherwise than cancelled: not our doing.
    let already_ended = run.status.is_terminal()
        && (run.ended_at.is_some_and(|e| e < asked) || run.status != RunStatus::Cancelled);
    if already_ended {
        if args.json {
            output::print_json(&run)?;
        } else {
            crate::output::outln!(
                "{label} already ended as {}; nothing to cancel",
                output::status(run.status)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let run = if args.wait && !run.status.is_terminal() {
        if !args.json {
            crate::output::outln!("{label}: cancelling; Databricks is terminating the run");
        }
        let opts = WaitOptions {
            poll_interval,
            timeout: None,
        };
        super::run::wait_with_line(
            &engine,
            &run,
            &label,
            opts,
            args.json,
            super::run::DEFAULT_HINT_CHECK,
        )
        .await?
    } else {
        run
    };
    if args.json {
        output::print_json(&run)?;
    } else if run.status.is_terminal() {
        crate::output::outln!("{label}: {}", output::status(run.status));
    } else {
        crate::output::outln!("{label}: cancelling; Databricks is terminating the run");
        crate::output::outln!("follow it with: polysync runs show {} --refresh", run.id);
    }
    Ok(ExitCode::SUCCESS)
}
