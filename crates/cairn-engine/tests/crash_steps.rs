#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]
//! Crash at every step of a flush, a compaction, a checkpoint, a recovery and a series of
//! catalog changes. For each, the mutating file-system calls the step makes are counted (N);
//! then, for every k in 0..=N, a fresh simulated disk gets the same data, the process dies
//! right before the step's k-th mutating call (it and everything after fail), the disk loses
//! what was not synced (and, in a second run, what another crash model takes), and the
//! database is reopened. It must show exactly the acknowledged rows (each once), hold the old
//! or the new files, leave no orphan partition or temporary file, and keep working: more
//! writes, flushes, compaction and a restart are checked the same way.

mod sim_common;

use std::path::Path;
use std::sync::Arc;

use cairn_engine::{CollectionOptions, ColumnSpec, ColumnType, Db, DbOptions, SortOrder};
use cairn_io::SimFs;
use cairn_io::sim::CrashModel;
use sim_common::check::diff;
use sim_common::*;

const NOW: i64 = T0 + 2 * HOUR;
const COLLS: [&str; 2] = ["c", "d"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Flush,
    Compact,
    Checkpoint,
    /// Opening after a crash, with a memory budget so small that replay flushes, and with
    /// stray files to remove.
    Recover,
    /// Drop and recreate `d`, then add a column to `c`.
    Ddl,
}

/// Creates collection `COLLS[i]` with the columns of [`columns`].
fn create(db: &Db, i: usize) -> cairn_engine::Result<()> {
    let specs = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("host"),
        ColumnSpec::field("v", ColumnType::I64),
        ColumnSpec::field("s", ColumnType::String),
        ColumnSpec::field("f", ColumnType::F64),
    ];
    let opts = CollectionOptions {
        partition_interval_ns: HOUR,
        sort: [SortOrder::Time, SortOrder::TagsThenTime][i],
        ..CollectionOptions::default()
    };
    db.create_collection(COLLS[i], specs, Some(opts))
        .map(|_| ())
}

fn columns() -> Vec<Col> {
    vec![
        col("ts", ColumnType::Timestamp),
        col("host", ColumnType::String),
        col("v", ColumnType::I64),
        col("s", ColumnType::String),
        col("f", ColumnType::F64),
    ]
}

fn options(fs: &Arc<StopFs>) -> DbOptions {
    DbOptions {
        compaction_min_files: 2,
        ..sim_options(fs, NOW)
    }
}

/// The database on `sim` as one test's data: rows per collection.
struct World {
    sim: SimFs,
    fs: Arc<StopFs>,
    db: Option<Db>,
    rows: Vec<Vec<Row>>,
    rng: Rng,
}

impl World {
    fn new(seed: u64) -> World {
        let sim = SimFs::new(seed);
        let fs = StopFs::new(sim.clone());
        let db = Db::open(ROOT, options(&fs)).unwrap();
        for i in 0..COLLS.len() {
            create(&db, i).unwrap();
        }
        World {
            sim,
            fs,
            db: Some(db),
            rows: vec![Vec::new(); COLLS.len()],
            rng: Rng::new(seed),
        }
    }

    fn db(&self) -> &Db {
        self.db.as_ref().unwrap()
    }

    /// Writes `n` rows over three hourly partitions, out of order, to every collection.
    fn write(&mut self, n: usize) {
        let cols = columns();
        for (ci, name) in COLLS.into_iter().enumerate() {
            let rows: Vec<Row> = (0..n)
                .map(|_| {
                    let mut r = [Val::Null; MAX_COLS];
                    r[0] = Val::I(T0 + self.rng.range(0, 3 * HOUR));
                    for (c, spec) in cols.iter().enumerate().skip(1) {
                        if !self.rng.chance(15) {
                            r[c] = gen_value(&mut self.rng, spec.ty);
                        }
                    }
                    r
                })
                .collect();
            let all: Vec<usize> = (0..cols.len()).collect();
            let k = self
                .db()
                .write(name, &rows_batch(&cols, &all, &rows))
                .unwrap();
            assert_eq!(k, n as u64);
            self.rows[ci].extend(rows);
        }
    }

    fn files(&self) -> Vec<usize> {
        COLLS
            .iter()
            .map(|c| self.db().collection_stats(c).unwrap().files)
            .collect()
    }

    /// Data exact, each row once in memory or files, no stray files on disk.
    fn check(&self, when: &str) {
        for (ci, name) in COLLS.into_iter().enumerate() {
            let mut exp = self.rows[ci].clone();
            exp.sort_unstable();
            let got = scan_rows(self.db(), name, &columns(), &Default::default()).unwrap();
            if let Some(d) = diff(&exp, &got, columns().len()) {
                panic!("{when}: collection {name}: {d}");
            }
            let s = self.db().collection_stats(name).unwrap();
            assert_eq!(
                s.file_rows + s.memtable_rows,
                exp.len() as u64,
                "{when}: {name}: {s:?}"
            );
            let id = self.db().collection(name).unwrap().id;
            let names = file_names(&self.sim, &format!("{ROOT}/c{id}"));
            let stray: Vec<&String> = names.iter().filter(|n| n.ends_with(".tmp")).collect();
            assert!(
                stray.is_empty(),
                "{when}: {name}: temporary files {stray:?}"
            );
            let parts = names.iter().filter(|n| n.ends_with(".cpf")).count();
            assert_eq!(parts, s.files, "{when}: {name}: partition files {names:?}");
        }
    }

    fn run(&mut self, step: Step) -> cairn_engine::Result<()> {
        match step {
            Step::Flush => self.db().flush().map(|_| ()),
            Step::Compact => self.db().maintain(),
            Step::Checkpoint => self.db().checkpoint().map(|_| ()),
            Step::Recover => {
                let opts = DbOptions {
                    memory_budget_bytes: 4096,
                    ..options(&self.fs)
                };
                self.db = Some(Db::open(ROOT, opts)?);
                Ok(())
            }
            Step::Ddl => {
                self.db().drop_collection(COLLS[1])?;
                create(self.db(), 1)?;
                let x = ColumnSpec::field("x", ColumnType::Bool);
                self.db().add_columns(COLLS[0], vec![x])
            }
        }
    }

    /// After a crash during [`Step::Ddl`]: the changes are a prefix of the three, in order;
    /// the oracle follows, and a dropped-only `d` is created again.
    fn settle_ddl(&mut self, old_d: u64, when: &str) {
        let d = self.db().collection(COLLS[1]).ok().map(|d| d.id);
        let x = self.db().collection(COLLS[0]).unwrap().schema.index_of("x");
        match (d, x) {
            (Some(id), None) if id == old_d => return,
            (None, None) => create(self.db(), 1).unwrap(),
            (Some(id), _) if id != old_d => {}
            other => panic!("{when}: not a prefix of the changes: (d, x) = {other:?}"),
        }
        self.rows[1].clear();
        let left = file_names(&self.sim, &format!("{ROOT}/c{old_d}"));
        assert!(
            left.is_empty(),
            "{when}: the dropped collection left {left:?}"
        );
    }

    /// The process dies; the disk keeps what `model` lets survive.
    fn crash(&mut self, model: CrashModel) {
        self.fs.kill();
        drop(self.db.take());
        self.sim.crash_with(model);
        self.fs = StopFs::new(self.sim.clone());
    }

    fn crash_reopen(&mut self, model: CrashModel) {
        self.crash(model);
        self.db = Some(Db::open(ROOT, options(&self.fs)).unwrap());
    }

    fn close_reopen(&mut self) {
        self.db.take().unwrap().close().unwrap();
        self.fs = StopFs::new(self.sim.clone());
        self.db = Some(Db::open(ROOT, options(&self.fs)).unwrap());
    }
}

/// The data each step starts from: memtables only for a flush; otherwise two flushed
/// generations (two files per partition) plus unflushed rows. A recovery starts from that
/// after a crash, with a stray partition file and temporary files next to the real ones.
fn setup(step: Step, seed: u64) -> World {
    let mut w = World::new(seed);
    w.write(120);
    if step != Step::Flush {
        w.db().flush().unwrap();
        w.write(90);
        w.db().flush().unwrap();
        w.write(40);
    }
    w.write(60);
    w.check("after setup");
    if step == Step::Recover {
        let dir = format!("{ROOT}/c{}", w.db().collection(COLLS[0]).unwrap().id);
        w.crash(CrashModel::DropUnsynced);
        for name in [
            "00000000000000ff.cpf",
            "00000000000000fe.cpf.tmp",
            "MANIFEST.tmp",
        ] {
            let path = format!("{dir}/{name}");
            w.sim.write_file_durable(Path::new(&path), b"junk").unwrap();
        }
    }
    w
}

/// The mutating calls `step` makes on a fresh disk, and the file counts before and after.
fn count(step: Step, seed: u64) -> (u64, Vec<usize>, Vec<usize>) {
    let mut w = setup(step, seed);
    let before = if step == Step::Recover {
        Vec::new()
    } else {
        w.files()
    };
    let m0 = w.fs.mutations();
    w.run(step).unwrap();
    let n = w.fs.mutations() - m0;
    if step == Step::Ddl {
        w.rows[1].clear();
    }
    w.check("after the step");
    (n, before, w.files())
}

fn crash_at_every_call(step: Step, seed: u64) {
    let (n, before, after) = count(step, seed);
    assert_eq!(
        count(step, seed).0,
        n,
        "{step:?}: the call count is deterministic"
    );
    assert!(n >= 6, "{step:?} made only {n} mutating calls");
    let others = [
        CrashModel::PrefixOrdered,
        CrashModel::AnySubset,
        CrashModel::Paranoid,
    ];
    // A checkpoint is a flush then a compaction, each swept on its own above; by default
    // its sweep takes every third call (`CAIRN_CRASH_STEPS_FULL=1`: every call).
    let full = std::env::var_os("CAIRN_CRASH_STEPS_FULL").is_some();
    let stride = if step == Step::Checkpoint && !full {
        3
    } else {
        1
    };
    let ks: Vec<u64> = (0..=n).filter(|k| k % stride == 0 || *k == n).collect();
    for k in ks {
        for model in [CrashModel::DropUnsynced, others[k as usize % 3]] {
            let when = format!("{step:?}, crash before mutating call {k} of {n}, {model:?}");
            let mut w = setup(step, seed);
            let old_d =
                w.db.as_ref()
                    .map_or(0, |db| db.collection(COLLS[1]).unwrap().id);
            w.fs.stop_after(k);
            let r = w.run(step);
            assert!(
                r.is_ok() || k < n,
                "{when}: the step failed without a crash: {r:?}"
            );
            w.crash_reopen(model);
            if step == Step::Ddl {
                w.settle_ddl(old_d, &when);
            }
            w.check(&when);
            // A checkpoint adds files, then merges them: only flush and compaction alone move
            // monotonically between the two counts.
            let files = match step {
                Step::Flush | Step::Compact => w.files(),
                Step::Checkpoint | Step::Recover | Step::Ddl => Vec::new(),
            };
            for (c, (&f, (&b, &a))) in files.iter().zip(before.iter().zip(&after)).enumerate() {
                let (lo, hi) = (a.min(b), a.max(b));
                assert!(
                    (lo..=hi).contains(&f),
                    "{when}: {}: {f} files, before the step {b}, after {a}",
                    COLLS[c]
                );
            }
            if model != CrashModel::DropUnsynced {
                continue;
            }
            // Life goes on: more writes, a flush, compaction, a crash and a clean restart.
            w.write(30);
            w.db().flush().unwrap();
            w.check(&format!("{when}; then write + flush"));
            w.write(20);
            w.db().checkpoint().unwrap();
            w.check(&format!("{when}; then write + checkpoint"));
            w.write(10);
            w.crash_reopen(model);
            w.check(&format!("{when}; then write + crash"));
            w.close_reopen();
            w.check(&format!("{when}; then close + reopen"));
        }
    }
}

#[test]
fn crash_at_every_call_of_a_flush() {
    crash_at_every_call(Step::Flush, 1);
}

#[test]
fn crash_at_every_call_of_a_compaction() {
    crash_at_every_call(Step::Compact, 2);
}

#[test]
fn crash_at_every_call_of_a_checkpoint() {
    crash_at_every_call(Step::Checkpoint, 3);
}

#[test]
fn crash_at_every_call_of_a_recovery() {
    crash_at_every_call(Step::Recover, 4);
}

#[test]
fn crash_at_every_call_of_catalog_changes() {
    crash_at_every_call(Step::Ddl, 5);
}
