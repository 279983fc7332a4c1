//! polysync-emulator: placeholder, filled in by its issue.
