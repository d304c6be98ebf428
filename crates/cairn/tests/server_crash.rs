#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The crash loop through the server, as a user meets it: `cairn serve` on a data directory,
//! two client threads streaming line-protocol batches to `POST /write` and recording each
//! batch acknowledged (204); the server SIGKILLed 20-400 ms after the writers start, sometimes
//! after a completed CHECKPOINT, sometimes during one; restarted on the same directory; then
//! checked by SQL over `POST /query` (see `server_crash/ledger.rs` for the rules): no
//! acknowledged row lost, no row twice, unacknowledged batches absent or complete and stable.
//!
//! The collection has small, short-lived memtables and 1 h partitions (a batch spans up to
//! 200 s of ts), so flushes, compactions and multi-partition writes happen during the kills.
//!
//! `CAIRN_CRASH_CYCLES` sets the kills (default 8); `CAIRN_CRASH_SEED` replays the batch sizes,
//! kill moments and CHECKPOINT choices (not the threads' interleaving). Every
//! `CYCLES_PER_DIR` kills a fresh data directory starts, bounding the rows each check reads.
//! On a failure the data directory is kept and its path printed.

#[path = "clients/harness.rs"]
mod harness;

#[path = "server_crash/client.rs"]
mod client;
#[path = "server_crash/ledger.rs"]
mod ledger;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use client::{COLLECTION, Http, ID_STEP_NS, Rng, Shared, T0_NS};
use harness::Serve;
use ledger::{Ledger, Totals};

const DEFAULT_CYCLES: u64 = 8;
/// Kills per data directory before a fresh one starts.
const CYCLES_PER_DIR: u64 = 20;
const WRITERS: usize = 2;
/// How long a killed server's file lock may outlive its reaping (io_uring teardown).
const UNLOCK_WAIT: Duration = Duration::from_secs(30);
/// The tail of the server log put into a failure message (the whole log stays on disk).
const LOG_TAIL_BYTES: usize = 256 << 10;

/// When the cycle's CHECKPOINT runs, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkpoint {
    None,
    /// Runs to completion halfway to the kill (the writers go on meanwhile).
    Before,
    /// Starts at the kill moment; the kill follows 0-20 ms later.
    During,
}

/// A temporary directory kept (and its path printed) when the test panics.
struct KeepOnPanic(Option<tempfile::TempDir>);

impl KeepOnPanic {
    fn new() -> KeepOnPanic {
        KeepOnPanic(Some(tempfile::tempdir().unwrap()))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("server crash loop: data kept in {}", dir.keep().display());
        }
    }
}

#[test]
fn server_crash_loop() {
    let cycles = std::env::var("CAIRN_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let seed = std::env::var("CAIRN_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!(
        "server crash loop: seed {seed} (CAIRN_CRASH_SEED={seed} replays it), {cycles} cycles"
    );
    let mut rng = Rng::new(seed);
    let mut t = Totals::default();
    let mut checkpoints = [0u64; 2];
    let mut next_first = 1;
    while t.cycles < cycles {
        let dir = KeepOnPanic::new();
        let acked_base = (t.acked_batches, t.acked_rows);
        let mut run = Run::start(dir.path(), seed, Ledger::new(next_first), acked_base);
        let end = (t.cycles + CYCLES_PER_DIR).min(cycles);
        while t.cycles < end {
            match run.cycle(&mut rng, &mut t) {
                Checkpoint::Before => checkpoints[0] += 1,
                Checkpoint::During => checkpoints[1] += 1,
                Checkpoint::None => {}
            }
        }
        next_first = run.ledger.next_free();
        drop(run);
    }
    println!(
        "server crash loop: cycles {}, batches acknowledged {}, rows acknowledged {}, lost {}, \
         duplicated {}, unacked batches present {} of {}",
        t.cycles, t.acked_batches, t.acked_rows, t.lost, t.duplicated, t.unacked_present, t.unacked
    );
    println!(
        "server crash loop: kills after a completed CHECKPOINT {}, kills during a CHECKPOINT {}",
        checkpoints[0], checkpoints[1]
    );
    assert_eq!(t.lost, 0, "seed {seed}: {t:?}");
    assert_eq!(t.duplicated, 0, "seed {seed}: {t:?}");
    assert!(
        t.acked_rows > 0,
        "seed {seed}: no batch was ever acknowledged"
    );
}

/// One data directory: the running server and what was sent to it.
struct Run {
    root: PathBuf,
    seed: u64,
    serve: Option<Serve>,
    http: Http,
    ledger: Ledger,
    /// Acknowledged batches and rows of the earlier data directories.
    acked_base: (u64, u64),
    /// `CAIRN_CRASH_VERBOSE`: a line per cycle.
    verbose: bool,
}

impl Run {
    fn start(root: &Path, seed: u64, ledger: Ledger, acked_base: (u64, u64)) -> Run {
        let serve = Serve::start(root, &[]);
        let http = Http::new(serve.http);
        let run = Run {
            root: root.to_path_buf(),
            seed,
            serve: Some(serve),
            http,
            ledger,
            acked_base,
            verbose: std::env::var_os("CAIRN_CRASH_VERBOSE").is_some(),
        };
        let create = format!(
            "CREATE TIMESERIES {COLLECTION} (ts TIMESTAMP TIME_KEY, writer VARCHAR TAG, \
             batch BIGINT, id BIGINT, v DOUBLE) WITH (partition_by = '1h', \
             memtable_max_bytes = 262144, memtable_max_age = '200ms')"
        );
        if let Err(e) = run.http.sql(&create) {
            run.fail(0, &Totals::default(), &[e]);
        }
        run
    }

    /// Writes, kills, restarts and checks once; returns the CHECKPOINT mode it used.
    fn cycle(&mut self, rng: &mut Rng, t: &mut Totals) -> Checkpoint {
        let kill_after = Duration::from_millis(rng.range(20, 400));
        let mode = match rng.range(0, 4) {
            0 => Checkpoint::Before,
            1 => Checkpoint::During,
            _ => Checkpoint::None,
        };
        let during_delay = Duration::from_millis(rng.range(0, 20));
        let ledger = std::mem::replace(&mut self.ledger, Ledger::new(0));
        let shared = Shared::new(ledger);
        let started = Instant::now();
        let writers: Vec<JoinHandle<()>> = (0..WRITERS)
            .map(|w| {
                let (http, shared) = (self.http.clone(), shared.clone());
                let wrng = Rng::new(rng.next());
                std::thread::spawn(move || client::run_writer(http, shared, format!("w{w}"), wrng))
            })
            .collect();
        let checkpoint = self.checkpoint(mode, kill_after, during_delay, &shared);
        std::thread::sleep(kill_after.saturating_sub(started.elapsed()));
        self.kill(&shared);
        for h in writers.into_iter().chain(checkpoint) {
            h.join().unwrap();
        }
        self.ledger = Arc::try_unwrap(shared)
            .unwrap()
            .ledger
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        let restarting = Instant::now();
        self.restart();
        let checking = Instant::now();
        self.check(t);
        t.cycles += 1;
        if self.verbose {
            println!(
                "cycle {}: checkpoint {mode:?}, killed after {kill_after:?}, restart {:?}, \
                 check {:?}, {} rows present",
                t.cycles,
                checking - restarting,
                checking.elapsed(),
                self.ledger.rows_present()
            );
        }
        let (b, r) = self.ledger.acked();
        (t.acked_batches, t.acked_rows) = (self.acked_base.0 + b, self.acked_base.1 + r);
        if !self.ledger.anomalies().is_empty() {
            self.fail(t.cycles, t, self.ledger.anomalies());
        }
        mode
    }

    /// Runs the cycle's CHECKPOINT: `Before` to completion halfway to the kill; `During` on
    /// a thread started at the kill moment (returned, to be joined after the kill), then waits
    /// `during_delay`.
    fn checkpoint(
        &self,
        mode: Checkpoint,
        kill_after: Duration,
        during_delay: Duration,
        shared: &Arc<Shared>,
    ) -> Option<JoinHandle<()>> {
        match mode {
            Checkpoint::None => None,
            Checkpoint::Before => {
                std::thread::sleep(kill_after / 2);
                if let Err(e) = self.http.sql("CHECKPOINT") {
                    let what = format!("CHECKPOINT before the kill: {e}");
                    shared.ledger().anomaly(what);
                }
                None
            }
            Checkpoint::During => {
                std::thread::sleep(kill_after);
                let (http, shared) = (self.http.clone(), shared.clone());
                let thread = std::thread::spawn(move || {
                    if let Err(e) = http.sql("CHECKPOINT")
                        && !shared.killed.load(Ordering::SeqCst)
                    {
                        let what = format!("CHECKPOINT at the kill: {e}");
                        shared.ledger().anomaly(what);
                    }
                });
                std::thread::sleep(during_delay);
                Some(thread)
            }
        }
    }

    /// SIGKILLs the server and reaps it.
    fn kill(&mut self, shared: &Shared) {
        let mut serve = self.serve.take().unwrap();
        shared.stop.store(true, Ordering::SeqCst);
        if !serve.alive() {
            // Reaped by `alive`: its pid may be reused, so no signal.
            let what = "the server exited on its own before the kill".to_owned();
            shared.ledger().anomaly(what);
            return;
        }
        shared.killed.store(true, Ordering::SeqCst);
        let pid = libc::pid_t::try_from(serve.pid()).unwrap();
        // SAFETY: kill(2) on our own child's pid (not yet reaped); no memory is involved.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill({pid}, SIGKILL)");
        // Dropping the harness' Serve waits for the child (no zombie).
        drop(serve);
    }

    fn restart(&mut self) {
        let data = self.root.join("data");
        wait_unlocked(&data);
        let serve = Serve::start(&self.root, &[]);
        self.http = Http::new(serve.http);
        self.serve = Some(serve);
    }

    /// Asks the restarted server what it has and checks it against the ledger.
    fn check(&mut self, t: &mut Totals) {
        let per_batch = format!(
            "SELECT batch, count(*), sum(id), sum(v), count(DISTINCT id) FROM {COLLECTION} \
             GROUP BY batch"
        );
        let totals = format!("SELECT count(*), count(DISTINCT id) FROM {COLLECTION}");
        let bogus = format!(
            "SELECT count(*) FROM {COLLECTION} WHERE CAST(ts AS BIGINT) <> {T0_NS} + id * \
             {ID_STEP_NS} OR v <> id * 0.25 OR writer IS NULL OR writer NOT IN ('w0', 'w1')"
        );
        let answers = [&per_batch, &totals, &bogus].map(|q| self.http.sql(q));
        let [per_batch, totals, bogus] = match answers {
            [Ok(a), Ok(b), Ok(c)] => [a, b, c],
            other => {
                let errors: Vec<String> = other.into_iter().filter_map(Result::err).collect();
                self.fail(t.cycles, t, &errors);
            }
        };
        let num = |v: &serde_json::Value, col: usize| v["rows"][0][col].as_u64();
        let (Some(total), Some(distinct), Some(bogus), Some(rows)) = (
            num(&totals, 0),
            num(&totals, 1),
            num(&bogus, 0),
            per_batch["rows"].as_array(),
        ) else {
            let what = format!("unexpected answers: {totals} / {bogus} / {per_batch:.200}");
            self.fail(t.cycles, t, &[what]);
        };
        self.ledger.check(rows, total, distinct, bogus, t);
        // Plain text: the server colours its log only on a terminal.
        let log = self.serve.as_ref().map(Serve::log).unwrap_or_default();
        if log.contains("panicked") {
            self.ledger
                .anomaly("the server log shows a panic".to_owned());
        }
        for line in log.lines().filter(|l| l.contains(" ERROR ")) {
            self.ledger
                .anomaly(format!("the server logged an error: {line}"));
        }
    }

    /// Fails the test with everything needed to replay it; the data directory is kept.
    fn fail(&self, cycle: u64, t: &Totals, anomalies: &[String]) -> ! {
        let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        let mut tail_start = log.len().saturating_sub(LOG_TAIL_BYTES);
        while !log.is_char_boundary(tail_start) {
            tail_start += 1;
        }
        let shown: Vec<&String> = anomalies.iter().take(50).collect();
        panic!(
            "server crash loop failed at cycle {cycle} (seed {seed}, replay with \
             CAIRN_CRASH_SEED={seed}); data directory kept: {data}; {t:?}\n\
             anomalies ({n}):\n{shown:#?}\n\
             server log ({log_path}, last {tail} bytes):\n{log_tail}",
            seed = self.seed,
            data = self.root.join("data").display(),
            n = anomalies.len(),
            log_path = self.root.join("server.log").display(),
            tail = log.len() - tail_start,
            log_tail = &log[tail_start..],
        );
    }
}

/// Waits until no process holds the data directory's lock: a SIGKILLed server's files are
/// closed by the kernel, which can lag behind its reaping.
fn wait_unlocked(data: &Path) {
    let Ok(lock) = std::fs::File::open(data.join("LOCK")) else {
        return;
    };
    let deadline = Instant::now() + UNLOCK_WAIT;
    loop {
        // SAFETY: flock(2) on a descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            // Closing `lock` releases it.
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} stayed locked {UNLOCK_WAIT:?} after the server was killed",
            data.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
