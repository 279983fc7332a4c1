//! `polysync-providers`: one provider per job type (notebook, job, workflow,
//! pipeline) — discover (import), describe (sync-params), build the request
//! (pure), submit, poll, cancel, monitor URL.
//!
//! Kept out of `polysync-core` so the domain stays pure and the store (which
//! depends on core) never compiles the HTTP client. Providers call the
//! Databricks client's typed APIs and feed the responses through the pure
//! rules of `polysync-core`; raw JSON is used only where the exact wire body
//! matters (the run submissions, asserted in tests) or the client has no
//! model (pipeline events). They never touch the store: the engine decides
//! what is persisted and when.
//!
//! The arrows point one way: engine → providers → core, databricks.

mod connection;
mod error;
pub mod job;
mod job_run;
pub mod notebook;
pub mod pipeline;
mod progress;
mod provider;
mod request;
pub mod tracking;

pub use connection::Connection;
pub use error::{Operation, ProviderError, Result};
pub use job_run::TaskRun;
pub use progress::{Discovery, ImportProgress, NoProgress, Skipped};
pub use provider::{Polled, Provider, Submitted, discover_platform, observe_runs, provider_for};
pub use request::{ApiRequest, jobs_path};
