//! Engine end-to-end tests against the workspace emulator (random port).
//! Every test runs on SQLite and, when `POLYSYNC_TEST_DATABASE_URL` is set,
//! again on PostgreSQL in a fresh schema dropped afterwards.

mod harness;

mod arazzo_jobs;
mod credentials;
mod dispatcher;
mod import;
mod partial_import;
mod references;
mod removal;
mod resilience;
mod run_steps;
mod runs;
mod runs_hardening;
mod status_rows;
mod tasks;
mod tracking;
mod troubleshooting;
