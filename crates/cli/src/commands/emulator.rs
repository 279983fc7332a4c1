//! `polysync emulator`: run the Databricks workspace emulator until Ctrl-C / SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use polysync_emulator::{EmulatorConfig, FaultConfig, OAuthClient};

/// Arguments of `polysync emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind; loopback by default so the emulator is never exposed by accident.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Accepted personal access token (repeatable). Default: `dapi-emulator`.
    #[arg(long = "token")]
    pub tokens: Vec<String>,
    /// OAuth M2M service principal `CLIENT_ID:SECRET` for `/oidc/v1/token` (repeatable).
    #[arg(long = "oauth-client")]
    pub oauth_clients: Vec<String>,
    /// Directory of seed notebooks (`*.py|*.scala|*.sql|*.r`, `*.ipynb`) mirrored at `/`.
    #[arg(long)]
    pub workspace_dir: Option<PathBuf>,
    /// Simulated seconds per real second (e.g. 60 makes a 1-minute run take 1 s).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Apply a rate-limit profile (`databricks` = the published per-workspace limits).
    #[arg(long)]
    pub rate_limit_profile: Option<String>,
    /// Probability (0–1) of answering an API request with 500/503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Disable serverless compute (tasks without a cluster are then refused with the real 400).
    #[arg(long)]
    pub no_serverless: bool,
    /// Serve the demo workspace: the demo notebooks (written to a temporary directory unless
    /// --workspace-dir names one holding them) plus the demo job, workflow and pipelines.
    #[arg(long)]
    pub demo: bool,
}

/// Run the emulator until interrupted.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let mut faults = match &args.rate_limit_profile {
        Some(p) => FaultConfig::profile(p).with_context(|| {
            format!("unknown rate-limit profile '{p}' (known: databricks, none)")
        })?,
        None => FaultConfig::default(),
    };
    if !(0.0..=1.0).contains(&args.error_rate) {
        bail!("--error-rate must be between 0 and 1");
    }
    faults.error_rate = args.error_rate;
    faults.latency_ms = args.latency_ms;
    let oauth_clients = args
        .oauth_clients
        .iter()
        .map(|c| {
            c.split_once(':')
                .map(|(id, secret)| OAuthClient {
                    client_id: id.to_owned(),
                    client_secret: secret.to_owned(),
                })
                .with_context(|| format!("--oauth-client must be CLIENT_ID:SECRET, got '{c}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Kept alive until the emulator stops: the temporary demo workspace, if one was made.
    let mut demo_dir = None;
    let workspace_dir = match args.workspace_dir {
        None if args.demo => {
            let dir = tempfile::tempdir().context("creating a temporary demo workspace")?;
            polysync_emulator::demo::write_notebooks(dir.path())
                .context("writing the demo notebooks")?;
            let path = dir.path().to_path_buf();
            demo_dir = Some(dir);
            Some(path)
        }
        other => other,
    };
    let mut config = EmulatorConfig {
        bind: SocketAddr::new(args.bind, args.port),
        oauth_clients,
        workspace_dir,
        time_scale: args.time_scale,
        serverless_enabled: !args.no_serverless,
        faults,
        ..EmulatorConfig::default()
    };
    if !args.tokens.is_empty() {
        config.tokens = args.tokens;
    }
    let handle = match polysync_emulator::start(config).await {
        Ok(h) => h,
        Err(polysync_emulator::Error::Bind { addr, source })
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            // Said once, with what to do about it (the io error alone repeats itself).
            return Err(anyhow::Error::new(super::Hinted {
                message: format!("cannot listen on {addr}: address already in use"),
                hint: format!(
                    "try another --port (--port 0 picks a free one), or stop the process using port {}",
                    addr.port()
                ),
                code: super::EXIT_ERROR,
            }));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("starting the emulator")),
    };
    let stop_signal = super::shutdown_signal();
    crate::output::outln!("polysync emulator listening on {}", handle.url());
    if args.demo {
        let demo = match handle.seed_demo() {
            Ok(demo) => demo,
            Err(e) => {
                handle.shutdown().await;
                return Err(anyhow::Error::new(e).context("seeding the demo workspace"));
            }
        };
        crate::output::outln!(
            "demo workspace: notebooks under /Demo, job {}, workflow {}, pipelines {} and {}",
            demo.job_id,
            demo.workflow_id,
            demo.pipeline_id,
            demo.continuous_pipeline_id
        );
    }
    stop_signal.await;
    handle.shutdown().await;
    drop(demo_dir);
    Ok(ExitCode::SUCCESS)
}
