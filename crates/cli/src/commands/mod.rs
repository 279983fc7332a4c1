//! One module per top-level subcommand.

pub mod arazzo;
pub mod emulator;

/// Print an error as one clear line plus, when the cause chain has more to say, one hint line.
/// Never a backtrace: users act on the message, developers use `RUST_LOG`.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    if let Some(cause) = err.chain().nth(1) {
        eprintln!("  caused by: {cause}");
    }
}
