//! `polysync jobs list|show|sync-params|add|edit|remove`.

use std::process::ExitCode;

use polysync_engine::{DataType, Direction, Job, JobFilter, JobType, Parameter};

use super::{open_engine, parse_assignment, usage};
use crate::output;

/// Subcommands of `polysync jobs`.
#[derive(Debug, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs (imported and hand-made).
    List {
        /// Only jobs of this platform.
        #[arg(long)]
        platform: Option<String>,
        /// Only jobs of this type (notebook, job, workflow, pipeline).
        #[arg(long = "type", value_name = "TYPE")]
        job_type: Option<String>,
        /// Include jobs marked removed by a re-import.
        #[arg(long)]
        all: bool,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one job and its parameters (JOB = Polysync name or PLATFORM:EXTERNAL_ID).
    Show {
        /// Job name or `PLATFORM:EXTERNAL_ID`.
        job: String,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Re-read one job's parameter schema from Databricks, keeping values you set.
    SyncParams {
        /// Job name or `PLATFORM:EXTERNAL_ID`.
        job: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a job by hand.
    Add(AddArgs),
    /// Remove a job and its parameters (its runs are kept; a re-import brings an imported job
    /// back if Databricks still has it).
    Remove {
        /// Job name or `PLATFORM:EXTERNAL_ID`.
        job: String,
    },
    /// Change a job: type, External Id, parameters and their values.
    Edit(EditArgs),
}

/// Arguments of `polysync jobs add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Polysync name (unique).
    pub name: String,
    /// Job type: notebook, job, workflow or pipeline.
    #[arg(long = "type", value_name = "TYPE")]
    pub job_type: String,
    /// External Id: notebook path, numeric job id, or pipeline id.
    #[arg(long, value_name = "ID")]
    pub external_id: String,
    /// Platform the job runs on.
    #[arg(long)]
    pub platform: String,
    /// Parameter `NAME[:TYPE[:DIRECTION]][=DEFAULT]`, sent at run time (repeatable).
    #[arg(long = "param", value_name = "SPEC")]
    pub params: Vec<String>,
    /// Reference-only parameter `NAME[:TYPE][=DEFAULT]`, shown but never sent (repeatable).
    #[arg(long = "ref-param", value_name = "SPEC")]
    pub ref_params: Vec<String>,
    /// Print the saved job as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `polysync jobs edit`.
#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// Job name or `PLATFORM:EXTERNAL_ID`.
    pub job: String,
    /// New job type.
    #[arg(long = "type", value_name = "TYPE")]
    pub job_type: Option<String>,
    /// New External Id.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,
    /// Add or replace a parameter `NAME[:TYPE[:DIRECTION]][=DEFAULT]` (repeatable).
    #[arg(long = "param", value_name = "SPEC")]
    pub params: Vec<String>,
    /// Add or replace a reference-only parameter `NAME[:TYPE][=DEFAULT]` (repeatable).
    #[arg(long = "ref-param", value_name = "SPEC")]
    pub ref_params: Vec<String>,
    /// Remove a parameter (repeatable).
    #[arg(long = "remove-param", value_name = "NAME")]
    pub remove_params: Vec<String>,
    /// Set a parameter's current value, used instead of its default (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Clear a parameter's current value, falling back to its default (repeatable).
    #[arg(long = "unset", value_name = "NAME")]
    pub unset: Vec<String>,
    /// Print the saved job as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run a `polysync jobs` subcommand.
pub async fn run(db: Option<String>, cmd: JobsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JobsCommand::List {
            platform,
            job_type,
            all,
            json,
        } => {
            let job_type = job_type.as_deref().map(parse_type).transpose()?;
            let engine = open_engine(db).await?;
            let filter = JobFilter {
                platform,
                job_type,
                include_removed: all,
            };
            let jobs = engine.list_jobs(&filter).await?;
            if json {
                let v: Vec<_> = jobs.iter().map(output::job_json).collect();
                output::print_json(&v)?;
            } else if jobs.is_empty() {
                crate::output::outln!("no jobs; import a platform with `polysync import PLATFORM`");
            } else {
                let mut t =
                    output::table(["Name", "Type", "External Id", "Platform", "Parameters"]);
                for j in &jobs {
                    let mut name = output::clean(&j.name);
                    if j.removed_at.is_some() {
                        name.push_str(" (removed)");
                    }
                    t.add_row(vec![
                        name,
                        j.job_type.display_name().to_owned(),
                        output::clean(&j.external_id),
                        j.platform.clone(),
                        j.parameters
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]);
                }
                crate::output::outln!("{t}");
            }
        }
        JobsCommand::Show { job, json } => {
            let engine = open_engine(db).await?;
            let j = engine.get_job(&job).await?;
            print_job(&j, json)?;
        }
        JobsCommand::SyncParams { job, json } => {
            let engine = open_engine(db).await?;
            let report = engine.sync_params(&job).await?;
            if json {
                output::print_json(&report)?;
            } else {
                crate::output::outln!(
                    "synced {}: {} added, {} removed, {} kept values",
                    output::clean(&report.job),
                    report.added.len(),
                    report.removed.len(),
                    report.kept_values.len()
                );
                for (label, names) in [
                    ("added", &report.added),
                    ("removed", &report.removed),
                    ("kept", &report.kept_values),
                ] {
                    for n in names {
                        crate::output::outln!("  {label:<8} {}", output::clean(n));
                    }
                }
            }
        }
        JobsCommand::Remove { job } => {
            let engine = open_engine(db).await?;
            let removed = engine.remove_job(&job).await?;
            crate::output::outln!("job {} removed", output::clean(&removed.name));
        }
        JobsCommand::Add(args) => {
            let job_type = parse_type(&args.job_type)?;
            let mut job = Job::new(
                args.name.clone(),
                job_type,
                args.external_id.clone(),
                args.platform.clone(),
            );
            for spec in &args.params {
                upsert(&mut job, parse_param(spec, true)?);
            }
            for spec in &args.ref_params {
                upsert(&mut job, parse_param(spec, false)?);
            }
            job.validate().map_err(polysync_engine::Error::from)?;
            let engine = open_engine(db).await?;
            // The platform must exist before a job can point at it.
            engine.get_platform(&job.platform).await?;
            let saved = engine.add_job(job).await?;
            if args.json {
                output::print_json(&output::job_json(&saved))?;
            } else {
                crate::output::outln!("job {} added", output::clean(&saved.name));
            }
        }
        JobsCommand::Edit(args) => {
            let engine = open_engine(db).await?;
            let mut job = engine.get_job(&args.job).await?;
            if let Some(t) = &args.job_type {
                job.job_type = parse_type(t)?;
                job.parameter_mapping = None;
            }
            if let Some(id) = &args.external_id {
                job.external_id.clone_from(id);
            }
            for spec in &args.params {
                upsert(&mut job, parse_param(spec, true)?);
            }
            for spec in &args.ref_params {
                upsert(&mut job, parse_param(spec, false)?);
            }
            for name in &args.remove_params {
                let before = job.parameters.len();
                job.parameters.retain(|p| &p.name != name);
                if job.parameters.len() == before {
                    return Err(unknown_param(&job, name));
                }
            }
            for raw in &args.set {
                let (name, value) = parse_assignment("--set", raw)?;
                match job.parameters.iter_mut().find(|p| p.name == name) {
                    Some(p) => p.current_value = Some(value),
                    None => return Err(unknown_param(&job, &name)),
                }
            }
            for name in &args.unset {
                match job.parameters.iter_mut().find(|p| &p.name == name) {
                    Some(p) => p.current_value = None,
                    None => return Err(unknown_param(&job, name)),
                }
            }
            let saved = engine.edit_job(job).await?;
            if args.json {
                output::print_json(&output::job_json(&saved))?;
            } else {
                crate::output::outln!("job {} saved", output::clean(&saved.name));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn unknown_param(job: &Job, name: &str) -> anyhow::Error {
    usage(
        format!("job {} has no parameter {name:?}", job.name),
        format!(
            "its parameters are: {}",
            if job.parameters.is_empty() {
                "none".to_owned()
            } else {
                job.parameters
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    )
}

fn upsert(job: &mut Job, p: Parameter) {
    match job.parameters.iter_mut().find(|q| q.name == p.name) {
        Some(q) => *q = p,
        None => job.parameters.push(p),
    }
}

fn parse_type(s: &str) -> anyhow::Result<JobType> {
    s.parse().map_err(|_| {
        usage(
            format!("unknown job type {s:?}"),
            "use one of: notebook, job, workflow, pipeline",
        )
    })
}

/// Parses `NAME[:TYPE[:DIRECTION]][=DEFAULT]`.
fn parse_param(spec: &str, forwarded: bool) -> anyhow::Result<Parameter> {
    let (head, default) = match spec.split_once('=') {
        Some((h, d)) => (h, Some(d.to_owned())),
        None => (spec, None),
    };
    let mut parts = head.split(':');
    let name = parts.next().unwrap_or_default().trim().to_owned();
    let bad = |what: String| {
        usage(
            format!("bad parameter {spec:?}: {what}"),
            "write it as NAME[:TYPE[:DIRECTION]][=DEFAULT], e.g. --param run_date:Date=2025-01-31",
        )
    };
    if name.is_empty() {
        return Err(bad("the name is empty".into()));
    }
    let mut p = Parameter::input(name, default);
    if let Some(t) = parts.next() {
        p.data_type = t.parse::<DataType>().map_err(|e| bad(e.to_string()))?;
    }
    if let Some(d) = parts.next() {
        p.direction = d.parse::<Direction>().map_err(|e| bad(e.to_string()))?;
    }
    if parts.next().is_some() {
        return Err(bad("too many ':' parts".into()));
    }
    p.forwarded = forwarded;
    Ok(p)
}

fn print_job(j: &Job, json: bool) -> anyhow::Result<()> {
    if json {
        return output::print_json(&output::job_json(j));
    }
    let mut t = output::table(["Field", "Value"]);
    t.add_row(vec!["Name".to_owned(), output::clean(&j.name)]);
    t.add_row(vec![
        "Type".to_owned(),
        j.job_type.display_name().to_owned(),
    ]);
    t.add_row(vec![
        "External Id".to_owned(),
        output::clean(&j.external_id),
    ]);
    t.add_row(vec!["Platform".to_owned(), j.platform.clone()]);
    if let Some(m) = &j.parameter_mapping {
        t.add_row(vec![
            "Parameters sent as".to_owned(),
            output::mapping_text(m),
        ]);
    }
    if let Some(at) = j.removed_at {
        t.add_row(vec!["Removed".to_owned(), output::time(at)]);
    }
    crate::output::outln!("{t}");
    if j.parameters.is_empty() {
        crate::output::outln!("no parameters");
        return Ok(());
    }
    let mut p = output::table([
        "Parameter",
        "Data type",
        "Direction",
        "Default",
        "Value",
        "Choices",
        "Sent",
    ]);
    for q in &j.parameters {
        p.add_row(vec![
            output::clean(&q.name),
            q.data_type.to_string(),
            q.direction.display_name().to_owned(),
            q.default_value
                .as_deref()
                .map(output::clean)
                .unwrap_or_default(),
            q.current_value
                .as_deref()
                .map(output::clean)
                .unwrap_or_default(),
            q.choices
                .iter()
                .map(|c| output::clean(c))
                .collect::<Vec<_>>()
                .join(", "),
            if q.forwarded { "yes" } else { "reference only" }.to_owned(),
        ]);
    }
    crate::output::outln!("{p}");
    Ok(())
}
