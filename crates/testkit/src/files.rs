//! Temporary directories of text files.

use tempfile::TempDir;

/// Writes each `(relative path, text)` into a new temporary directory, creating the parent
/// folders, and returns it: seed workspaces for the emulator and documents for the Arazzo
/// runner are both trees of small text files. The directory is deleted when dropped.
///
/// # Panics
/// When the temporary directory or a file cannot be written.
pub fn write_files(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, text).expect("write file");
    }
    dir
}
