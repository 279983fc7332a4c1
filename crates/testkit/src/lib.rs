//! Test-only helpers shared by every Polysync test suite, so each suite starts the emulator and
//! gets its per-test database the same way instead of keeping its own copy.
//!
//! - [`start_emulator`]: the workspace emulator on a random loopback port, with a token;
//!   [`start_seeded_emulator`] also seeds its workspace from a few notebooks.
//! - [`TestDb`] and [`each_backend`]: a temporary SQLite file, or a fresh PostgreSQL schema under
//!   `POLYSYNC_TEST_DATABASE_URL`, handed out as a database URL; [`TestDb::dump`] returns every
//!   stored byte for the secrets tests.
//! - [`write_files`]: a temporary directory of text files (seed notebooks, documents).
//! - [`arazzo`]: the Arazzo workflow + OpenAPI fixture of the Arazzo-job suites.
//!
//! The kit knows nothing of `polysync-store` or `polysync-engine`: those crates dev-depend on it,
//! so each test opens its `Store`/`Engine` itself from [`TestDb::url`].

pub mod arazzo;
mod db;
mod emulator;
mod files;

pub use db::{Backend, DATABASE_URL_VAR, TestDb, backends, each_backend};
pub use emulator::{FAST_CLOCK, SeededEmulator, start_emulator, start_seeded_emulator};
pub use files::write_files;
