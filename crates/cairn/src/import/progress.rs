//! The progress bar of `cairn import` (stderr, only on a terminal) and the summary line.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    rows: u64,
}

impl Progress {
    /// A bar over `total_bytes` (a spinner when unknown, as for stdin); hidden when stderr
    /// is not a terminal.
    pub fn new(total_bytes: Option<u64>) -> Progress {
        let bar = if !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else if let Some(total) = total_bytes {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ETA {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        } else {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {bytes} {msg}") {
                bar.set_style(style);
            }
            bar
        };
        Progress {
            bar,
            started: Instant::now(),
            rows: 0,
        }
    }

    /// `bytes` more were read.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// `rows` more were written.
    pub fn add_rows(&mut self, rows: u64) {
        self.set_rows(self.rows + rows);
    }

    /// Replaces the row count (a server's exact count after an estimate).
    pub fn set_rows(&mut self, rows: u64) {
        self.rows = rows;
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!(
            "{} rows, {:.0} rows/s",
            self.rows,
            self.rows as f64 / secs
        ));
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Removes the bar and prints the summary line (stdout).
    pub fn finish(&self, what: &str) {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64();
        println!(
            "{what}: {} rows in {secs:.2} s ({:.0} rows/s)",
            self.rows,
            self.rows as f64 / secs.max(1e-9)
        );
    }

    /// Prints a line on stderr above the bar.
    pub fn println(&self, line: String) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar (before an error is printed).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
