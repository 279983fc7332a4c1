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
        /// Wall-clock limit in seconds.
        #[arg(long, default_value_t = polysync_arazzo::DEFAULT_TIMEOUT.as_secs())]
        timeout: u64,
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
}

fn mode(strict: bool) -> Mode {
    if strict {
        Mode::Strict
    } else {
        Mode::Compatible
    }
}

/// Dispatch an `arazzo` subcommand.
pub async fn run(database_url: Option<String>, cmd: ArazzoCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ArazzoCommand::Validate { file, strict } => {
            let bundle = match polysync_arazzo::load(&file).await {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            let diags = polysync_arazzo::validate(&bundle, mode(strict));
            for d in &diags {
                eprintln!("{d}");
            }
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            if errors > 0 {
                eprintln!("{file}: {errors} error(s), {warnings} warning(s)");
                Ok(ExitCode::from(EXIT_INVALID))
            } else {
                eprintln!("{file}: valid ({warnings} warning(s))");
                Ok(ExitCode::SUCCESS)
            }
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
            timeout,
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
                timeout: Duration::from_secs(timeout),
                credential,
                authorization,
                ..Default::default()
            };
            let sender = polysync_arazzo::ReqwestSender::new(Duration::from_secs(120))
                .map_err(anyhow::Error::msg)?;
            let rep = match polysync_arazzo::run(
                &bundle,
                workflow.as_deref(),
                Default::default(),
                &pairs,
                opts,
                &sender,
            )
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            for d in &rep.diagnostics {
                eprintln!("{d}");
            }
            if let Some(path) = trace {
                let text = serde_json::to_string_pretty(&rep.trace_json())?;
                std::fs::write(&path, text)?;
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
