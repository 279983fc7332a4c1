//! `polysync run JOB [-p name=value ...] [--wait] [--json]`.

use std::process::ExitCode;
use std::time::Duration;

use polysync_engine::{Engine, Run, RunStatus, WaitOptions};

use super::{EXIT_RUN_NOT_SUCCESSFUL, open_engine, parse_assignment, usage};
use crate::{output, progress::RunLine};

/// Arguments of `polysync run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Job name or `PLATFORM:EXTERNAL_ID`.
    pub job: String,
    /// Parameter override `name=value` (repeatable); validated before anything is sent.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Wait until the run ends (live status line on a terminal); exit 0 only on Success.
    #[arg(long)]
    pub wait: bool,
    /// Print the run as JSON (with --wait: the final run).
    #[arg(long)]
    pub json: bool,
    /// Seconds between status polls while waiting.
    #[arg(long, default_value = "1", value_name = "SECS")]
    pub poll_interval: String,
    /// Print the request that would be sent (method, path, body) and send nothing.
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,
    /// Stop waiting after this many seconds (the run continues in Databricks; exit 3). The
    /// global `--timeout` instead bounds the whole command (exit 1).
    #[arg(long, value_name = "SECS")]
    pub wait_timeout: Option<String>,
    /// While waiting, how long a run may sit in PENDING on a new job cluster before Polysync
    /// suggests a faster compute type.
    #[arg(long, default_value = "120", value_name = "SECS")]
    pub pending_hint_after: String,
    /// On Ctrl-C while waiting, cancel the run in Databricks before exiting (without it the
    /// run goes on and its id and the cancel command are printed).
    #[arg(long, requires = "wait")]
    pub cancel_on_interrupt: bool,
}

/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// How often a wait asks the engine for a hint (a run stuck in PENDING on a new job cluster,
/// a pipeline draining in STOPPING): those situations produce no state change, so the status
/// callbacks alone would never surface them. A quarter of the hint delay, within 250 ms..10 s.
fn hint_check_interval(pending_hint_after: Duration) -> Duration {
    (pending_hint_after / 4).clamp(Duration::from_millis(250), Duration::from_secs(10))
}

/// The check interval used when the caller keeps the engine's default hint delay (120 s).
pub const DEFAULT_HINT_CHECK: Duration = Duration::from_secs(10);

/// A positive number of seconds from a flag's value (exit 2 otherwise).
pub fn seconds(flag: &str, raw: &str) -> anyhow::Result<Duration> {
    match raw.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(usage(
            format!("{flag} {raw:?} is not a positive number of seconds"),
            format!("e.g. {flag} 2.5"),
        )),
    }
}

/// Run `polysync run`.
pub async fn run(db: Option<String>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let overrides = args
        .params
        .iter()
        .map(|raw| parse_assignment("-p", raw))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let opts = WaitOptions {
        poll_interval: seconds("--poll-interval", &args.poll_interval)?,
        timeout: args
            .wait_timeout
            .as_deref()
            .map(|t| seconds("--wait-timeout", t))
            .transpose()?,
    };
    let pending_hint_after = seconds("--pending-hint-after", &args.pending_hint_after)?;
    let engine = open_engine(db)
        .await?
        .with_pending_hint_after(pending_hint_after);
    if args.dry_run {
        let preview = engine.preview_request(&args.job, &overrides).await?;
        for w in preview["warnings"].as_array().into_iter().flatten() {
            if let Some(w) = w.as_str() {
                eprintln!("warning: {}", output::clean(w));
            }
        }
        output::print_json(&preview)?;
        return Ok(ExitCode::SUCCESS);
    }
    let run = engine.start_run(&args.job, &overrides).await?;
    if !args.wait {
        if args.json {
            output::print_json(&run)?;
        } else {
            crate::output::outln!(
                "run {} started ({}; Databricks run {})",
                run.id,
                output::status(run.status),
                run.databricks_run_id.as_deref().unwrap_or("-")
            );
            if let Some(url) = &run.monitor_url {
                crate::output::outln!("monitor: {url}");
            }
            crate::output::outln!("follow it with: polysync runs show {}", run.id);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let label = format!("{} ({})", run.job_name, run.id);
    let check = hint_check_interval(pending_hint_after);
    // Biased: the Ctrl-C handler is installed (first poll) before the wait prints anything.
    let waited = tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => None,
        r = wait_with_line(&engine, &run, &label, opts, args.json, check) => Some(r),
    };
    let Some(last) = waited else {
        return interrupted(&engine, &run, args.cancel_on_interrupt).await;
    };
    let last = last?;
    if args.json {
        output::print_json(&last)?;
    } else {
        print_final(&last);
        if let Some(hint) = engine.run_hint(&last).await {
            crate::output::outln!("hint: {}", output::clean(&crate::hints::render(&hint)));
        }
    }
    Ok(exit_for(&last))
}

/// Waits for `run`, showing a live status line on a terminal, and prints the engine's hint
/// (once per distinct hint) when the run is stuck in a state that has a known fix.
pub async fn wait_with_line(
    engine: &Engine,
    run: &Run,
    label: &str,
    opts: WaitOptions,
    quiet: bool,
    hint_check: Duration,
) -> anyhow::Result<Run> {
    let mut line = RunLine::new(label, quiet);
    line.update(run);
    let notes = line.notes();
    let latest = std::sync::Mutex::new(run.clone());
    let result = {
        let mut on_update = |r: &Run| {
            line.update(r);
            if let Ok(mut l) = latest.lock() {
                l.clone_from(r);
            }
        };
        let wait = engine.wait_run(&run.id, opts, &mut on_update);
        tokio::pin!(wait);
        let mut tick = tokio::time::interval(hint_check);
        tick.reset();
        let mut shown: Option<String> = None;
        loop {
            tokio::select! {
                done = &mut wait => break done,
                _ = tick.tick() => {
                    let current = latest.lock().ok().map(|r| r.clone());
                    let hint = match current {
                        Some(r) => engine.run_hint(&r).await.map(|h| crate::hints::render(&h)),
                        None => None,
                    };
                    if let Some(hint) = hint.filter(|h| shown.as_deref() != Some(h.as_str())) {
                        notes.print(&format!("hint: {}", output::clean(&hint)));
                        shown = Some(hint);
                    }
                }
            }
        }
    };
    line.finish();
    Ok(result?)
}

/// Ctrl-C during `run --wait`: the run lives in Databricks, so say which run goes on and how
/// to cancel it, or cancel it first when asked to (`--cancel-on-interrupt`). Exit 130.
async fn interrupted(engine: &Engine, run: &Run, cancel: bool) -> anyhow::Result<ExitCode> {
    let databricks = run.databricks_run_id.as_deref().unwrap_or("-");
    if cancel {
        let cancelled = engine.cancel_run(&run.id).await?;
        eprintln!(
            "interrupted: cancelling run {} (Databricks run {databricks}): {}",
            cancelled.id,
            if cancelled.status.is_terminal() {
                output::status(cancelled.status)
            } else {
                "Databricks is terminating the run".to_owned()
            }
        );
    } else {
        eprintln!(
            "interrupted: run {} (Databricks run {databricks}) goes on in Databricks",
            run.id
        );
        eprintln!(
            "hint: follow it with `polysync runs show {id} --refresh`, cancel it with `polysync cancel {id}`",
            id = run.id
        );
    }
    Ok(ExitCode::from(EXIT_INTERRUPTED))
}

fn print_final(r: &Run) {
    crate::output::outln!(
        "run {} {}: {} (Databricks run {})",
        r.id,
        output::clean(&r.job_name),
        output::status(r.status),
        r.databricks_run_id.as_deref().unwrap_or("-")
    );
    if let Some(url) = &r.monitor_url {
        crate::output::outln!("monitor: {url}");
    }
    if let Some(msg) = &r.error_message {
        crate::output::outln!("error: {}", output::clean(msg));
    }
    if let Some(v) = &r.notebook_exit_value {
        crate::output::outln!("notebook exit value: {}", output::clean(v));
    }
}

/// 0 only on Success.
pub fn exit_for(r: &Run) -> ExitCode {
    if r.status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUN_NOT_SUCCESSFUL)
    }
}
