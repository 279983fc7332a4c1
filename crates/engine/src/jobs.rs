//! Job use cases: look up, hand-made add / edit, import a platform's jobs,
//! re-read one job's parameter schema.

use polysync_core::Job;
use polysync_providers::{self as providers, ImportProgress};
use polysync_store::Update;

use crate::troubleshoot::translate;
use crate::{Engine, Error, ImportReport, JobFilter, Result, SyncReport};

impl Engine {
    /// Jobs matching `filter`.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        Ok(self.inner.store.list_jobs(filter).await?)
    }

    /// A job by Polysync name, else `PLATFORM:EXTERNAL_ID`, if one matches.
    pub async fn find_job(&self, job_ref: &str) -> Result<Option<Job>> {
        if let Some(job) = self.inner.store.find_job(job_ref).await? {
            return Ok(Some(job));
        }
        match polysync_core::job::split_platform_ref(job_ref) {
            Some((platform, external_id)) => Ok(self
                .inner
                .store
                .find_job_by_external(platform, external_id)
                .await?),
            None => Ok(None),
        }
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
}
