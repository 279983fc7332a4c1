//! Store integration tests. Every test runs on SQLite (a temp file) and, when
//! `POLYSYNC_TEST_DATABASE_URL` is set, on PostgreSQL in a fresh schema that
//! is dropped afterwards.

mod harness;

mod batched;
mod concurrency;
mod dag;
mod import;
mod open;
mod platforms;
mod runs;
mod secrets;
mod tracking;
