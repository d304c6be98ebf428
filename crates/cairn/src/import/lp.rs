//! Line-protocol files: read in chunks of whole lines, each chunk one `write_lines_to` call
//! (its rows durable on return). Bad lines are skipped and reported with their file and line
//! number counted from the start of the file. The chunking and the reporting are shared with
//! the import into a server (`lp_http`).

use std::io::{BufRead, BufReader};
use std::path::Path;

use cairn::{Db, LineErrorPolicy, Precision};

use super::progress::Progress;
use super::{ImportArgs, database, new_progress, open_input, precision, shown};
use crate::error::CliError;

/// Lines per write (and per HTTP request into a server).
const CHUNK_LINES: usize = 10_000;
/// A chunk ends early past this many bytes (long lines).
const CHUNK_BYTES: usize = 8 << 20;
/// Bad lines printed one by one; past this only counted.
const SHOWN_ERRORS: u64 = 100;

/// Bad lines so far.
#[derive(Debug, Default)]
pub(super) struct Rejected {
    lines: u64,
}

pub fn import(db: &Db, args: &ImportArgs) -> Result<(), CliError> {
    let precision = precision(args)?;
    let mut progress = new_progress(args);
    let mut rejected = Rejected::default();
    for file in &args.files {
        let result = import_file(db, args, precision, file, &mut progress, &mut rejected);
        if let Err(e) = result {
            progress.clear();
            return Err(e);
        }
    }
    progress.finish(&format!("imported into database {}", database(args)));
    rejected.outcome()
}

impl Rejected {
    /// Counts a bad line and prints it (the first [`SHOWN_ERRORS`] only).
    pub(super) fn report(&mut self, progress: &Progress, file: &Path, line: u64, message: &str) {
        self.lines += 1;
        if self.lines <= SHOWN_ERRORS {
            progress.println(format!("{}:{line}: {message}", shown(file)));
        }
    }

    /// Counts bad lines the server did not list one by one.
    pub(super) fn add_unlisted(&mut self, lines: u64) {
        self.lines += lines;
    }

    /// The import's result: an error (non-zero exit status) if any line was bad.
    pub(super) fn outcome(&self) -> Result<(), CliError> {
        if self.lines == 0 {
            return Ok(());
        }
        Err(CliError::Invalid(format!(
            "{} line(s) were rejected{}; every other line was written",
            self.lines,
            if self.lines > SHOWN_ERRORS {
                format!(" (the first {SHOWN_ERRORS} are listed above)")
            } else {
                " (listed above)".into()
            }
        )))
    }
}

/// Reads the next chunk of whole lines (at most [`CHUNK_LINES`], or fewer once it passes
/// [`CHUNK_BYTES`]) into `chunk`; returns how many lines it holds (0 at the end).
pub(super) fn read_chunk(
    reader: &mut impl BufRead,
    file: &Path,
    chunk: &mut Vec<u8>,
) -> Result<usize, CliError> {
    chunk.clear();
    let mut lines = 0;
    while lines < CHUNK_LINES && chunk.len() < CHUNK_BYTES {
        let n = reader
            .read_until(b'\n', chunk)
            .map_err(CliError::io("read the input file", file))?;
        if n == 0 {
            break;
        }
        lines += 1;
    }
    Ok(lines)
}

/// A buffered reader over a file or stdin.
pub(super) fn reader(file: &Path) -> Result<impl BufRead, CliError> {
    Ok(BufReader::with_capacity(1 << 20, open_input(file)?))
}

fn import_file(
    db: &Db,
    args: &ImportArgs,
    precision: Precision,
    file: &Path,
    progress: &mut Progress,
    rejected: &mut Rejected,
) -> Result<(), CliError> {
    let mut reader = reader(file)?;
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let database = database(args);
    // Lines of the file before the chunk.
    let mut lines_before = 0u64;
    loop {
        let lines = read_chunk(&mut reader, file, &mut chunk)?;
        if lines == 0 {
            return Ok(());
        }
        progress.advance(chunk.len() as u64);
        let text = checked_text(&chunk, progress, rejected, file, lines_before);
        let report_of = db
            .write_lines_to(database, &text, precision, LineErrorPolicy::SkipBadLines)
            .map_err(|e| {
                CliError::Invalid(format!(
                    "{}: writing lines {}..{}: {e}",
                    shown(file),
                    lines_before + 1,
                    lines_before + lines as u64
                ))
            })?;
        for e in &report_of.errors {
            let message = format!("column {}: {}", e.column, e.message);
            rejected.report(progress, file, lines_before + e.line as u64, &message);
        }
        progress.add_rows(report_of.rows_written);
        lines_before += lines as u64;
    }
}

/// The chunk as text, each line that is not UTF-8 reported (by its line number in the file)
/// and blanked.
pub(super) fn checked_text<'a>(
    chunk: &'a [u8],
    progress: &Progress,
    rejected: &mut Rejected,
    file: &Path,
    lines_before: u64,
) -> std::borrow::Cow<'a, str> {
    let (text, bad_utf8) = to_text(chunk);
    for line in bad_utf8 {
        rejected.report(
            progress,
            file,
            lines_before + line,
            "the line is not valid UTF-8",
        );
    }
    text
}

/// The chunk as text; a line that is not UTF-8 becomes an empty line (so line numbers stay
/// right) and is returned by its 1-based number in the chunk.
fn to_text(chunk: &[u8]) -> (std::borrow::Cow<'_, str>, Vec<u64>) {
    if let Ok(text) = std::str::from_utf8(chunk) {
        return (text.into(), Vec::new());
    }
    let mut text = String::with_capacity(chunk.len());
    let mut bad = Vec::new();
    for (i, line) in chunk.split_inclusive(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(_) => {
                bad.push(i as u64 + 1);
                text.push('\n');
            }
        }
    }
    (text.into(), bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_lines_are_blanked_keeping_numbers() {
        let (text, bad) = to_text(b"a x=1\nb\xff x=2\nc x=3");
        assert_eq!(text, "a x=1\n\nc x=3");
        assert_eq!(bad, [2]);
    }
}
