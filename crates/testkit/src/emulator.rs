//! The one way tests start the workspace emulator.

use std::net::SocketAddr;

use polysync_emulator::{EmulatorConfig, EmulatorHandle};
use tempfile::TempDir;

/// A clock where one real millisecond is one simulated second: suites that wait for runs,
/// clusters or pipelines use it so waiting costs milliseconds.
pub const FAST_CLOCK: f64 = 1000.0;

/// Starts the emulator on `127.0.0.1` with a port the OS picks, accepting `token` as a personal
/// access token. `tweak` adjusts the rest of the configuration (clock, seed workspace, faults,
/// other credentials); whatever it sets, the emulator binds to a free loopback port, so tests
/// can run in parallel and never reach beyond the machine. Read the URL back with
/// [`EmulatorHandle::url`] and stop it with [`EmulatorHandle::shutdown`].
///
/// # Panics
/// When the emulator cannot start (a test cannot go on without it).
pub async fn start_emulator(
    token: &str,
    tweak: impl FnOnce(&mut EmulatorConfig),
) -> EmulatorHandle {
    let mut config = EmulatorConfig {
        tokens: vec![token.to_owned()],
        ..EmulatorConfig::default()
    };
    tweak(&mut config);
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    polysync_emulator::start(config)
        .await
        .expect("the emulator starts on a loopback port")
}

/// An emulator serving a workspace seeded from a temporary directory of notebooks. It owns the
/// directory, so the seed lives exactly as long as the emulator that reads it; tests keep one
/// value instead of a handle and a directory they must not drop.
pub struct SeededEmulator {
    /// The running emulator.
    pub emulator: EmulatorHandle,
    /// The seed directory (each `(path, text)` passed to [`start_seeded_emulator`]).
    pub dir: TempDir,
}

/// [`start_emulator`] with its workspace seeded from `files` (`(relative path, text)`, as
/// [`crate::write_files`] takes them); `tweak` sets the rest (clock, faults).
///
/// # Panics
/// When the seed cannot be written or the emulator cannot start.
pub async fn start_seeded_emulator(
    token: &str,
    files: &[(&str, &str)],
    tweak: impl FnOnce(&mut EmulatorConfig),
) -> SeededEmulator {
    let dir = crate::write_files(files);
    let seed = dir.path().to_path_buf();
    let emulator = start_emulator(token, |c| {
        c.workspace_dir = Some(seed);
        tweak(c);
    })
    .await;
    SeededEmulator { emulator, dir }
}
