//! `polysync platform add|list|show|remove`.

use std::path::PathBuf;
use std::process::ExitCode;

use polysync_engine::{Auth, Compute, ComputeType, JobsApiVersion, Platform};

use super::{open_engine, usage};
use crate::output;

/// Subcommands of `polysync platform`.
#[derive(Debug, clap::Subcommand)]
pub enum PlatformCommand {
    /// Register a Databricks workspace (`--host URL --token-env VAR` or `--profile NAME`).
    Add(Box<AddArgs>),
    /// List registered platforms.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one platform.
    Show {
        /// Platform name.
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a platform (refused while it still has jobs, unless `--with-jobs`).
    Remove {
        /// Platform name.
        name: String,
        /// Also remove the platform's jobs, in the same transaction (their runs are kept).
        #[arg(long)]
        with_jobs: bool,
    },
}

/// Arguments of `polysync platform add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Unique platform name (no `:`; jobs are addressed as `PLATFORM:EXTERNAL_ID`).
    pub name: String,
    /// Workspace URL, e.g. `https://adb-123.4.azuredatabricks.net` (read from the profile
    /// when `--profile` is given without it).
    #[arg(long, value_name = "URL")]
    pub host: Option<String>,
    /// Name of the environment variable holding the personal access token (read at run time;
    /// the token itself is never stored).
    #[arg(long, value_name = "VAR", conflicts_with = "profile")]
    pub token_env: Option<String>,
    /// A `~/.databrickscfg` profile (`DATABRICKS_CONFIG_FILE` overrides the file location).
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Explicit profile file for `--profile` (default: `DATABRICKS_CONFIG_FILE`, else
    /// `~/.databrickscfg`, resolved at run time).
    #[arg(long, value_name = "PATH", requires = "profile")]
    pub config_file: Option<PathBuf>,
    /// Compute for notebook runs: new-job-cluster, existing-cluster, instance-pool, serverless.
    #[arg(long, default_value = "serverless", value_name = "TYPE")]
    pub compute: String,
    /// Databricks Runtime version (`spark_version`), e.g. `15.4.x-scala2.12`.
    #[arg(long, value_name = "VERSION")]
    pub cluster_version: Option<String>,
    /// Cluster node type (`node_type_id`), e.g. `Standard_DS3_v2`.
    #[arg(long, value_name = "TYPE")]
    pub node_type: Option<String>,
    /// Number of worker nodes (new job cluster / instance pool).
    #[arg(long, value_name = "N")]
    pub num_workers: Option<String>,
    /// All-purpose cluster id (with `--compute existing-cluster`).
    #[arg(long, value_name = "ID")]
    pub existing_cluster_id: Option<String>,
    /// Instance pool id (with `--compute instance-pool`).
    #[arg(long, value_name = "ID")]
    pub instance_pool_id: Option<String>,
    /// Root of notebook discovery (default `/`).
    #[arg(long, default_value = "/", value_name = "PATH")]
    pub default_notebook_path: String,
    /// Jobs API version: 2.1 (default) or 2.2.
    #[arg(long, default_value = "2.1", value_name = "VERSION")]
    pub jobs_api: String,
    /// Print the saved platform as JSON.
    #[arg(long)]
    pub json: bool,
    /// Save the platform without checking that the workspace answers and accepts the
    /// credentials (offline setup, a token exported later).
    #[arg(long)]
    pub no_verify: bool,
}

/// Run a `polysync platform` subcommand.
pub async fn run(db: Option<String>, cmd: PlatformCommand) -> anyhow::Result<ExitCode> {
    // Validate the arguments before touching the database.
    let platform = match &cmd {
        PlatformCommand::Add(args) => Some(build_platform(args)?),
        _ => None,
    };
    let engine = open_engine(db).await?;
    match cmd {
        PlatformCommand::Add(args) => {
            let Some(platform) = platform else {
                return Ok(ExitCode::SUCCESS);
            };
            let (saved, identity) = if args.no_verify {
                (engine.add_platform(platform).await?, None)
            } else {
                let (saved, identity) = engine.add_verified_platform(platform).await?;
                (saved, Some(identity))
            };
            if args.json {
                output::print_json(&output::platform_json(&saved))?;
            } else {
                let checked = match &identity {
                    Some(who) => format!("credentials verified as {}", output::clean(who)),
                    None => "not verified".to_owned(),
                };
                crate::output::outln!(
                    "platform {} added ({}; {checked}); next: polysync import {}",
                    saved.name,
                    saved.workspace_url,
                    output::shell_quote(&saved.name)
                );
            }
        }
        PlatformCommand::List { json } => {
            let platforms = engine.list_platforms().await?;
            if json {
                let v: Vec<_> = platforms.iter().map(output::platform_json).collect();
                output::print_json(&v)?;
            } else if platforms.is_empty() {
                crate::output::outln!(
                    "no platforms; add one with `polysync platform add NAME --host URL --token-env VAR`"
                );
            } else {
                let mut t = output::table(["Name", "Workspace URL", "Auth", "Compute", "Jobs API"]);
                for p in &platforms {
                    t.add_row(vec![
                        p.name.clone(),
                        p.workspace_url.clone(),
                        output::auth_text(p),
                        output::compute_text(p),
                        p.jobs_api_version.to_string(),
                    ]);
                }
                crate::output::outln!("{t}");
            }
        }
        PlatformCommand::Show { name, json } => {
            let p = engine.get_platform(&name).await?;
            if json {
                output::print_json(&output::platform_json(&p))?;
            } else {
                let mut t = output::table(["Field", "Value"]);
                t.add_row(vec!["Name".to_owned(), p.name.clone()]);
                t.add_row(vec!["Workspace URL".to_owned(), p.workspace_url.clone()]);
                t.add_row(vec!["Auth".to_owned(), output::auth_text(&p)]);
                t.add_row(vec![
                    "Default notebook path".to_owned(),
                    p.default_notebook_path.clone(),
                ]);
                t.add_row(vec!["Jobs API".to_owned(), p.jobs_api_version.to_string()]);
                t.add_row(vec!["Compute".to_owned(), output::compute_text(&p)]);
                crate::output::outln!("{t}");
            }
        }
        PlatformCommand::Remove { name, with_jobs } => {
            let jobs = match engine.remove_platform(&name, with_jobs).await {
                Ok(jobs) => jobs,
                Err(e) if e.kind() == polysync_engine::ErrorKind::Conflict => {
                    return Err(usage(
                        e.to_string(),
                        format!(
                            "remove its jobs one by one (polysync jobs list --platform {q}, then polysync jobs remove JOB), or all of them with: polysync platform remove {q} --with-jobs",
                            q = output::shell_quote(&name)
                        ),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
            if jobs.is_empty() {
                crate::output::outln!("platform {name} removed");
            } else {
                crate::output::outln!(
                    "platform {name} removed with its {} job(s); their runs are kept",
                    jobs.len()
                );
                for j in &jobs {
                    crate::output::outln!("  removed  {}", output::clean(j));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the core `Platform` from the flags and validates it (no database needed).
fn build_platform(args: &AddArgs) -> anyhow::Result<Platform> {
    let auth = match (&args.token_env, &args.profile) {
        (Some(var), None) => Auth::TokenEnv { var: var.clone() },
        (None, Some(name)) => Auth::Profile {
            name: name.clone(),
            config_file: args.config_file.clone(),
        },
        _ => {
            return Err(usage(
                "platform add needs exactly one of --token-env VAR or --profile PROFILE",
                format!(
                    "e.g. polysync platform add {} --host https://adb-123.4.azuredatabricks.net --token-env DATABRICKS_TOKEN",
                    output::shell_quote(&args.name)
                ),
            ));
        }
    };
    let host = match (&args.host, &args.profile) {
        (Some(h), _) => h.clone(),
        (None, Some(profile)) => {
            polysync_engine::profile_host(&args.name, profile, args.config_file.as_deref())
                .map_err(|e| {
                    let hint = e
                        .hint()
                        .map(|h| crate::hints::render(&h))
                        .unwrap_or_default();
                    usage(e.to_string(), hint)
                })?
        }
        (None, None) => {
            return Err(usage(
                "platform add needs --host URL",
                "give the workspace URL, e.g. --host https://adb-123.4.azuredatabricks.net",
            ));
        }
    };
    let compute_type: ComputeType = args.compute.parse().map_err(|_| {
        usage(
            format!("unknown --compute {:?}", args.compute),
            "use one of: new-job-cluster, existing-cluster, instance-pool, serverless",
        )
    })?;
    let num_workers = match &args.num_workers {
        None => None,
        Some(n) => Some(n.trim().parse::<u32>().map_err(|_| {
            usage(
                format!("--num-workers {n:?} is not a whole number"),
                "give the number of worker nodes, e.g. --num-workers 2",
            )
        })?),
    };
    let jobs_api: JobsApiVersion = args.jobs_api.parse().map_err(|_| {
        usage(
            format!("unknown --jobs-api {:?}", args.jobs_api),
            "use --jobs-api 2.1 (default) or --jobs-api 2.2",
        )
    })?;
    let mut platform = Platform::new(args.name.clone(), host, auth);
    platform.default_notebook_path = args.default_notebook_path.clone();
    platform.jobs_api_version = jobs_api;
    platform.compute = Compute {
        compute_type,
        cluster_version: args.cluster_version.clone(),
        node_type: args.node_type.clone(),
        num_workers,
        existing_cluster_id: args.existing_cluster_id.clone(),
        existing_instance_pool: args.instance_pool_id.clone(),
    };
    platform
        .validate()
        .map_err(|e| usage(e.to_string(), crate::hints::render(&e.hint())))?;
    Ok(platform)
}
