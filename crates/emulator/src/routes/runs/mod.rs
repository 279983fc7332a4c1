//! Job runs: run-now, runs/submit, get, list, cancel, cancel-all, delete, get-output.
//!
//! One job per file: `handlers` (the HTTP endpoints), `create` / `cancel` (the state changes
//! they make), `resolve` (what each task will do), `queue` (`max_concurrent_runs` and the
//! queue behind it) and `render` (a run as JSON).

mod cancel;
mod create;
mod handlers;
mod queue;
mod render;
mod resolve;

pub use handlers::{cancel, cancel_all, delete, get, get_output, list, run_now, submit};
