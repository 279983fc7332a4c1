//! `polysync serve` (the HTTP server on a store) and `polysync up` (the
//! whole thing with no configuration: a demo store, the embedded emulator
//! seeded with the demo workspace, the dispatcher and the server). Thin:
//! both parse flags, wire the pieces together and wait for Ctrl-C.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use polysync_emulator::EmulatorConfig;
use polysync_engine::{
    Auth, DispatcherOptions, Engine, JobKey, NoProgress, Platform, TrackingRole,
};
use polysync_server::{ServerConfig, ServerOptions, load_server_config, serve};
use tokio_util::sync::CancellationToken;

use super::{default_database, open_engine, shutdown_signal, usage};
use crate::output;

/// Flags shared by `serve` and `up`.
#[derive(Debug, clap::Args)]
pub struct ServerFlags {
    /// Job keys for `/api/jobs/:jobKey` (`[jobs.<key>]` tables), merged over the
    /// `DATABRICKS_JOB_*` environment variables, and the execution tiers (`[tiers]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Beyond loopback only once an API token exists.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
}

/// Arguments of `polysync serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    server: ServerFlags,
}

/// Arguments of `polysync up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: ServerFlags,
    /// Use this `~/.databrickscfg` profile as platform `default` instead of the emulator.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
}

const DEMO_PLATFORM: &str = "demo";
const DEMO_TOKEN_VAR: &str = "POLYSYNC_DEMO_TOKEN";
const TIME_SCALE: f64 = 10.0;

/// Says how the server is protected; refuses an address other machines
/// can reach while no API token exists (anyone could start and cancel runs).
async fn check_bind(engine: &Engine, flags: &ServerFlags) -> anyhow::Result<&'static str> {
    if engine.api_tokens_required().await? {
        return Ok("API tokens required (Authorization: Bearer …)");
    }
    if flags.bind.is_loopback() {
        return Ok(
            "open: loopback and no API token (create one with `polysync tokens create NAME`)",
        );
    }
    Err(usage(
        format!(
            "refusing to listen on {} without API tokens: anyone reaching it could start and cancel runs",
            flags.bind
        ),
        "create one with `polysync tokens create NAME`, or listen on loopback (--bind 127.0.0.1)",
    ))
}

async fn listen(flags: &ServerFlags) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = SocketAddr::new(flags.bind, flags.port);
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

fn config(flags: &ServerFlags) -> anyhow::Result<ServerConfig> {
    Ok(load_server_config(
        std::env::vars(),
        flags.config.as_deref(),
    )?)
}

/// Run `polysync serve`.
pub async fn run_serve(db: Option<String>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let ServerConfig { keys, tiers } = config(&args.server)?;
    let engine = open_engine(db).await?.with_tiers(tiers);
    let access = check_bind(&engine, &args.server).await?;
    let listener = listen(&args.server).await?;
    let stop_signal = shutdown_signal();
    let url = format!("http://{}", listener.local_addr()?);
    eprintln!("polysync server listening on {url} ({access})");
    eprintln!("job keys: {}", key_list(&keys));
    warn_unknown_jobs(&engine, &keys).await;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        engine.clone(),
        ServerOptions {
            keys,
            tiers,
            ..ServerOptions::default()
        },
        shutdown.clone(),
    ));
    stop_signal.await;
    shutdown.cancel();
    server.await.context("server task")??;
    engine.close().await;
    eprintln!("polysync server stopped");
    Ok(ExitCode::SUCCESS)
}

/// Warns about keys whose job is not in the store (their routes answer 404 until it is imported).
async fn warn_unknown_jobs(engine: &Engine, keys: &BTreeMap<String, JobKey>) {
    for k in keys.values() {
        if let Err(e) = engine.check_job_key(k).await {
            eprintln!(
                "warning: job key {} → {}: {e}; import its platform first",
                k.key, k.job
            );
        }
    }
}

fn key_list(keys: &BTreeMap<String, JobKey>) -> String {
    if keys.is_empty() {
        return "none (set DATABRICKS_JOB_<NAME> or pass --config)".into();
    }
    keys.values()
        .map(|k| format!("{} → {}", k.key, k.job))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run `polysync up`.
pub async fn run_up(db: Option<String>, args: UpArgs) -> anyhow::Result<ExitCode> {
    let ServerConfig { mut keys, tiers } = config(&args.server)?;
    let real = std::env::var("DATABRICKS_HOST")
        .ok()
        .filter(|h| !h.trim().is_empty());
    let db_url = match db.filter(|u| !u.trim().is_empty()) {
        Some(u) => u,
        None if real.is_some() || args.profile.is_some() => default_database("polysync.db")?,
        None => {
            let path = default_database("demo.db")?;
            if let Some(dir) = Path::new(&path).parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            super::quickstart::fresh_sqlite(Path::new(&path))?;
            path
        }
    };
    // The emulator lives as long as this command; its workspace folder too.
    let mut emulator = None;
    let workspace = tempfile::tempdir().context("creating a temporary demo workspace")?;
    let engine;
    if real.is_some() || args.profile.is_some() {
        engine = open_engine(Some(db_url.clone())).await?.with_tiers(tiers);
        let auth = match &args.profile {
            Some(name) => Auth::Profile {
                name: name.clone(),
                config_file: None,
            },
            None => Auth::TokenEnv {
                var: "DATABRICKS_TOKEN".into(),
            },
        };
        let host = match (&real, &args.profile) {
            (Some(h), _) => h.clone(),
            (None, Some(p)) => polysync_engine::profile_host("default", p, None)?,
            (None, None) => unreachable_host()?,
        };
        ensure_platform(&engine, Platform::new("default", host, auth)).await?;
        eprintln!("importing platform default …");
        engine.import("default", &NoProgress).await?;
    } else {
        super::quickstart::write_demo(workspace.path())?;
        let token = format!("demo-{}", uuid_like());
        let emu = polysync_emulator::start(EmulatorConfig {
            tokens: vec![token.clone()],
            workspace_dir: Some(workspace.path().to_path_buf()),
            time_scale: TIME_SCALE,
            ..EmulatorConfig::default()
        })
        .await
        .context("starting the embedded emulator")?;
        let seeded = emu.seed_demo().context("seeding the demo workspace")?;
        let secret = token.clone();
        engine = Engine::open(&db_url)
            .await?
            .with_env(Arc::new(move |k: &str| {
                (k == DEMO_TOKEN_VAR).then(|| secret.clone())
            }))
            .with_tiers(tiers);
        ensure_platform(
            &engine,
            Platform::new(
                DEMO_PLATFORM,
                emu.url(),
                Auth::TokenEnv {
                    var: DEMO_TOKEN_VAR.into(),
                },
            ),
        )
        .await?;
        engine.import(DEMO_PLATFORM, &NoProgress).await?;
        eprintln!(
            "embedded emulator on {} (time scale x{TIME_SCALE}), demo workspace imported as platform {DEMO_PLATFORM}",
            emu.url()
        );
        for (key, id) in [("daily", seeded.job_id), ("workflow", seeded.workflow_id)] {
            keys.entry(key.to_owned())
                .or_insert_with(|| JobKey::new(key, format!("{DEMO_PLATFORM}:{id}")));
        }
        let tasks = apply_demo_tasks(&engine, &seeded).await?;
        eprintln!("demo tasks: {tasks}");
        keys.entry("nightly".to_owned())
            .or_insert_with(|| JobKey::new("nightly", "task:nightly"));
        emulator = Some(emu);
    }
    let access = check_bind(&engine, &args.server).await?;
    let listener = listen(&args.server).await?;
    let stop_signal = shutdown_signal();
    let shutdown = CancellationToken::new();
    let dispatcher = engine.dispatcher(DispatcherOptions::default()).await?;
    // One tracker per workspace: the dispatcher's (same engine, same
    // events); the server's loop leaves every workspace to it.
    let tracking = TrackingRole::Dispatcher {
        id: dispatcher.id().to_owned(),
    };
    let stop = shutdown.clone();
    let dispatcher_task = tokio::spawn(async move {
        dispatcher
            .run_until(async move { stop.cancelled().await })
            .await
    });
    let url = format!("http://{}", listener.local_addr()?);
    let first_key = keys.keys().next().cloned();
    let server = tokio::spawn(serve(
        listener,
        engine.clone(),
        ServerOptions {
            keys: keys.clone(),
            tiers,
            tracking,
            ..ServerOptions::default()
        },
        shutdown.clone(),
    ));
    output::outln!("Polysync is up: {url}");
    output::outln!("access: {access}");
    output::outln!("store: {db_url}");
    output::outln!("job keys: {}", key_list(&keys));
    output::outln!("Try:");
    if let Some(k) = first_key {
        output::outln!(
            "  curl -s -X POST {url}/api/jobs/{k}/run -H 'content-type: application/json' -d '{{\"params\":{{}}}}'"
        );
        output::outln!("  curl -sN -X POST '{url}/api/jobs/{k}/run?stream=true'");
        output::outln!("  curl -s {url}/api/jobs/{k}/status");
    } else {
        output::outln!("  curl -s {url}/health");
    }
    output::outln!("Ctrl-C stops everything.");
    warn_unknown_jobs(&engine, &keys).await;
    stop_signal.await;
    eprintln!("stopping …");
    shutdown.cancel();
    server.await.context("server task")??;
    dispatcher_task.await.context("dispatcher task")??;
    engine.close().await;
    if let Some(emu) = emulator {
        emu.shutdown().await;
    }
    drop(workspace);
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Writes the demo tasks file beside the demo store and applies it (the
/// same file each start: applying it again changes nothing); says where.
async fn apply_demo_tasks(
    engine: &Engine,
    seeded: &polysync_emulator::DemoWorkspace,
) -> anyhow::Result<String> {
    let text = polysync_emulator::demo::tasks_file(DEMO_PLATFORM, seeded);
    let path = PathBuf::from(default_database(polysync_emulator::demo::DEMO_TASKS_FILE)?);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let shown = path.display().to_string();
    let summary = engine
        .apply_tasks(
            &shown,
            &text,
            polysync_engine::ApplyMode {
                prune: false,
                dry_run: false,
            },
        )
        .await?;
    let count = summary.added.len() + summary.changed.len() + summary.unchanged.len();
    Ok(format!(
        "{shown} applied ({count} tasks; nightly runs on schedule 0 6 * * 1-5 Europe/Amsterdam)"
    ))
}

fn unreachable_host() -> anyhow::Result<String> {
    Err(usage(
        "no workspace: set DATABRICKS_HOST or pass --profile",
        "unset both to run on the embedded emulator",
    ))
}

/// Registers `platform`, or points the existing one of that name at it.
async fn ensure_platform(engine: &Engine, platform: Platform) -> anyhow::Result<()> {
    match engine.add_platform(platform.clone()).await {
        Ok(_) => Ok(()),
        Err(polysync_engine::Error::AlreadyExists { .. }) => {
            engine.update_platform(platform).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn uuid_like() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        .to_string()
}
