//! The interactive shell: a line editor with history in `$XDG_STATE_HOME/cairn/sql_history`
//! (or `~/.local/state/cairn/sql_history`), multi-line statements, and errors printed
//! without ending the session.

use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::{Flow, Shell};
use crate::error::CliError;

/// Most history entries kept.
const HISTORY_ENTRIES: usize = 2000;

pub fn run(shell: &mut Shell) -> Result<(), CliError> {
    let config = rustyline::Config::builder()
        .max_history_size(HISTORY_ENTRIES)
        .map_err(|e| CliError::Invalid(format!("line editor: {e}")))?
        .auto_add_history(false)
        .build();
    let mut editor = DefaultEditor::with_config(config)
        .map_err(|e| CliError::Invalid(format!("cannot start the line editor: {e}")))?;
    let history = history_path();
    if let Some(path) = &history
        && path.is_file()
        && let Err(e) = editor.load_history(path)
    {
        eprintln!("note: history not loaded from {}: {e}", path.display());
    }
    println!(
        "cairn {} ({}). Type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION"),
        match &shell.conn {
            super::Conn::Embedded(db) => format!("data directory {}", db.path().display()),
            super::Conn::Remote(_) => "connected to a server".into(),
        }
    );
    let mut pending = String::new();
    let mut entry = String::new();
    loop {
        let database = shell.conn.database();
        let prompt = if pending.trim().is_empty() {
            format!("{database}=> ")
        } else {
            format!("{database}-> ")
        };
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C: drop what is being typed.
                pending.clear();
                entry.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                save(&mut editor, history.as_ref());
                return Err(CliError::Invalid(format!("reading input: {e}")));
            }
        };
        if !entry.is_empty() {
            entry.push('\n');
        }
        entry.push_str(&line);
        let flow = shell.feed_line(&mut pending, &line);
        if pending.trim().is_empty() {
            if !entry.trim().is_empty() {
                let _added = editor.add_history_entry(entry.as_str());
            }
            entry.clear();
        }
        match flow {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err(e) => eprintln!("ERROR: {e}"),
        }
    }
    save(&mut editor, history.as_ref());
    Ok(())
}

fn save(editor: &mut DefaultEditor, path: Option<&PathBuf>) {
    let Some(path) = path else { return };
    if let Some(dir) = path.parent()
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("note: history not saved ({}: {e})", dir.display());
        return;
    }
    if let Err(e) = editor.save_history(path) {
        eprintln!("note: history not saved to {}: {e}", path.display());
    }
}

/// `$XDG_STATE_HOME/cairn/sql_history`, else `~/.local/state/cairn/sql_history`.
fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("cairn").join("sql_history"))
}
