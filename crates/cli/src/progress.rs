//! Progress display: the import progress bar and the live run status line.
//!
//! Both draw on stderr and only when stderr is a terminal; otherwise they are hidden
//! (import) or print one plain line per status change (runs), so logs stay free of
//! control characters.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polysync_engine::{ImportProgress, JobType, Run};

use crate::output;

fn bar(tty: bool) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if tty {
        pb.set_draw_target(ProgressDrawTarget::stderr());
        pb.enable_steady_tick(Duration::from_millis(100));
    } else {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb
}

/// Drives a progress bar from the engine's import callbacks.
pub struct ImportBar {
    pb: ProgressBar,
}

impl ImportBar {
    /// A spinner on stderr (hidden when stderr is not a terminal).
    pub fn new(platform: &str) -> Self {
        Self::with_bar(bar(output::stderr_is_tty()), platform)
    }

    fn with_bar(pb: ProgressBar, platform: &str) -> Self {
        if let Ok(style) = ProgressStyle::with_template("{spinner} importing {prefix}: {msg}") {
            pb.set_style(style);
        }
        pb.set_prefix(platform.to_owned());
        pb.set_message("connecting");
        Self { pb }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

impl ImportProgress for ImportBar {
    fn phase(&self, message: &str) {
        self.pb.set_message(output::clean(message));
    }

    fn discovered(&self, job_type: JobType, name: &str) {
        self.pb.inc(1);
        self.pb.set_message(format!(
            "{} {}",
            job_type.display_name(),
            output::clean(name)
        ));
    }

    /// Each discovery phase (notebooks, jobs, pipelines) announces its own total, so the bar
    /// restarts at 0 for it: one bar per phase, never "8/2" from a position carried over
    /// from the previous phase.
    fn total(&self, n: u64) {
        self.pb.set_position(0);
        self.pb.set_length(n);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} importing {prefix} [{bar:30}] {pos}/{len} {wide_msg}",
        ) {
            self.pb.set_style(style.progress_chars("=> "));
        }
    }
}

/// The live status line of a run being waited on.
pub struct RunLine {
    pb: ProgressBar,
    tty: bool,
    quiet: bool,
    last: Option<String>,
}

impl RunLine {
    /// A status line for `label`; `quiet` suppresses the non-TTY plain lines.
    pub fn new(label: &str, quiet: bool) -> Self {
        let tty = output::stderr_is_tty();
        let pb = bar(tty);
        // `wide_msg` is cut to the terminal's width: the line never wraps (a wrapped live
        // line leaves a trail of copies on every redraw).
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}") {
            pb.set_style(style);
        }
        pb.set_prefix(output::clean(label));
        pb.set_message(format!("{} submitting", output::clean(label)));
        Self {
            pb,
            tty,
            quiet,
            last: None,
        }
    }

    /// Shows the run's current status.
    pub fn update(&mut self, run: &Run) {
        let mut text = output::status(run.status);
        let state = [
            run.life_cycle_state.as_deref(),
            run.result_state.as_deref(),
            run.update_state.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
        if !state.is_empty() {
            text.push_str(&format!(" [{state}]"));
        }
        if self.last.as_deref() == Some(text.as_str()) {
            return;
        }
        if self.tty {
            self.pb.set_message(format!("{} {text}", self.pb.prefix()));
        } else if !self.quiet {
            let line = format!("{}: {text}", self.pb.prefix());
            match output::width() {
                Some(w) => eprintln!("{}", output::truncate(&line, usize::from(w))),
                None => eprintln!("{line}"),
            }
        }
        self.last = Some(text);
    }

    /// A handle that prints whole lines without breaking the live status line, usable while
    /// the status line itself is lent to a status callback.
    pub fn notes(&self) -> Notes {
        Notes {
            pb: self.pb.clone(),
            tty: self.tty,
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

/// Prints notes (hints) on stderr next to a [`RunLine`]: above the spinner on a terminal,
/// as plain lines otherwise.
#[derive(Clone)]
pub struct Notes {
    pb: ProgressBar,
    tty: bool,
}

impl Notes {
    /// Prints one line.
    pub fn print(&self, line: &str) {
        if self.tty {
            self.pb.println(line);
        } else {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 8 item 11: the counter read "4/2 … 8/2" because each phase's total replaced the
    /// length while the position kept adding up across phases.
    #[test]
    fn import_counter_position_never_exceeds_the_phase_total() {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let bar = ImportBar::with_bar(pb.clone(), "p");
        for (phase, total) in [("notebooks", 4u64), ("jobs", 2), ("pipelines", 3)] {
            bar.phase(phase);
            bar.total(total);
            assert_eq!((pb.position(), pb.length()), (0, Some(total)), "{phase}");
            for i in 1..=total {
                bar.discovered(JobType::DatabricksNotebook, "x");
                assert_eq!((pb.position(), pb.length()), (i, Some(total)), "{phase}");
            }
        }
    }
}
