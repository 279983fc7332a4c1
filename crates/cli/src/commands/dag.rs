//! `polysync tasks run`, `polysync dag-runs …` and `polysync dispatcher`.

use std::process::ExitCode;
use std::time::Duration;

use polysync_engine::{DagRunStatus, DagRunView, DispatcherOptions, Engine};

use super::{EXIT_RUN_NOT_SUCCESSFUL, open_engine, parse_assignment};
use crate::output;

/// Arguments of `polysync tasks run`.
#[derive(Debug, clap::Args)]
pub struct TaskRunArgs {
    /// The task to start; the DAG run holds it and every task downstream of it.
    pub name: String,
    /// Extra parameter value for the task (`-p name=value`, repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Follow the DAG run to its end (running a dispatcher in this process when none is alive).
    #[arg(long)]
    pub wait: bool,
    /// Print the DAG run as JSON (once started, and again at the end with --wait).
    #[arg(long)]
    pub json: bool,
}

/// `polysync dag-runs …`
#[derive(Debug, clap::Subcommand)]
pub enum DagRunsCommand {
    /// List DAG runs, newest first.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Show a DAG run with every task run and attempt.
    Show {
        /// The DAG run id.
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a DAG run: in-flight Databricks runs are cancelled, the rest end Cancelled.
    Cancel {
        /// The DAG run id.
        id: String,
        /// Print the DAG run as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Run `polysync tasks run`.
pub async fn run_task(db: Option<String>, args: TaskRunArgs) -> anyhow::Result<ExitCode> {
    let params = args
        .params
        .iter()
        .map(|p| parse_assignment("-p", p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let engine = open_engine(db).await?;
    let dag = engine
        .start_dag_run(&args.name, &params, "manual", None)
        .await?;
    let view = engine.get_dag_run(&dag.id).await?;
    if args.json {
        output::print_json(&view)?;
    } else {
        crate::output::outln!(
            "started DAG run {} of {} ({} task(s)); follow it with `polysync dag-runs show {}`",
            view.id,
            output::clean(&args.name),
            view.tasks.len(),
            view.id
        );
    }
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let end = wait_for(&engine, &view.id).await?;
    if args.json {
        output::print_json(&end)?;
    } else {
        print_view(&end);
    }
    Ok(exit_for(&end))
}

/// Follows a DAG run to its end: with a live dispatcher by watching the
/// store, else by running one in this process.
async fn wait_for(engine: &Engine, id: &str) -> anyhow::Result<DagRunView> {
    if !engine.dispatcher_alive().await? {
        match engine.dispatcher(DispatcherOptions::default()).await {
            Ok(d) => {
                let out = d.run_dag(id).await;
                d.stop().await?;
                return Ok(out?);
            }
            Err(e) => tracing::info!("not running an in-process dispatcher: {e}"),
        }
    }
    loop {
        let view = engine.get_dag_run(id).await?;
        if view.status.is_terminal() {
            return Ok(view);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn exit_for(view: &DagRunView) -> ExitCode {
    if view.status == DagRunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUN_NOT_SUCCESSFUL)
    }
}

/// Run `polysync dag-runs …`.
pub async fn dag_runs(db: Option<String>, cmd: DagRunsCommand) -> anyhow::Result<ExitCode> {
    let engine = open_engine(db).await?;
    match cmd {
        DagRunsCommand::List { json, limit } => {
            let runs = engine.list_dag_runs(limit.clamp(1, 1_000)).await?;
            if json {
                output::print_json(&runs)?;
            } else if runs.is_empty() {
                crate::output::outln!("no DAG runs; start one with `polysync tasks run TASK`");
            } else {
                let mut t =
                    output::table(["DAG run", "Task", "Trigger", "Status", "Started", "Ended"]);
                for r in &runs {
                    t.add_row(vec![
                        r.id.clone(),
                        output::clean(&r.root_task),
                        r.trigger.clone(),
                        r.status.to_string(),
                        output::time(r.created_at),
                        r.ended_at.map_or_else(|| "-".into(), output::time),
                    ]);
                }
                crate::output::outln!("{t}");
            }
        }
        DagRunsCommand::Show { id, json } => {
            let view = engine.get_dag_run(&id).await?;
            if json {
                output::print_json(&view)?;
            } else {
                print_view(&view);
            }
        }
        DagRunsCommand::Cancel { id, json } => {
            let view = engine.cancel_dag_run(&id).await?;
            if json {
                output::print_json(&view)?;
            } else {
                crate::output::outln!(
                    "DAG run {} is {}; running Databricks runs were asked to cancel",
                    view.id,
                    view.status
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_view(view: &DagRunView) {
    crate::output::outln!(
        "DAG run {} of {} ({}): {}",
        view.id,
        output::clean(&view.root_task),
        view.trigger,
        view.status
    );
    let mut t = output::table(["Task", "Status", "Attempt", "Databricks run", "Message"]);
    for task in &view.tasks {
        let last = task.attempts.last();
        t.add_row(vec![
            output::clean(&task.task),
            task.status.to_string(),
            last.map_or_else(|| "-".into(), |a| a.attempt.to_string()),
            last.and_then(|a| a.databricks_run_id.clone())
                .unwrap_or_else(|| "-".into()),
            output::clean(
                task.message
                    .as_deref()
                    .or(last.and_then(|a| a.message.as_deref()))
                    .unwrap_or(""),
            ),
        ]);
    }
    crate::output::outln!("{t}");
}

/// Arguments of `polysync dispatcher`.
#[derive(Debug, clap::Args)]
pub struct DispatcherArgs {
    /// How long this instance's claims hold without a heartbeat before another instance takes
    /// them over (e.g. `30s`).
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub lease: String,
    /// How often the leases are renewed (e.g. `5s`); keep it well under --lease.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub heartbeat: String,
    /// How often running attempts are polled, one batched listing per platform (e.g. `1s`).
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub track_interval: String,
    /// Databricks requests per second per workspace client (0: no client-side cap). Default:
    /// the platform profile's `rate_limit`, else 15 as the SDKs. The per-workspace budget (90 %
    /// of the published limits, 429s absorbed) applies either way.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
}

fn duration_flag(flag: &str, value: &str) -> anyhow::Result<Duration> {
    polysync_engine::parse_duration(value)
        .map_err(|e| super::usage(format!("{flag}: {e}"), format!("e.g. {flag} 30s")))
}

/// Run `polysync dispatcher`: in the foreground until SIGTERM or Ctrl-C,
/// then drain (leases released so another instance continues at once).
pub async fn dispatcher(db: Option<String>, args: DispatcherArgs) -> anyhow::Result<ExitCode> {
    let opts = DispatcherOptions {
        lease: duration_flag("--lease", &args.lease)?,
        heartbeat: duration_flag("--heartbeat", &args.heartbeat)?,
        track_interval: duration_flag("--track-interval", &args.track_interval)?,
        ..DispatcherOptions::default()
    };
    if opts.heartbeat >= opts.lease {
        return Err(super::usage(
            "--heartbeat must be shorter than --lease",
            "e.g. --lease 30s --heartbeat 5s",
        ));
    }
    let mut engine = open_engine(db).await?;
    if let Some(per_second) = args.rate_limit {
        engine = engine.with_client_rate_limit((per_second > 0).then_some(per_second));
    }
    let d = engine.dispatcher(opts).await?;
    let stop_signal = super::shutdown_signal();
    eprintln!(
        "dispatcher {} running; Ctrl-C or SIGTERM drains and stops it",
        d.id()
    );
    d.run_until(stop_signal).await?;
    eprintln!("dispatcher {} stopped", d.id());
    engine.close().await;
    Ok(ExitCode::SUCCESS)
}
