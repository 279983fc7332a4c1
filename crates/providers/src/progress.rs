//! What import reports while it works, and what it found.

use polysync_core::{Job, JobType};

/// Receives discovery progress (the CLI's progress bar); every method has a
/// no-op default. The engine re-exports it as `ImportProgress`.
pub trait ImportProgress: Send + Sync {
    /// A new phase started, e.g. "listing notebooks under /".
    fn phase(&self, _message: &str) {}
    /// One job was discovered.
    fn discovered(&self, _job_type: JobType, _name: &str) {}
    /// The number of jobs to discover, when known.
    fn total(&self, _n: u64) {}
}

/// An [`ImportProgress`] that ignores everything (scripts, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {}

/// Something discovery could not import, and why. Reported to the user,
/// never fatal for the rest: one unreadable notebook, or a kind of object
/// the workspace refuses to list (DLT not enabled, no permission), must not
/// cost the user every other job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The kind of job it would have been.
    pub job_type: JobType,
    /// The object: a notebook path, a job or pipeline id, or the listing
    /// (`pipelines`) when a whole kind was refused.
    pub object: String,
    /// Why, in the user's words (Databricks' message included).
    pub reason: String,
    /// Whether the whole kind was skipped (its listing failed), rather
    /// than one object.
    pub whole_kind: bool,
}

/// What discovery found: the jobs, warnings a user can act on (e.g.
/// widgets declared where the importer cannot see them), and what it had
/// to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Jobs found, with their parameter schemas.
    pub jobs: Vec<Job>,
    /// Human-readable warnings naming the object and the fix.
    pub warnings: Vec<String>,
    /// Objects (or whole kinds) not imported, with the reason.
    pub skipped: Vec<Skipped>,
}

impl Discovery {
    /// Appends another provider's findings (import walks every type).
    pub(crate) fn extend(&mut self, other: Discovery) {
        self.jobs.extend(other.jobs);
        self.warnings.extend(other.warnings);
        self.skipped.extend(other.skipped);
    }

    /// Records one object that could not be read.
    pub(crate) fn skip(&mut self, job_type: JobType, object: &str, reason: impl ToString) {
        self.skipped.push(Skipped {
            job_type,
            object: object.to_owned(),
            reason: reason.to_string(),
            whole_kind: false,
        });
    }

    /// Whether discovery of `job_type` was complete: its listing worked, so
    /// a previously imported job of that type that is absent now is gone.
    pub fn complete(&self, job_type: JobType) -> bool {
        !self
            .skipped
            .iter()
            .any(|s| s.whole_kind && s.job_type == job_type)
    }
}
