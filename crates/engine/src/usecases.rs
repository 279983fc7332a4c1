//! The use cases that talk to Databricks: import, sync-params, start /
//! refresh / wait / cancel a run. Kept apart from the store-only ones in
//! `lib.rs` so the credential and persistence rules read in one place.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use polysync_core::providers::{self, Connection, ImportProgress};
use polysync_core::{Auth, Job, Platform, Run};
use polysync_databricks::{Config, DatabricksClient};

use crate::troubleshoot::{self, translate};
use crate::{Engine, Error, ImportReport, Result, SyncReport, WaitOptions};

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Engine {
    /// Builds the client config from what the platform names ONLY: its
    /// profile (file from the platform, else `DATABRICKS_CONFIG_FILE` via
    /// the injectable env, else `~/.databrickscfg`) or its token variable.
    /// Ambient `DATABRICKS_HOST`/`DATABRICKS_TOKEN` are never consulted, so
    /// a token meant for another workspace cannot leak into this one.
    fn client_config(&self, platform: &Platform) -> Result<Config> {
        let cred_err = |message: String, hint: String| Error::Credentials {
            platform: platform.name.clone(),
            message,
            hint,
        };
        let builder = Config::builder()
            .host(platform.workspace_url.clone())
            .jobs_api_version(platform.jobs_api_version);
        let builder = match &platform.auth {
            Auth::TokenEnv { var } => {
                let token = (self.inner.env)(var)
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| {
                        cred_err(
                            format!("the environment variable {var} (the platform's token variable) is not set"),
                            format!("export {var}=<personal access token for {}> and retry", platform.workspace_url),
                        )
                    })?;
                builder.token(token)
            }
            Auth::Profile { name, config_file } => {
                let file: Option<PathBuf> = config_file
                    .clone()
                    .or_else(|| (self.inner.env)("DATABRICKS_CONFIG_FILE").map(PathBuf::from));
                let profile = Config::from_profile(name, file.as_deref()).map_err(|e| {
                    cred_err(
                        format!("cannot read profile [{name}]: {e}"),
                        format!(
                            "add a [{name}] section with host and token to {} (or point DATABRICKS_CONFIG_FILE at the right file)",
                            file.as_deref().map_or_else(|| "~/.databrickscfg".to_owned(), |p| p.display().to_string())
                        ),
                    )
                })?;
                builder.credentials(profile.credentials().clone())
            }
        };
        builder.build().map_err(|e| {
            cred_err(
                format!("invalid client configuration: {e}"),
                "check the platform's workspace URL and credentials".into(),
            )
        })
    }

    /// A platform's workspace URL and the `Authorization` value its own credentials produce
    /// (its profile or token variable; OAuth tokens fetched and refreshed as usual). For
    /// interfaces that call the workspace through another HTTP client, such as the Arazzo
    /// runner. The value is a secret: callers must not log or store it.
    pub async fn platform_authorization(
        &self,
        platform: &str,
    ) -> Result<(String, secrecy::SecretString)> {
        let conn = self.connect(platform).await?;
        let value = conn
            .client
            .authorization()
            .await
            .map_err(|e| Error::Credentials {
                platform: conn.platform.name.clone(),
                message: format!("cannot obtain a token: {e}"),
                hint: "check the platform's credentials with `polysync platform show`".into(),
            })?;
        Ok((conn.client.host().to_owned(), value))
    }

    /// The connection of a stored platform, by name: the one way use cases reach a
    /// workspace, so credentials always come from what that platform names.
    async fn connect(&self, platform: &str) -> Result<Connection> {
        let platform = self.inner.store.get_platform(platform).await?;
        self.connection(&platform)
    }

    /// The cached client of a platform; rebuilt when the platform changed.
    pub(crate) fn connection(&self, platform: &Platform) -> Result<Connection> {
        if let Ok(cache) = self.inner.clients.lock()
            && let Some((p, c)) = cache.get(&platform.name)
            && p == platform
        {
            return Ok(Connection {
                platform: platform.clone(),
                client: c.clone(),
            });
        }
        let client = DatabricksClient::new(self.client_config(platform)?).map_err(|e| {
            Error::Credentials {
                platform: platform.name.clone(),
                message: format!("cannot build the Databricks client: {e}"),
                hint: "check the platform's workspace URL and credentials".into(),
            }
        })?;
        if let Ok(mut cache) = self.inner.clients.lock() {
            cache.insert(platform.name.clone(), (platform.clone(), client.clone()));
        }
        Ok(Connection {
            platform: platform.clone(),
            client,
        })
    }

    /// Discovers every job of the platform and records it idempotently:
    /// unchanged jobs stay unchanged, vanished ones are marked removed.
    pub async fn import(
        &self,
        platform: &str,
        progress: &dyn ImportProgress,
    ) -> Result<ImportReport> {
        let conn = self.connect(platform).await?;
        let discovery = providers::discover_platform(&conn, progress)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        progress.phase("saving");
        let summary = self
            .inner
            .store
            .upsert_imported_jobs(&conn.platform.name, discovery.jobs)
            .await?;
        Ok(ImportReport {
            platform: conn.platform.name,
            added: summary.added,
            updated: summary.updated,
            unchanged: summary.unchanged,
            removed: summary.removed,
            warnings: discovery.warnings,
        })
    }

    /// Re-reads one job's parameter schema from Databricks, keeping the
    /// user-set values of parameters that still exist.
    pub async fn sync_params(&self, job_ref: &str) -> Result<SyncReport> {
        let job = self.get_job(job_ref).await?;
        job.job_type.validate_external_id(&job.external_id)?;
        let conn = self.connect(&job.platform).await?;
        let fresh = providers::provider_for(job.job_type)
            .describe(&conn, &job.external_id)
            .await
            .map_err(|e| translate(e, &conn.platform, Some(&job)))?;
        let summary = self
            .inner
            .store
            .update_job_parameters(&job.name, fresh.parameters, fresh.parameter_mapping)
            .await?;
        Ok(SyncReport {
            job: job.name,
            added: summary.added,
            removed: summary.removed,
            kept_values: summary.kept_values,
        })
    }

    /// Starts a run. The External Id and every override are validated (and
    /// the request built) before any request is sent; reference-only
    /// overrides are refused with the seed's explanation.
    pub async fn start_run(&self, job_ref: &str, overrides: &[(String, String)]) -> Result<Run> {
        let mut job = self.get_job(job_ref).await?;
        if job.removed_at.is_some() {
            return Err(Error::RunState {
                run_id: job.name.clone(),
                message: format!(
                    "job {:?} was removed from Databricks (seen missing at the last import)",
                    job.name
                ),
                hint: Some(format!(
                    "re-import the platform (`polysync import {}`) to pick the current jobs",
                    job.platform
                )),
            });
        }
        job.validate()?;
        job.apply_overrides(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let platform = self.inner.store.get_platform(&job.platform).await?;
        let provider = providers::provider_for(job.job_type);
        let run_id = polysync_core::run::new_run_id();
        // The Polysync run id doubles as the idempotency token: a retried
        // submission after a lost response creates exactly one run.
        let request = provider.build_request(&platform, &job, &run_id)?;
        let conn = self.connection(&platform)?;
        let mut run = Run::new(&job, run_id, now_ms());
        run.parameters = job
            .wire_parameters()?
            .into_iter()
            .collect::<BTreeMap<_, _>>();
        self.inner.store.insert_run(&run).await?;
        match provider.submit(&conn, &job, &request).await {
            Ok(submitted) => {
                run.databricks_run_id = Some(submitted.databricks_run_id);
                run.monitor_url =
                    Some(provider.monitor_url(&platform, &run, submitted.run_page_url.as_deref()));
                run.updated_at = now_ms();
                self.inner.store.update_run_status(&run).await?;
                // First poll right away: status, and run_page_url from
                // runs/get when the submit response had none.
                match self.poll_once(&conn, &mut run).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(run = %run.id, "first poll failed: {e}"),
                }
                Ok(run)
            }
            Err(e) => {
                let err = translate(e, &platform, Some(&job));
                run.status = polysync_core::RunStatus::Failed;
                run.error_message = Some(err.to_string());
                run.updated_at = now_ms();
                run.ended_at = Some(run.updated_at);
                self.inner.store.update_run_status(&run).await?;
                Err(err)
            }
        }
    }

    /// One poll of `run` through its provider, persisted when anything
    /// changed.
    async fn poll_once(&self, conn: &Connection, run: &mut Run) -> Result<()> {
        let provider = providers::provider_for(run.job_type);
        let polled = provider
            .poll(conn, run)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        let mut changed = run.apply_observation(&polled.observation, now_ms());
        if polled.exit_value.is_some() && run.notebook_exit_value != polled.exit_value {
            run.notebook_exit_value = polled.exit_value;
            changed = true;
        }
        if let Some(raw) = polled.error {
            let msg = troubleshoot::run_error_message(run, &raw);
            if run.error_message.as_deref() != Some(msg.as_str()) {
                run.error_message = Some(msg);
                changed = true;
            }
        }
        if changed {
            self.inner.store.update_run_status(run).await?;
        }
        Ok(())
    }

    /// One status poll, persisted (terminal runs are returned as stored).
    pub async fn refresh_run(&self, run_id: &str) -> Result<Run> {
        let mut run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() || run.databricks_run_id.is_none() {
            return Ok(run);
        }
        let conn = self.connect(&run.platform).await?;
        self.poll_once(&conn, &mut run).await?;
        Ok(run)
    }

    /// Polls until the run is terminal, calling `on_update` on every
    /// change (and once at the start); every change is in the run history.
    pub async fn wait_run(
        &self,
        run_id: &str,
        opts: WaitOptions,
        on_update: &mut (dyn FnMut(&Run) + Send),
    ) -> Result<Run> {
        let started = Instant::now();
        let mut last = self.inner.store.get_run(run_id).await?;
        on_update(&last);
        loop {
            if last.status.is_terminal() || last.databricks_run_id.is_none() {
                return Ok(last);
            }
            if let Some(t) = opts.timeout
                && started.elapsed() >= t
            {
                let hint = self.run_hint(&last).await;
                return Err(Error::WaitTimeout {
                    run_id: last.id.clone(),
                    status: last.status,
                    waited_secs: started.elapsed().as_secs(),
                    hint,
                });
            }
            tokio::time::sleep(opts.poll_interval.max(Duration::from_millis(10))).await;
            let run = self.refresh_run(run_id).await?;
            if run != last {
                on_update(&run);
                if let Some(h) = self.run_hint(&run).await {
                    tracing::info!(run = %run.id, "{h}");
                }
            }
            last = run;
        }
    }

    /// Cancels a run in Databricks (runs/cancel, or the pipeline stop
    /// guarded against stopping another update) and records what follows.
    pub async fn cancel_run(&self, run_id: &str) -> Result<Run> {
        let run = self.inner.store.get_run(run_id).await?;
        if run.status.is_terminal() {
            return Err(Error::RunState {
                run_id: run.id.clone(),
                message: format!("the run already ended as {}", run.status.as_str()),
                hint: Some(format!("see it with `polysync runs show {}`", run.id)),
            });
        }
        if run.databricks_run_id.is_none() {
            return Err(Error::RunState {
                run_id: run.id.clone(),
                message: "the run was never submitted to Databricks".into(),
                hint: None,
            });
        }
        let conn = self.connect(&run.platform).await?;
        providers::provider_for(run.job_type)
            .cancel(&conn, &run)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        self.refresh_run(run_id).await
    }

    /// What to do about a run's current state, when Polysync knows: a long
    /// PENDING on a new job cluster (suggest a faster compute type) or a
    /// STOPPING pipeline (normal for continuous pipelines).
    pub async fn run_hint(&self, run: &Run) -> Option<String> {
        let platform = self.inner.store.get_platform(&run.platform).await.ok();
        troubleshoot::run_hint(
            run,
            platform.as_ref(),
            now_ms(),
            self.inner.pending_hint_after,
        )
    }

    /// The job as it would be sent: overrides applied and validated, no
    /// request made (for `run --dry-run` and tests).
    pub async fn preview_request(
        &self,
        job_ref: &str,
        overrides: &[(String, String)],
    ) -> Result<serde_json::Value> {
        let mut job: Job = self.get_job(job_ref).await?;
        job.validate()?;
        job.apply_overrides(overrides.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let platform = self.inner.store.get_platform(&job.platform).await?;
        let req =
            providers::provider_for(job.job_type).build_request(&platform, &job, "preview")?;
        Ok(serde_json::json!({
            "method": req.method.as_str(),
            "path": req.path,
            "body": req.body,
        }))
    }
}
