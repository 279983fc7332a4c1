//! Job use cases: look up, hand-made add / edit, import a platform's jobs,
//! re-read one job's parameter schema.

use polysync_core::{Job, JobType};
use polysync_providers::{self as providers, ImportProgress};
use polysync_store::{ImportScope, Update};

use crate::troubleshoot::translate;
use crate::{Engine, Error, ImportReport, JobFilter, Result, Skipped, SyncReport};

impl Engine {
    /// Jobs matching `filter`.
    /// An unknown platform in the filter is [`Error::NotFound`], not an
    /// empty list that would read as "nothing imported yet".
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        if let Some(platform) = &filter.platform {
            self.get_platform(platform).await?;
        }
        Ok(self.inner.store.list_jobs(filter).await?)
    }

    /// A job by Polysync name, `PLATFORM:EXTERNAL_ID` or `PLATFORM:NAME`, if
    /// one matches.
    ///
    /// A bare reference (no platform) that could mean jobs on several
    /// platforms (the same notebook path or job name imported from two
    /// workspaces) is refused as [`Error::Ambiguous`] listing them, never
    /// resolved by import order.
    pub async fn find_job(&self, job_ref: &str) -> Result<Option<Job>> {
        if let Some((platform, external_id)) = polysync_core::job::split_platform_ref(job_ref)
            && self.inner.store.find_platform(platform).await?.is_some()
        {
            if let Some(job) = self
                .inner
                .store
                .find_job_by_external(platform, external_id)
                .await?
            {
                return Ok(Some(job));
            }
            // PLATFORM:NAME, for jobs whose name is not their External Id.
            if let Some(job) = self.inner.store.find_job(external_id).await?
                && job.platform == platform
            {
                return Ok(Some(job));
            }
            return Ok(self.inner.store.find_job(job_ref).await?);
        }
        let mut matching = self.inner.store.find_jobs_matching(job_ref).await?;
        let platforms: std::collections::BTreeSet<&str> =
            matching.iter().map(|j| j.platform.as_str()).collect();
        if platforms.len() > 1 {
            return Err(Error::Ambiguous {
                entity: "job",
                key: job_ref.to_owned(),
                candidates: matching
                    .iter()
                    .map(|j| format!("{}:{} ({})", j.platform, j.external_id, j.name))
                    .collect(),
            });
        }
        if let Some(exact) = self.inner.store.find_job(job_ref).await? {
            return Ok(Some(exact));
        }
        Ok(if matching.len() == 1 {
            matching.pop()
        } else {
            None
        })
    }

    /// A job by Polysync name, else `PLATFORM:EXTERNAL_ID`;
    /// [`Error::NotFound`] when nothing matches.
    pub async fn get_job(&self, job_ref: &str) -> Result<Job> {
        self.find_job(job_ref)
            .await?
            .ok_or_else(|| Error::NotFound {
                entity: "job",
                key: job_ref.to_owned(),
            })
    }

    /// Creates a hand-made job (validated); [`Error::AlreadyExists`] if the
    /// name is taken, also by a concurrent add.
    pub async fn add_job(&self, job: Job) -> Result<Job> {
        job.validate()?;
        Ok(self.inner.store.add_job(&job).await?)
    }

    /// Replaces an existing job's definition (validated). `job.version` must
    /// be the one read: a concurrent edit or re-import makes it a conflict
    /// instead of being overwritten.
    pub async fn edit_job(&self, job: Job) -> Result<Job> {
        job.validate()?;
        match self.inner.store.update_job(&job).await? {
            Update::Applied(j) => Ok(j),
            Update::Stale { .. } => Err(Error::Conflict(format!(
                "job {:?} was changed (edited or re-imported) since it was read; read it again and retry",
                job.name
            ))),
        }
    }

    /// Deletes a job (Polysync name or `PLATFORM:EXTERNAL_ID`) and its
    /// parameters, so a platform can be emptied job by job; its runs stay,
    /// with their copy of the job's name. A re-import adds an imported job
    /// back if Databricks still has it. Returns the job as it was.
    pub async fn remove_job(&self, job_ref: &str) -> Result<Job> {
        let job = self.get_job(job_ref).await?;
        let mut tx = self.inner.store.begin().await?;
        tx.delete_job(&job.name).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Discovers every job of the platform and records it idempotently:
    /// unchanged jobs stay unchanged, vanished ones are marked removed.
    pub async fn import(
        &self,
        platform: &str,
        progress: &dyn ImportProgress,
    ) -> Result<ImportReport> {
        let conn = self.connect(platform).await?;
        let mut discovery = providers::discover_platform(&conn, progress)
            .await
            .map_err(|e| translate(e, &conn.platform, None))?;
        // One invalid object (say a widget name with a control character)
        // is skipped with its reason; it never costs the user the others.
        let mut jobs = Vec::with_capacity(discovery.jobs.len());
        for mut job in std::mem::take(&mut discovery.jobs) {
            job.platform.clone_from(&conn.platform.name);
            match job.validate() {
                Ok(()) => jobs.push(job),
                Err(e) => discovery.skipped.push(Skipped {
                    job_type: job.job_type,
                    object: job.external_id.clone(),
                    reason: e.to_string(),
                    whole_kind: false,
                }),
            }
        }
        let scope = ImportScope {
            incomplete_types: JobType::ALL
                .into_iter()
                .filter(|t| !discovery.complete(*t))
                .collect(),
            unreadable: discovery
                .skipped
                .iter()
                .filter(|s| !s.whole_kind)
                .map(|s| (s.job_type, s.object.clone()))
                .collect(),
        };
        progress.phase("saving");
        let summary = self
            .inner
            .store
            .upsert_imported_jobs_scoped(&conn.platform.name, jobs, &scope)
            .await?;
        Ok(ImportReport {
            platform: conn.platform.name,
            added: summary.added,
            updated: summary.updated,
            unchanged: summary.unchanged,
            removed: summary.removed,
            warnings: discovery.warnings,
            skipped: discovery.skipped,
        })
    }

    /// Re-reads one job's parameter schema from Databricks (an Arazzo job:
    /// from its file, re-imported), keeping the user-set values of
    /// parameters that still exist.
    pub async fn sync_params(&self, job_ref: &str) -> Result<SyncReport> {
        let job = self.get_job(job_ref).await?;
        job.job_type.validate_external_id(&job.external_id)?;
        if job.job_type.runs_in_process() {
            return self.sync_arazzo_params(&job).await;
        }
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
}
