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

/// What discovery found: the jobs, and warnings a user can act on (e.g.
/// widgets declared where the importer cannot see them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Jobs found, with their parameter schemas.
    pub jobs: Vec<Job>,
    /// Human-readable warnings naming the object and the fix.
    pub warnings: Vec<String>,
}

impl Discovery {
    /// Appends another provider's findings (import walks every type).
    pub(crate) fn extend(&mut self, other: Discovery) {
        self.jobs.extend(other.jobs);
        self.warnings.extend(other.warnings);
    }
}
