//! The parent side of a cycle: spawning, killing and reading the child.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

// ---------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------

/// Kills and reaps the child however the test ends.
pub(crate) struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(e) = self.0.kill() {
            eprintln!("killing the crash child: {e}");
        }
        if let Err(e) = self.0.wait() {
            eprintln!("reaping the crash child: {e}");
        }
    }
}

/// Reads complete lines until end of file; an incomplete last line (the child was killed
/// while writing it) is dropped. Signals `opened` (and notes the time) when the child
/// reports the WAL open.
pub(crate) fn read_complete_lines(
    stdout: ChildStdout,
    opened: mpsc::Sender<()>,
) -> (Vec<String>, Option<Instant>) {
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    let mut opened_at = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return (lines, opened_at),
            Ok(_) if buf.last() == Some(&b'\n') => {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                if line == OPENED_LINE {
                    opened_at = Some(Instant::now());
                    // The receiver may be gone already; nothing to do then.
                    opened.send(()).ok();
                }
                lines.push(line);
            }
            Ok(_) => return (lines, opened_at),
        }
    }
}

pub(crate) fn read_all(mut stderr: ChildStderr) -> String {
    let mut buf = Vec::new();
    if let Err(e) = stderr.read_to_end(&mut buf) {
        return format!(
            "{}<error reading stderr: {e}>",
            String::from_utf8_lossy(&buf)
        );
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// When the kill comes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KillAt {
    /// This long after the child reported the WAL open (appends are running).
    AfterOpen(Duration),
    /// This long after the spawn: aimed at the child's own recovery.
    AfterSpawn(Duration),
}

pub(crate) struct ChildRun {
    pub(crate) lines: Vec<String>,
    /// How long after the spawn the child had the WAL open, if it got there.
    pub(crate) opened_after: Option<Duration>,
    pub(crate) stderr: String,
    /// Set when the child ended by itself before the kill.
    pub(crate) exited_early: Option<ExitStatus>,
}

pub(crate) fn run_child_cycle(
    dir: &Path,
    cycle: u32,
    child_seed: u64,
    kill_at: KillAt,
) -> ChildRun {
    let exe = std::env::current_exe().expect("current_exe");
    let lifetime = OPEN_TIMEOUT
        + CHILD_GRACE
        + match kill_at {
            KillAt::AfterOpen(d) | KillAt::AfterSpawn(d) => d,
        };
    let mut command = Command::new(exe);
    command
        .args(["--exact", CHILD_TEST, "--nocapture", "--include-ignored"])
        .env(ENV_CHILD_DIR, dir)
        .env(ENV_CHILD_CYCLE, cycle.to_string())
        .env(ENV_CHILD_SEED, child_seed.to_string())
        .env(ENV_CHILD_LIFETIME_MS, lifetime.as_millis().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawned = Instant::now();
    let mut guard = ChildGuard(command.spawn().expect("spawn the crash child"));
    let stdout = guard.0.stdout.take().expect("child stdout");
    let stderr = guard.0.stderr.take().expect("child stderr");
    let (opened_tx, opened_rx) = mpsc::channel();
    let out_reader = std::thread::spawn(move || read_complete_lines(stdout, opened_tx));
    let err_reader = std::thread::spawn(move || read_all(stderr));
    match kill_at {
        KillAt::AfterOpen(delay) => {
            // Disconnected means the child's stdout closed: it died (try_wait tells below).
            if opened_rx.recv_timeout(OPEN_TIMEOUT).is_ok() {
                std::thread::sleep(delay);
            }
        }
        KillAt::AfterSpawn(delay) => std::thread::sleep(delay),
    }
    let exited_early = guard.0.try_wait().expect("try_wait on the crash child");
    guard.0.kill().expect("kill -9 the crash child");
    guard.0.wait().expect("reap the crash child");
    drop(guard);
    let (lines, opened_at) = out_reader.join().expect("stdout reader");
    ChildRun {
        lines,
        opened_after: opened_at.map(|t| t.duration_since(spawned)),
        stderr: err_reader.join().expect("stderr reader"),
        exited_early,
    }
}

/// An acknowledgement line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ack {
    pub(crate) lsn: u64,
    pub(crate) thread: u32,
    pub(crate) seq: u64,
}

pub(crate) fn parse_lines(lines: &[String]) -> (Vec<Ack>, Vec<u64>) {
    let mut acks = Vec::new();
    let mut truncations = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["truncated", lsn] => {
                if let Ok(lsn) = lsn.parse() {
                    truncations.push(lsn);
                }
            }
            [lsn, thread, seq] => {
                if let (Ok(lsn), Ok(thread), Ok(seq)) = (lsn.parse(), thread.parse(), seq.parse()) {
                    acks.push(Ack { lsn, thread, seq });
                }
            }
            _ => {}
        }
    }
    (acks, truncations)
}
