//! `kill -9` crash loop: every acknowledged record survives.
//!
//! The test binary re-executes itself as the child ([`crash_child_entry`], an ignored test
//! that does nothing unless `CAIRN_CRASH_CHILD_DIR` is set). The child opens the WAL with
//! small segments (so rollovers are frequent) and runs [`THREADS`] threads that loop
//! `append_durable`, printing `lsn thread seq` on stdout after each acknowledgement; one
//! thread now and then prints `truncated <lsn>` and then calls `truncate_before(lsn)`.
//!
//! The parent kills the child with SIGKILL: usually a random delay after the child reported
//! the WAL open (so appends, rollovers and truncations are under way), and in one cycle of
//! [`KILL_IN_RECOVERY_ONE_IN`] at a random moment aimed at the child's own recovery (torn-tail
//! cut, replacement of an empty last segment, creation of the new segment). Then it opens the
//! WAL itself (default options: strict recovery), replays everything that is left and checks
//! that
//! - every acknowledged record, and every record an earlier recovery returned, is present at
//!   exactly its LSN with exactly its payload, unless it lies below the highest truncation
//!   point the child announced;
//! - LSNs are dense and strictly increasing, and never go backwards across restarts;
//! - no record appears twice and every payload decodes to a valid (cycle, thread, seq) with
//!   the matching deterministic filler (records that were in flight may survive, intact);
//! - each thread's records appear in sequence order without holes.
//!
//! The WAL directory persists across cycles, so the log is recovered again and again.
//!
//! Environment: `CAIRN_CRASH_CYCLES` (default 20), `CAIRN_CRASH_SEED` (default: from the
//! clock; printed; it fixes the kill delays and truncation points, not the thread timing),
//! `CAIRN_CRASH_SLEEP_MS=MIN-MAX` (how long the child appends before the kill, default
//! 20-300).
//!
//! A failure keeps the WAL directory and prints its path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use cairn_wal::{IoPath, Lsn, Record, Wal, WalOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Name of the child entry point (must match the function name for `--exact`).
const CHILD_TEST: &str = "crash_child_entry";
const ENV_CHILD_DIR: &str = "CAIRN_CRASH_CHILD_DIR";
const ENV_CHILD_CYCLE: &str = "CAIRN_CRASH_CHILD_CYCLE";
const ENV_CHILD_SEED: &str = "CAIRN_CRASH_CHILD_SEED";
const ENV_CHILD_LIFETIME_MS: &str = "CAIRN_CRASH_CHILD_LIFETIME_MS";

const THREADS: u32 = 4;
const RECORD_TYPE: u16 = 1;
const SEGMENT_TARGET_BYTES: u64 = 256 << 10;
/// Payload: magic, cycle (u32), thread (u32), seq (u64), then the filler.
const MAGIC: [u8; 4] = *b"K9WL";
const ID_BYTES: usize = 20;
/// Filler lengths are in `0..MAX_FILLER`.
const MAX_FILLER: u64 = 2000;
/// The child truncates after about this many acknowledgements (and once early on).
const TRUNCATE_EVERY: u64 = 500;
/// A child that is somehow never killed ends itself this long after its kill was due.
const CHILD_GRACE: Duration = Duration::from_secs(60);
/// What the child prints once the WAL is open.
const OPENED_LINE: &str = "opened";
/// How long the parent waits for a child to open the WAL.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// One cycle in this many aims the kill at the child's recovery instead of its appends.
const KILL_IN_RECOVERY_ONE_IN: u32 = 8;
/// How many problem descriptions a failure prints.
const MAX_REPORTED_PROBLEMS: usize = 30;

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

/// What a record's payload identifies: the child (cycle), its thread and the thread's
/// sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Id {
    cycle: u32,
    thread: u32,
    seq: u64,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(cycle {}, thread {}, seq {})",
            self.cycle, self.thread, self.seq
        )
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn id_hash(id: Id) -> u64 {
    splitmix(splitmix((u64::from(id.cycle) << 32) | u64::from(id.thread)) ^ id.seq)
}

fn encode_payload(id: Id) -> Vec<u8> {
    let h = id_hash(id);
    let filler = (h % MAX_FILLER) as usize;
    let mut p = Vec::with_capacity(ID_BYTES + filler);
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(&id.cycle.to_le_bytes());
    p.extend_from_slice(&id.thread.to_le_bytes());
    p.extend_from_slice(&id.seq.to_le_bytes());
    p.extend_from_slice(&common::payload(h, filler));
    p
}

/// The id a payload claims, if its whole content is exactly what the child writes for it.
fn decode_payload(p: &[u8]) -> Result<Id, String> {
    if p.len() < ID_BYTES {
        return Err(format!("payload of {} bytes is too short", p.len()));
    }
    if p[0..4] != MAGIC {
        return Err(format!("bad payload magic {:02x?}", &p[0..4]));
    }
    let id = Id {
        cycle: u32::from_le_bytes(p[4..8].try_into().unwrap()),
        thread: u32::from_le_bytes(p[8..12].try_into().unwrap()),
        seq: u64::from_le_bytes(p[12..20].try_into().unwrap()),
    };
    if id.thread >= THREADS {
        return Err(format!("payload names thread {}", id.thread));
    }
    let expected = encode_payload(id);
    if p != expected.as_slice() {
        return Err(format!(
            "payload claims {id} but its {} bytes differ from the expected {} bytes",
            p.len(),
            expected.len()
        ));
    }
    Ok(id)
}

// ---------------------------------------------------------------------------------------
// The child
// ---------------------------------------------------------------------------------------

/// The child process's entry point: does nothing unless started by the crash loop.
#[test]
#[ignore = "child process of crash_loop_every_acknowledged_record_survives_kill_9"]
fn crash_child_entry() {
    let Some(dir) = std::env::var_os(ENV_CHILD_DIR) else {
        return;
    };
    run_child(Path::new(&dir));
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("cannot parse {name}={value:?}"),
    }
}

/// Ends the child on an unexpected failure; the parent sees an early exit and its stderr.
fn child_fail(what: &str) -> ! {
    eprintln!("crash child: {what}");
    std::process::exit(3);
}

/// Writes `text` to stdout and flushes it; the parent gone means we are done.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(2);
    }
}

fn run_child(dir: &Path) -> ! {
    let cycle: u32 = env_parse(ENV_CHILD_CYCLE).unwrap_or_else(|| child_fail("no cycle"));
    let seed: u64 = env_parse(ENV_CHILD_SEED).unwrap_or_else(|| child_fail("no seed"));
    let lifetime_ms: u64 =
        env_parse(ENV_CHILD_LIFETIME_MS).unwrap_or_else(|| child_fail("no lifetime"));
    // The parent holds our stdin open: end-of-file means it died, so never outlive it.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => std::process::exit(2),
                Ok(_) => {}
            }
        }
    });
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(lifetime_ms));
        child_fail("never killed");
    });
    // Start on a fresh line: the test harness may have printed "test crash_child_entry ... ".
    emit("\n");
    let options = WalOptions {
        segment_target_bytes: SEGMENT_TARGET_BYTES,
        ..WalOptions::default()
    };
    let wal =
        Arc::new(Wal::open(dir, options).unwrap_or_else(|e| child_fail(&format!("open WAL: {e}"))));
    emit(&format!("{OPENED_LINE}\n"));
    let acked = Arc::new(AtomicU64::new(0));
    let appenders: Vec<_> = (0..THREADS)
        .map(|thread| {
            let wal = wal.clone();
            let acked = acked.clone();
            std::thread::spawn(move || append_loop(&wal, cycle, thread, seed, &acked))
        })
        .collect();
    for appender in appenders {
        if appender.join().is_err() {
            child_fail("an appender thread panicked");
        }
    }
    child_fail("the appender threads ended")
}

fn append_loop(wal: &Wal, cycle: u32, thread: u32, seed: u64, acked: &AtomicU64) {
    let mut truncated_at_count = 0u64;
    let mut truncated_to = 0u64;
    for seq in 0u64.. {
        let id = Id { cycle, thread, seq };
        let payload = encode_payload(id);
        let record = Record {
            record_type: RECORD_TYPE,
            flags: 0,
            tenant_id: u64::from(thread),
            database_id: 0,
            payload: &payload,
        };
        let lsn = wal
            .append_durable(record)
            .unwrap_or_else(|e| child_fail(&format!("append_durable {id}: {e}")));
        emit(&format!("{} {thread} {seq}\n", lsn.0));
        let count = acked.fetch_add(1, Ordering::Relaxed) + 1;
        if thread == 0 && (seq == 2 || count >= truncated_at_count + TRUNCATE_EVERY) {
            truncated_at_count = count;
            // Keep a varying number of records (500..3000) below the durable LSN.
            let keep = 500 + splitmix(seed ^ seq) % 2500;
            let target = wal.durable_lsn().0.saturating_sub(keep);
            if target > truncated_to {
                // Announce first: whatever is below it may be gone after a crash from here on.
                emit(&format!("truncated {target}\n"));
                wal.truncate_before(Lsn(target))
                    .unwrap_or_else(|e| child_fail(&format!("truncate_before {target}: {e}")));
                truncated_to = target;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The parent
// ---------------------------------------------------------------------------------------

/// Kills and reaps the child however the test ends.
struct ChildGuard(Child);

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
fn read_complete_lines(
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

fn read_all(mut stderr: ChildStderr) -> String {
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
enum KillAt {
    /// This long after the child reported the WAL open (appends are running).
    AfterOpen(Duration),
    /// This long after the spawn: aimed at the child's own recovery.
    AfterSpawn(Duration),
}

struct ChildRun {
    lines: Vec<String>,
    /// How long after the spawn the child had the WAL open, if it got there.
    opened_after: Option<Duration>,
    stderr: String,
    /// Set when the child ended by itself before the kill.
    exited_early: Option<ExitStatus>,
}

fn run_child_cycle(dir: &Path, cycle: u32, child_seed: u64, kill_at: KillAt) -> ChildRun {
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
struct Ack {
    lsn: u64,
    thread: u32,
    seq: u64,
}

fn parse_lines(lines: &[String]) -> (Vec<Ack>, Vec<u64>) {
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

#[derive(Debug, Default)]
struct Totals {
    cycles: u64,
    acknowledged: u64,
    lost: u64,
    corrupt: u64,
    duplicated: u64,
    inflight_survivors: u64,
    /// Ordering problems: LSNs not dense or going backwards, holes in a thread's sequence.
    disorder: u64,
    torn_tails: u64,
    truncations: u64,
    cycles_without_acks: u64,
    /// Cycles whose kill came before the child had the WAL open.
    killed_in_recovery: u64,
}

/// What the parent knows about the log between cycles.
#[derive(Debug, Default)]
struct Checker {
    /// Records that must be in the log (acknowledged, or returned by an earlier recovery
    /// and therefore durable since), by LSN, from the first retained LSN on.
    known: BTreeMap<u64, Id>,
    /// The highest truncation point any child announced.
    bound: u64,
    /// The highest LSN ever acknowledged or recovered.
    max_lsn: u64,
    /// `next_lsn` of the previous recovery.
    next_lsn: u64,
    /// The I/O path the first recovery chose (the child's is the same).
    io_path: Option<IoPath>,
    totals: Totals,
}

impl Checker {
    /// Checks one child's output and the log it left behind; returns the problems found.
    fn check_cycle(
        &mut self,
        dir: &Path,
        cycle: u32,
        acks: &[Ack],
        truncations: &[u64],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let t = &mut self.totals;
        t.cycles += 1;
        t.acknowledged += acks.len() as u64;
        t.truncations += truncations.len() as u64;
        if acks.is_empty() {
            t.cycles_without_acks += 1;
        }

        // The child's own view: fresh LSNs, per-thread sequences 0, 1, 2, … in LSN order.
        let max_before = self.max_lsn;
        let mut next_seq = [0u64; THREADS as usize];
        let mut last_lsn_of = [0u64; THREADS as usize];
        for ack in acks {
            let id = Id {
                cycle,
                thread: ack.thread,
                seq: ack.seq,
            };
            if ack.thread >= THREADS {
                problems.push(format!(
                    "child acknowledged LSN {} for thread {}",
                    ack.lsn, ack.thread
                ));
                continue;
            }
            let th = ack.thread as usize;
            if ack.lsn <= max_before {
                t.disorder += 1;
                problems.push(format!(
                    "LSN went backwards: {id} acknowledged at LSN {} but LSN {max_before} was already used",
                    ack.lsn
                ));
            }
            if ack.seq != next_seq[th] || ack.lsn <= last_lsn_of[th] {
                t.disorder += 1;
                problems.push(format!(
                    "child acknowledged {id} at LSN {} out of order (expected seq {}, after LSN {})",
                    ack.lsn, next_seq[th], last_lsn_of[th]
                ));
            }
            next_seq[th] = ack.seq + 1;
            last_lsn_of[th] = ack.lsn;
            if let Some(other) = self.known.insert(ack.lsn, id)
                && other != id
            {
                t.duplicated += 1;
                problems.push(format!(
                    "LSN {} acknowledged for {id} was already taken by {other}",
                    ack.lsn
                ));
            }
            self.max_lsn = self.max_lsn.max(ack.lsn);
        }
        if let Some(&max) = truncations.iter().max() {
            self.bound = self.bound.max(max);
        }

        // Recover in this process, strictly.
        let wal = match Wal::open(dir, WalOptions::default()) {
            Ok(wal) => wal,
            Err(e) => {
                t.corrupt += 1;
                problems.push(format!("recovery (strict open) failed: {e}"));
                return problems;
            }
        };
        if wal.recovery_report().torn_tail.is_some() {
            t.torn_tails += 1;
        }
        self.io_path.get_or_insert(wal.io_path());
        let segments = wal.segments().expect("list segments");
        let first_retained = segments.first().map_or(1, |s| s.first_lsn.0);
        let next_lsn = wal.next_lsn().0;
        if next_lsn < self.next_lsn {
            t.disorder += 1;
            problems.push(format!(
                "next LSN went backwards: {next_lsn} after {}",
                self.next_lsn
            ));
        }
        if first_retained > self.bound.max(1) {
            problems.push(format!(
                "the first retained LSN is {first_retained}, but no truncation point above {} was announced",
                self.bound
            ));
        }
        // Everything known from here on must be present.
        let must_have_from = first_retained.min(self.bound.max(1));

        let mut recovered: BTreeMap<u64, Id> = BTreeMap::new();
        let mut seen: HashSet<Id> = HashSet::new();
        let mut last_seq: HashMap<(u32, u32), u64> = HashMap::new();
        let mut expected_lsn = first_retained;
        let replay = match wal.replay(Lsn(1)) {
            Ok(r) => r,
            Err(e) => {
                t.corrupt += 1;
                problems.push(format!("replay failed to start: {e}"));
                return problems;
            }
        };
        for item in replay {
            let record = match item {
                Ok(r) => r,
                Err(e) => {
                    t.corrupt += 1;
                    problems.push(format!("replay failed after LSN {}: {e}", expected_lsn - 1));
                    break;
                }
            };
            let lsn = record.lsn.0;
            if lsn != expected_lsn {
                t.disorder += 1;
                problems.push(format!(
                    "replay returned LSN {lsn} where {expected_lsn} was expected"
                ));
            }
            expected_lsn = lsn + 1;
            let id = match decode_payload(&record.payload) {
                Ok(id) => id,
                Err(e) => {
                    t.corrupt += 1;
                    problems.push(format!("corrupt record at LSN {lsn}: {e}"));
                    continue;
                }
            };
            if record.record_type != RECORD_TYPE
                || record.flags != 0
                || record.tenant_id != u64::from(id.thread)
                || record.database_id != 0
            {
                t.corrupt += 1;
                problems.push(format!(
                    "corrupt header at LSN {lsn} for {id}: type {}, flags {}, tenant {}, database {}",
                    record.record_type, record.flags, record.tenant_id, record.database_id
                ));
            }
            if !seen.insert(id) {
                t.duplicated += 1;
                problems.push(format!("{id} appears twice (again at LSN {lsn})"));
            }
            let chain = (id.cycle, id.thread);
            if let Some(&prev) = last_seq.get(&chain)
                && id.seq != prev + 1
            {
                t.disorder += 1;
                problems.push(format!(
                    "hole or reordering in a thread's sequence: {id} at LSN {lsn} follows seq {prev}"
                ));
            }
            last_seq.insert(chain, id.seq);
            match self.known.get(&lsn) {
                Some(&want) if want == id => {}
                Some(&want) => {
                    t.lost += 1;
                    problems.push(format!("LSN {lsn} holds {id} instead of {want}"));
                }
                None if id.cycle == cycle => t.inflight_survivors += 1,
                None => {
                    t.corrupt += 1;
                    problems.push(format!(
                        "LSN {lsn} holds {id}, which an earlier recovery did not have"
                    ));
                }
            }
            recovered.insert(lsn, id);
        }
        if recovered.is_empty() {
            if first_retained != next_lsn {
                t.disorder += 1;
                problems.push(format!(
                    "no records, but the first retained LSN is {first_retained} and the next LSN {next_lsn}"
                ));
            }
        } else if expected_lsn != next_lsn {
            t.disorder += 1;
            problems.push(format!(
                "replay ended before LSN {expected_lsn} but the next LSN is {next_lsn}"
            ));
        }
        for (&lsn, &id) in self.known.range(must_have_from..) {
            if !recovered.contains_key(&lsn) {
                t.lost += 1;
                problems.push(format!("lost: {id} at LSN {lsn}"));
            }
        }
        if let Err(e) = wal.close() {
            problems.push(format!("closing the recovered WAL: {e}"));
        }

        // Everything recovered is durable now: later recoveries must return it too.
        self.known = recovered;
        self.max_lsn = self.max_lsn.max(next_lsn - 1);
        self.next_lsn = next_lsn;
        problems
    }
}

fn sleep_range() -> (u64, u64) {
    let Ok(value) = std::env::var("CAIRN_CRASH_SLEEP_MS") else {
        return (20, 300);
    };
    let parsed = value
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((min, max)) if min <= max => (min, max),
        _ => panic!("CAIRN_CRASH_SLEEP_MS={value:?} is not MIN-MAX (milliseconds)"),
    }
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[test]
fn crash_loop_every_acknowledged_record_survives_kill_9() {
    if std::env::var_os(ENV_CHILD_DIR).is_some() {
        return;
    }
    let cycles: u32 = env_parse("CAIRN_CRASH_CYCLES").unwrap_or(20);
    let seed: u64 = env_parse("CAIRN_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let (sleep_min, sleep_max) = sleep_range();
    println!(
        "crash loop: seed={seed} cycles={cycles} child runs {sleep_min}-{sleep_max} ms (rerun with CAIRN_CRASH_SEED={seed})"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = common::tempdir();
    let dir: PathBuf = tmp.path().join("wal");
    let verbose = cycles <= 50;
    let started = Instant::now();
    let mut checker = Checker::default();
    let mut failure: Option<String> = None;
    let mut last_open_time: Option<Duration> = None;

    for cycle in 0..cycles {
        let child_seed: u64 = rng.random();
        let kill_at = match last_open_time {
            // Aim at the child's recovery: anywhere up to twice the last open's duration.
            Some(open) if rng.random_range(0..KILL_IN_RECOVERY_ONE_IN) == 0 => {
                let max_us = (2 * open.as_micros()).max(1) as u64;
                KillAt::AfterSpawn(Duration::from_micros(rng.random_range(0..=max_us)))
            }
            _ => KillAt::AfterOpen(Duration::from_millis(
                rng.random_range(sleep_min..=sleep_max),
            )),
        };
        let run = run_child_cycle(&dir, cycle, child_seed, kill_at);
        if let Some(status) = run.exited_early {
            failure = Some(format!(
                "cycle {cycle}: the child exited by itself ({status}) before the kill; stderr:\n{}",
                tail(&run.stderr, 4000)
            ));
            break;
        }
        match (kill_at, run.opened_after) {
            (KillAt::AfterOpen(_), None) => {
                failure = Some(format!(
                    "cycle {cycle}: the child did not open the WAL within {OPEN_TIMEOUT:?}; stderr:\n{}",
                    tail(&run.stderr, 4000)
                ));
                break;
            }
            (KillAt::AfterOpen(_), Some(open)) => last_open_time = Some(open),
            (KillAt::AfterSpawn(_), None) => checker.totals.killed_in_recovery += 1,
            (KillAt::AfterSpawn(_), Some(_)) => {}
        }
        let (acks, truncations) = parse_lines(&run.lines);
        let survivors_before = checker.totals.inflight_survivors;
        let problems = checker.check_cycle(&dir, cycle, &acks, &truncations);
        if verbose || cycle % 50 == 0 || !problems.is_empty() {
            println!(
                "cycle {cycle}: kill {kill_at:?}, WAL was open after {:?}, acknowledged {}, truncation point {}, next LSN {}, in-flight survivors {}, retained records {}",
                run.opened_after,
                acks.len(),
                checker.bound,
                checker.next_lsn,
                checker.totals.inflight_survivors - survivors_before,
                checker.known.len(),
            );
        }
        if !problems.is_empty() {
            let mut text = format!("cycle {cycle}: {} problem(s):\n", problems.len());
            for p in problems.iter().take(MAX_REPORTED_PROBLEMS) {
                writeln!(text, "  {p}").unwrap();
            }
            let kept = tmp.keep();
            writeln!(
                text,
                "WAL directory kept for inspection: {}\nchild stderr:\n{}",
                kept.join("wal").display(),
                tail(&run.stderr, 4000)
            )
            .unwrap();
            failure = Some(text);
            break;
        }
    }

    let t = &checker.totals;
    println!(
        "crash loop details: elapsed={:.1}s killed_in_recovery={} torn_tails={} truncations_announced={} cycles_without_acks={} disorder={} final_next_lsn={} io_path={:?}",
        started.elapsed().as_secs_f64(),
        t.killed_in_recovery,
        t.torn_tails,
        t.truncations,
        t.cycles_without_acks,
        t.disorder,
        checker.next_lsn,
        checker.io_path,
    );
    println!(
        "crash loop: cycles={} acknowledged={} lost={} corrupt={} duplicated={} inflight_survivors={} seed={seed}",
        t.cycles, t.acknowledged, t.lost, t.corrupt, t.duplicated, t.inflight_survivors
    );
    if let Some(failure) = failure {
        panic!("{failure}");
    }
    assert_eq!((t.lost, t.corrupt, t.duplicated, t.disorder), (0, 0, 0, 0));
    assert!(t.acknowledged > 0, "no child acknowledged anything");
}
