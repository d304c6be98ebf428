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

mod checker;
mod child;
#[path = "../common/mod.rs"]
mod common;
mod parent;
mod payload;

use checker::*;
use child::*;
use parent::*;
use payload::*;

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
pub(crate) const CHILD_TEST: &str = "child::crash_child_entry";
pub(crate) const ENV_CHILD_DIR: &str = "CAIRN_CRASH_CHILD_DIR";
pub(crate) const ENV_CHILD_CYCLE: &str = "CAIRN_CRASH_CHILD_CYCLE";
pub(crate) const ENV_CHILD_SEED: &str = "CAIRN_CRASH_CHILD_SEED";
pub(crate) const ENV_CHILD_LIFETIME_MS: &str = "CAIRN_CRASH_CHILD_LIFETIME_MS";

pub(crate) const THREADS: u32 = 4;
pub(crate) const RECORD_TYPE: u16 = 1;
pub(crate) const SEGMENT_TARGET_BYTES: u64 = 256 << 10;
/// Payload: magic, cycle (u32), thread (u32), seq (u64), then the filler.
pub(crate) const MAGIC: [u8; 4] = *b"K9WL";
pub(crate) const ID_BYTES: usize = 20;
/// Filler lengths are in `0..MAX_FILLER`.
pub(crate) const MAX_FILLER: u64 = 2000;
/// The child truncates after about this many acknowledgements (and once early on).
pub(crate) const TRUNCATE_EVERY: u64 = 500;
/// A child that is somehow never killed ends itself this long after its kill was due.
pub(crate) const CHILD_GRACE: Duration = Duration::from_secs(60);
/// What the child prints once the WAL is open.
pub(crate) const OPENED_LINE: &str = "opened";
/// How long the parent waits for a child to open the WAL.
pub(crate) const OPEN_TIMEOUT: Duration = Duration::from_secs(60);
/// One cycle in this many aims the kill at the child's recovery instead of its appends.
pub(crate) const KILL_IN_RECOVERY_ONE_IN: u32 = 8;
/// How many problem descriptions a failure prints.
pub(crate) const MAX_REPORTED_PROBLEMS: usize = 30;

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
