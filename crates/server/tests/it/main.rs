//! The server end to end: real HTTP on random ports, the emulator behind
//! the engine, SQLite and (when configured) PostgreSQL.

mod add_platform;
mod dashboard;
mod harness;
mod jobs_api;
mod manage_api;
mod one_tracker;
mod openapi;
mod operations;
mod start_path;
mod task_keys;
mod tiers;
