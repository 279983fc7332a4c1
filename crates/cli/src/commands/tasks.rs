//! `polysync tasks`: apply a tasks file, list, show and remove tasks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use polysync_engine::{ApplyMode, StoredTask, TaskApplySummary};

use super::{open_engine, usage};
use crate::output;

/// `polysync tasks …`
#[derive(Debug, clap::Subcommand)]
pub enum TasksCommand {
    /// Apply a tasks file: all or nothing, idempotent (re-applying it changes nothing).
    Apply {
        /// The YAML tasks file.
        file: PathBuf,
        /// Also remove tasks and limits the file no longer declares.
        #[arg(long)]
        prune: bool,
        /// Show what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the applied tasks.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one task's definition.
    Show {
        /// The task's name.
        name: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a DAG run of a task and everything downstream of it.
    Run(super::dag::TaskRunArgs),
    /// Remove one task (refused while other tasks run after it).
    Remove {
        /// The task's name.
        name: String,
    },
}

/// Run a `polysync tasks` subcommand.
pub async fn run(db: Option<String>, cmd: TasksCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TasksCommand::Apply {
            file,
            prune,
            dry_run,
            json,
        } => {
            let shown = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| {
                usage(
                    format!("cannot read the tasks file {shown}: {e}"),
                    "give the path of a YAML tasks file",
                )
            })?;
            let engine = open_engine(db).await?;
            let summary = engine
                .apply_tasks(&shown, &text, ApplyMode { prune, dry_run })
                .await?;
            if json {
                output::print_json(&serde_json::json!({
                    "file": shown,
                    "dry_run": dry_run,
                    "summary": summary,
                }))?;
            } else {
                print_summary(&shown, dry_run, &summary);
            }
        }
        TasksCommand::List { json } => {
            let engine = open_engine(db).await?;
            let tasks = engine.list_tasks().await?;
            if json {
                output::print_json(&tasks)?;
            } else if tasks.is_empty() {
                crate::output::outln!(
                    "no tasks; apply a tasks file with `polysync tasks apply FILE`"
                );
            } else {
                let mut t = output::table(["Task", "Job", "After", "Retry", "Limits", "Next fire"]);
                for s in &tasks {
                    t.add_row(row(s));
                }
                crate::output::outln!("{t}");
            }
        }
        TasksCommand::Show { name, json } => {
            let engine = open_engine(db).await?;
            let task = engine.get_task(&name).await?;
            let dag = engine.dag_of(&name).await?;
            if json {
                let mut v = serde_json::to_value(&task).context("task as JSON")?;
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("dag".into(), serde_json::json!(dag));
                }
                output::print_json(&v)?;
            } else {
                show(&task, &dag.into_iter().collect::<Vec<_>>());
            }
        }
        TasksCommand::Run(args) => return super::dag::run_task(db, args).await,
        TasksCommand::Remove { name } => {
            let engine = open_engine(db).await?;
            engine.remove_task(&name).await?;
            crate::output::outln!("task {} removed", output::clean(&name));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(file: &str, dry_run: bool, s: &TaskApplySummary) {
    let verb = if dry_run { "would apply" } else { "applied" };
    crate::output::outln!(
        "{verb} {}: {} added, {} changed, {} unchanged, {} removed",
        output::clean(file),
        s.added.len(),
        s.changed.len(),
        s.unchanged.len(),
        s.removed.len()
    );
    for (label, names) in [
        ("added", &s.added),
        ("changed", &s.changed),
        ("removed", &s.removed),
        ("limit", &s.limits_changed),
        ("-limit", &s.limits_removed),
    ] {
        for n in names {
            crate::output::outln!("  {label:<8} {}", output::clean(n));
        }
    }
    if !s.kept.is_empty() {
        crate::output::outln!(
            "kept (not in the file; --prune removes them): {}",
            output::clean(&s.kept.join(", "))
        );
    }
}

fn retry_text(task: &polysync_engine::Task) -> String {
    let r = &task.retry;
    if r.attempts <= 1 {
        return "-".into();
    }
    format!(
        "{}× {}{}",
        r.attempts,
        polysync_core_duration(r.backoff_ms),
        if r.exponential { " exp" } else { "" }
    )
}

fn polysync_core_duration(ms: u64) -> String {
    polysync_engine::format_duration(std::time::Duration::from_millis(ms))
}

fn row(s: &StoredTask) -> Vec<String> {
    let t = &s.task;
    vec![
        output::clean(&t.name),
        output::clean(&t.job),
        t.after
            .iter()
            .map(|d| format!("{} ({})", d.task, d.on))
            .collect::<Vec<_>>()
            .join(", "),
        retry_text(t),
        t.limits.join(", "),
        s.next_fire_at.map_or_else(|| "-".into(), output::time),
    ]
}

fn show(s: &StoredTask, dag: &[String]) {
    let t = &s.task;
    let mut table = output::table(["Field", "Value"]);
    table.add_row(vec!["Task".into(), output::clean(&t.name)]);
    table.add_row(vec!["Job".into(), output::clean(&t.job)]);
    for (k, v) in &t.params {
        table.add_row(vec![
            format!("Parameter {}", output::clean(k)),
            output::clean(v),
        ]);
    }
    table.add_row(vec!["Retry".into(), retry_text(t)]);
    table.add_row(vec![
        "Timeout".into(),
        t.timeout_ms
            .map_or_else(|| "-".into(), polysync_core_duration),
    ]);
    table.add_row(vec!["Limits".into(), t.limits.join(", ")]);
    table.add_row(vec!["Priority".into(), t.priority.to_string()]);
    for d in &t.after {
        table.add_row(vec!["After".into(), format!("{} on {}", d.task, d.on)]);
    }
    if let Some(sched) = &t.schedule {
        table.add_row(vec![
            "Schedule".into(),
            format!("{} ({})", sched.cron, sched.timezone),
        ]);
        table.add_row(vec![
            "Next fire".into(),
            s.next_fire_at.map_or_else(|| "-".into(), output::time),
        ]);
    }
    table.add_row(vec!["DAG run holds".into(), dag.join(", ")]);
    crate::output::outln!("{table}");
}
