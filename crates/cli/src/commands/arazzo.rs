//! `polysync arazzo`: validate and run Arazzo 1.0.x workflows (logic lives in polysync-arazzo).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use polysync_arazzo::{Mode, RunOptions};
use secrecy::ExposeSecret;

/// Exit code when the document, the workflow choice or the inputs are invalid.
const EXIT_INVALID: u8 = 2;
/// Exit code when a step failed unhandled or a limit stopped the run.
const EXIT_FAILED: u8 = 1;

/// Subcommands of `polysync arazzo`.
#[derive(Debug, clap::Subcommand)]
pub enum ArazzoCommand {
    /// Validate a document and its source descriptions; lists every problem with its location.
    Validate {
        /// Path or URL of the Arazzo document.
        file: String,
        /// Follow the spec to the letter: tolerated off-spec constructs become errors.
        #[arg(long)]
        strict: bool,
        /// Print `{file, valid, errors, warnings, diagnostics: [{severity, location, message}]}`
        /// on stdout instead of the readable list on stderr.
        #[arg(long)]
        json: bool,
    },
    /// Run a workflow; prints its outputs as one JSON object on stdout.
    Run {
        /// Path or URL of the Arazzo document.
        file: String,
        /// Workflow to run (required when the document has several).
        #[arg(long)]
        workflow: Option<String>,
        /// Input value `k=v`, typed by the workflow's inputs schema (repeatable).
        #[arg(long = "input", value_name = "K=V")]
        inputs: Vec<String>,
        /// Base URL of a source description's API, `NAME=URL` (repeatable).
        #[arg(long = "server", value_name = "NAME=URL")]
        servers: Vec<String>,
        /// Write the redacted step-by-step trace as JSON to this file.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Print the readable step report on stderr.
        #[arg(long)]
        report: bool,
        /// Follow the spec to the letter.
        #[arg(long)]
        strict: bool,
        /// Minimum seconds between two executions of the same step.
        #[arg(long, default_value_t = 1.0)]
        min_revisit_delay: f64,
        /// Global step limit.
        #[arg(long, default_value_t = polysync_arazzo::DEFAULT_MAX_STEPS)]
        max_steps: u64,
        /// Wall-clock limit of the run in seconds (a limit failure, exit 1, with the trace so
        /// far). The global `--timeout DURATION` bounds the whole command instead.
        #[arg(long, value_name = "SECS", default_value_t = polysync_arazzo::DEFAULT_TIMEOUT.as_secs())]
        max_duration: u64,
        /// Token for a missing required secret input (e.g. `token`); never printed.
        #[arg(long, env = "POLYSYNC_ARAZZO_TOKEN", hide_env_values = true)]
        credential: Option<String>,
        /// Take the API's base URL and credentials from a registered Polysync platform: every
        /// source without `--server` runs against the platform's URL (keeping the description's
        /// server path, e.g. `/api`), requests without an `Authorization` header get the
        /// platform's, and a missing required token input is filled from it.
        #[arg(long, value_name = "NAME")]
        platform: Option<String>,
        /// The store holding `--platform` (only `arazzo run` opens it).
        #[command(flatten)]
        db: super::DbArgs,
    },
    /// Register a document's workflows as Arazzo Workflow jobs: inputs become Input
    /// parameters, outputs Output parameters (read downstream as
    /// `${tasks.NAME.outputs.PARAM}`). Re-import updates them; runs use the imported copy.
    Import {
        /// Path or URL of the Arazzo document.
        file: String,
        /// Platform whose workspace URL and credentials the workflows run against.
        #[arg(long)]
        platform: String,
        /// Import only this workflow (default: every workflow of the document).
        #[arg(long)]
        workflow: Option<String>,
        /// Print `{location, platform, added, updated, unchanged}` as JSON.
        #[arg(long)]
        json: bool,
        /// The store to import into.
        #[command(flatten)]
        db: super::DbArgs,
    },
}

fn mode(strict: bool) -> Mode {
    if strict {
        Mode::Strict
    } else {
        Mode::Compatible
    }
}

/// `arazzo validate --json`: one object for scripts and editors; a document that cannot be
/// loaded at all is one error diagnostic at the file itself.
fn validation_json(
    file: &str,
    diags: &[polysync_arazzo::Diagnostic],
    load_error: Option<String>,
) -> serde_json::Value {
    let mut list: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            serde_json::json!({
                "severity": if d.is_error() { "error" } else { "warning" },
                "location": d.location,
                "message": d.message,
            })
        })
        .collect();
    if let Some(e) = load_error {
        list.push(serde_json::json!({"severity": "error", "location": file, "message": e}));
    }
    let errors = list.iter().filter(|d| d["severity"] == "error").count();
    serde_json::json!({
        "file": file,
        "valid": errors == 0,
        "errors": errors,
        "warnings": list.len() - errors,
        "diagnostics": list,
    })
}

/// Dispatch an `arazzo` subcommand.
pub async fn run(database_url: Option<String>, cmd: ArazzoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ArazzoCommand::Import {
            file,
            platform,
            workflow,
            json,
            db,
        } => {
            let engine = super::open_engine(db.database_url.or(database_url)).await?;
            let report = engine
                .import_arazzo(&file, &platform, workflow.as_deref())
                .await?;
            if json {
                crate::output::outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for (what, names) in [
                    ("added", &report.added),
                    ("updated", &report.updated),
                    ("unchanged", &report.unchanged),
                ] {
                    for name in names {
                        crate::output::outln!("{what}: {name}");
                    }
                }
                eprintln!(
                    "imported {} on platform {}: {} added, {} updated, {} unchanged",
                    report.location,
                    report.platform,
                    report.added.len(),
                    report.updated.len(),
                    report.unchanged.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ArazzoCommand::Validate { file, strict, json } => {
            let bundle = match polysync_arazzo::load(&file).await {
                Ok(b) => b,
                Err(e) => {
                    if json {
                        let v = validation_json(&file, &[], Some(e.to_string()));
                        crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
                    } else {
                        eprintln!("error: {e}");
                    }
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            let diags = polysync_arazzo::validate(&bundle, mode(strict));
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            if json {
                let v = validation_json(&file, &diags, None);
                crate::output::outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for d in &diags {
                    eprintln!("{d}");
                }
                if errors > 0 {
                    eprintln!("{file}: {errors} error(s), {warnings} warning(s)");
                } else {
                    eprintln!("{file}: valid ({warnings} warning(s))");
                }
            }
            Ok(if errors > 0 {
                ExitCode::from(EXIT_INVALID)
            } else {
                ExitCode::SUCCESS
            })
        }
        ArazzoCommand::Run {
            file,
            workflow,
            inputs,
            servers,
            trace,
            report,
            strict,
            min_revisit_delay,
            max_steps,
            max_duration,
            credential,
            platform,
            db,
        } => {
            let database_url = db.database_url.or(database_url);
            let pairs =
                polysync_arazzo::inputs::split_pairs(&inputs).map_err(anyhow::Error::msg)?;
            let mut servers =
                polysync_arazzo::inputs::split_servers(&servers).map_err(anyhow::Error::msg)?;
            let bundle = match polysync_arazzo::load(&file).await {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            let (mut authorization, mut credential) = (None, credential);
            if let Some(name) = platform {
                let engine = super::open_engine(database_url).await?;
                let (url, value) = engine.platform_authorization(&name).await?;
                for (source, base) in bundle.servers_rebased_on(&url) {
                    servers.entry(source).or_insert(base);
                }
                let value = value.expose_secret().to_owned();
                if credential.is_none() {
                    credential = value.strip_prefix("Bearer ").map(str::to_owned);
                }
                authorization = Some(value);
            }
            let opts = RunOptions {
                mode: mode(strict),
                servers,
                min_revisit_delay: Duration::from_secs_f64(min_revisit_delay.max(0.0)),
                max_steps,
                timeout: Duration::from_secs(max_duration),
                credential,
                authorization,
                ..Default::default()
            };
            let sender = polysync_arazzo::ReqwestSender::new(Duration::from_secs(120))
                .map_err(anyhow::Error::msg)?;
            // `--trace FILE` is streamed step by step, so memory does not grow with the steps.
            let mut writer = match &trace {
                Some(path) => Some(polysync_arazzo::trace::JsonTraceWriter::new(
                    std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| {
                        anyhow::anyhow!("cannot write the trace file {}: {e}", path.display())
                    })?),
                )?),
                None => None,
            };
            let sink = writer
                .as_mut()
                .map(|w| Box::new(w) as Box<dyn polysync_arazzo::trace::StepSink + '_>);
            let rep = match polysync_arazzo::run_with_sink(
                &bundle,
                workflow.as_deref(),
                Default::default(),
                &pairs,
                opts,
                &sender,
                sink,
            )
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    if let Some(path) = &trace {
                        // Nothing ran: leave no half-written trace behind.
                        drop(writer);
                        let _ = std::fs::remove_file(path);
                    }
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            for d in &rep.diagnostics {
                eprintln!("{d}");
            }
            if let (Some(w), Some(path)) = (writer, &trace) {
                w.finish(&rep.trace, &rep.secrets).map_err(|e| {
                    anyhow::anyhow!("cannot write the trace file {}: {e}", path.display())
                })?;
            }
            if report {
                eprint!("{}", rep.report());
            }
            crate::output::outln!("{}", serde_json::to_string(&rep.outputs)?);
            match &rep.error {
                None => Ok(ExitCode::SUCCESS),
                Some(e) => {
                    eprintln!(
                        "error: {}",
                        polysync_arazzo::trace::redact_text(&e.to_string(), &rep.secrets)
                    );
                    Ok(ExitCode::from(EXIT_FAILED))
                }
            }
        }
    }
}
