//! The model test's driver: a `Db` on `SimFs`, the oracle (acknowledged rows per
//! collection, and "maybe" groups: writes that failed and may or may not have landed), the
//! random operations, and the check after each.

use std::sync::Arc;

use cairn_engine::{CollectionOptions, ColumnRole, ColumnSpec, ColumnType, Db, SortOrder};
use cairn_io::SimFs;
use cairn_io::sim::{CrashModel, FaultKind, OpKind};

use super::check::{diff, random_query};
use super::{Col, HOUR, MAX_COLS, ROOT, Rng, Row, SEC, StopFs, T0, scan_rows, sim_options};

/// The manual clock's time: what a missing or NULL timestamp becomes.
pub const NOW: i64 = T0 + 3 * HOUR + 17 * SEC;
const DAY: i64 = 24 * HOUR;
const NAMES: [&str; 3] = ["m1", "m2", "m3"];

mod faults;
mod writes;

/// Rows of one write, per collection index.
type Group = Vec<(usize, Vec<Row>)>;

/// One collection of the model: its columns and its acknowledged rows.
#[derive(Debug, Clone)]
pub struct Coll {
    pub name: &'static str,
    pub cols: Vec<Col>,
    pub roles: Vec<ColumnRole>,
    pub rows: Vec<Row>,
}

/// Columns and options of the collections as created. Column 0 is always the TIME_KEY.
fn base(name: &str) -> (Vec<ColumnSpec>, CollectionOptions) {
    use ColumnType::*;
    let f = ColumnSpec::field;
    let (cols, interval_ns, sort, memtable_max_bytes) = match name {
        "m1" => (
            vec![
                ColumnSpec::tag("host"),
                ColumnSpec::tag("region"),
                f("f_i64", I64),
                f("f_u64", U64),
                f("f_f64", F64),
                f("f_bool", Bool),
                f("f_str", String),
            ],
            HOUR,
            SortOrder::Time,
            32 << 10,
        ),
        "m2" => (
            vec![
                ColumnSpec::tag("sensor"),
                f("v_i64", I64),
                f("v_bool", Bool),
                f("note", String),
            ],
            DAY,
            SortOrder::TagsThenTime,
            512 << 10,
        ),
        _ => (
            vec![f("v", F64), f("c", U64), f("flag", Bool)],
            15 * 60 * SEC,
            SortOrder::Time,
            32 << 10,
        ),
    };
    let mut all = vec![ColumnSpec::time_key("ts")];
    all.extend(cols);
    let opts = CollectionOptions {
        partition_interval_ns: interval_ns,
        memtable_max_bytes,
        sort,
        ..CollectionOptions::default()
    };
    (all, opts)
}

fn new_coll(name: &'static str) -> Coll {
    let (specs, _) = base(name);
    Coll {
        name,
        cols: specs
            .iter()
            .map(|s| Col {
                name: s.name.clone(),
                ty: s.column_type,
            })
            .collect(),
        roles: specs.iter().map(|s| s.role).collect(),
        rows: Vec::new(),
    }
}

pub struct Model {
    seed: u64,
    rng: Rng,
    sim: SimFs,
    fs: Arc<StopFs>,
    db: Option<Db>,
    colls: Vec<Coll>,
    /// Failed writes not yet resolved: each may be there as a whole, or not at all.
    maybe: Vec<Group>,
    log: Vec<String>,
    next_col: usize,
    /// What happened, for the summary line.
    counts: std::collections::BTreeMap<&'static str, u64>,
}

impl Model {
    pub fn new(seed: u64) -> Model {
        let sim = SimFs::new(seed);
        let fs = StopFs::new(sim.clone());
        let mut m = Model {
            seed,
            rng: Rng::new(seed),
            db: None,
            fs,
            sim,
            colls: NAMES.iter().map(|n| new_coll(n)).collect(),
            maybe: Vec::new(),
            log: Vec::new(),
            next_col: 0,
            counts: Default::default(),
        };
        m.open();
        for name in NAMES {
            let (specs, opts) = base(name);
            m.db().create_collection(name, specs, Some(opts)).unwrap();
        }
        m
    }

    fn fail(&self, msg: String) -> ! {
        let tail = self.log.len().saturating_sub(25);
        panic!(
            "seed {}: {msg}\nlast operations:\n  {}",
            self.seed,
            self.log[tail..].join("\n  ")
        )
    }

    fn count(&mut self, what: &'static str, n: u64) {
        *self.counts.entry(what).or_default() += n;
    }

    fn note(&mut self, what: String) {
        self.log.push(format!("#{} {what}", self.log.len()));
    }

    pub fn db(&self) -> &Db {
        self.db.as_ref().expect("the database is open")
    }

    fn open(&mut self) {
        self.fs = StopFs::new(self.sim.clone());
        let opts = cairn_engine::DbOptions {
            memory_budget_bytes: 1 << 20,
            compaction_min_files: 2,
            ..sim_options(&self.fs, NOW)
        };
        match Db::open(ROOT, opts) {
            Ok(db) => self.db = Some(db),
            Err(e) => self.fail(format!("reopen failed: {e}")),
        }
    }

    pub fn run(&mut self, ops: u64) {
        self.check_all("after create");
        for _ in 0..ops {
            self.step();
        }
        self.close_reopen();
        let rows: Vec<usize> = self.colls.iter().map(|c| c.rows.len()).collect();
        let files: Vec<usize> = NAMES
            .iter()
            .map(|n| self.db().collection_stats(n).unwrap().files)
            .collect();
        eprintln!(
            "seed {}: rows {rows:?}, files {files:?}, {:?}",
            self.seed, self.counts
        );
    }

    fn step(&mut self) {
        // Every third seed writes nine times out of ten, so memtables collect many chunks.
        if self.seed % 3 == 2 && self.rng.chance(90) {
            if self.rng.chance(80) {
                self.write();
            } else {
                self.write_lines();
            }
            return self.check_all("after a write");
        }
        match self.rng.below(100) {
            0..=29 | 89..=99 => self.write(),
            30..=41 => self.write_lines(),
            42..=49 => self.maintenance(0),
            50..=53 => self.maintenance(1),
            54..=58 => self.maintenance(2),
            59..=61 => self.add_column(),
            62..=63 => self.drop_recreate(),
            64..=68 => self.close_reopen(),
            69..=78 => self.crash_reopen(None),
            79..=84 => {
                let op = *self.rng.pick(&[
                    OpKind::Write,
                    OpKind::SyncData,
                    OpKind::SyncDir,
                    OpKind::Rename,
                ]);
                let nth = self.rng.below(8);
                let kind = *self.rng.pick(&[FaultKind::Eio, FaultKind::Enospc]);
                let retry = self.rng.chance(50);
                self.faulty_flush(op, nth, kind, retry);
            }
            _ => self.faulty_write(),
        }
        self.check_all("after the last operation");
    }

    /// `n` random writes, then a check.
    pub fn fill(&mut self, n: usize) {
        for _ in 0..n {
            self.write();
        }
        self.check_all("after writes");
    }

    pub fn sim(&self) -> &SimFs {
        &self.sim
    }

    /// 0: flush, 1: checkpoint, 2: maintain.
    fn maintenance(&mut self, what: u8) {
        let name = ["flush", "checkpoint", "maintain"][what as usize];
        self.note(name.to_string());
        let r = match what {
            0 => self.db().flush().map(Some),
            1 => self.db().checkpoint().map(Some),
            _ => self.db().maintain().map(|_| None),
        };
        match r {
            Ok(Some(report)) => {
                self.count("files flushed", report.files_written as u64);
                self.count("WAL segments deleted", report.wal_segments_deleted as u64);
            }
            Ok(None) => {}
            Err(e) => self.fail(format!("{name} failed: {e}")),
        }
    }

    fn add_column(&mut self) {
        let ci = self.rng.below(3) as usize;
        if self.colls[ci].cols.len() >= MAX_COLS {
            return self.write();
        }
        use ColumnType::*;
        let ty = *self.rng.pick(&[I64, U64, F64, Bool, String, Timestamp]);
        let name = format!("x{}", self.next_col);
        self.next_col += 1;
        let spec = if ty == String && self.rng.chance(50) {
            ColumnSpec::tag(&name)
        } else {
            ColumnSpec::field(&name, ty)
        };
        self.note(format!(
            "add column {name} {ty:?} {:?} to {}",
            spec.role, self.colls[ci].name
        ));
        let role = spec.role;
        if let Err(e) = self.db().add_columns(self.colls[ci].name, vec![spec]) {
            self.fail(format!("add_columns: {e}"));
        }
        self.colls[ci].cols.push(Col { name, ty });
        self.colls[ci].roles.push(role);
    }

    fn drop_recreate(&mut self) {
        let ci = self.rng.below(3) as usize;
        let name = self.colls[ci].name;
        self.note(format!("drop and recreate {name}"));
        self.db()
            .drop_collection(name)
            .unwrap_or_else(|e| self.fail(format!("drop: {e}")));
        let (specs, opts) = base(name);
        if let Err(e) = self.db().create_collection(name, specs, Some(opts)) {
            self.fail(format!("recreate: {e}"));
        }
        self.colls[ci] = new_coll(name);
    }

    fn close_reopen(&mut self) {
        let crash = self.rng.chance(30);
        self.note(format!(
            "close, {}reopen",
            if crash { "crash, " } else { "" }
        ));
        let db = self.db.take().expect("open");
        if let Err(e) = db.close() {
            self.fail(format!("close: {e}"));
        }
        if crash {
            let model = *self.rng.pick(&CrashModel::ALL);
            self.sim.crash_with(model);
        }
        self.reopen();
    }

    /// Power loss: the process stops at once, the disk keeps what `model` (random if
    /// `None`) lets survive, and the database is reopened.
    pub fn crash_reopen(&mut self, model: Option<CrashModel>) {
        let model = model.unwrap_or_else(|| *self.rng.pick(&CrashModel::ALL));
        self.note(format!("crash ({model:?}), reopen"));
        self.count("crashes", 1);
        self.fs.kill();
        drop(self.db.take());
        self.sim.crash_with(model);
        self.reopen();
    }

    fn reopen(&mut self) {
        self.open();
        let names: Vec<String> = self
            .db()
            .collections(cairn_engine::DEFAULT_DATABASE)
            .unwrap()
            .iter()
            .map(|d| d.name.clone())
            .collect();
        if names != NAMES {
            self.fail(format!("after reopen the collections are {names:?}"));
        }
        self.resolve_maybe();
        self.check_all("after reopen");
    }

    /// Every collection: the full scan equals the oracle, memory + files hold each row
    /// once, and a random filtered scan equals the oracle filtered the same way.
    pub fn check_all(&mut self, when: &str) {
        if !self.maybe.is_empty() {
            return;
        }
        for ci in 0..self.colls.len() {
            self.colls[ci].rows.sort_unstable();
            let c = &self.colls[ci];
            let exp = &c.rows;
            let got = self.scan(ci, &c.cols, &Default::default());
            if let Some(d) = diff(exp, &got, c.cols.len()) {
                self.fail(format!("{when}: full scan of {}: {d}", c.name));
            }
            let s = self.db().collection_stats(c.name).unwrap();
            if s.file_rows + s.memtable_rows != exp.len() as u64 {
                self.fail(format!(
                    "{when}: {} holds {s:?} for {} rows",
                    c.name,
                    exp.len()
                ));
            }
        }
        for _ in 0..2 {
            let ci = self.rng.below(self.colls.len() as u64) as usize;
            let q = random_query(&mut self.rng, &self.colls[ci].cols, &self.colls[ci].rows);
            let cols = q.columns(&self.colls[ci].cols);
            let got = self.scan(ci, &cols, &q.req);
            if let Some(d) = diff(&q.expected(&self.colls[ci].rows), &got, cols.len()) {
                self.fail(format!(
                    "{when}: scan of {} with {:?}: {d}",
                    self.colls[ci].name, q.req
                ));
            }
        }
    }

    fn scan(&self, ci: usize, cols: &[Col], req: &cairn_engine::ScanRequest) -> Vec<Row> {
        let name = self.colls[ci].name;
        scan_rows(self.db(), name, cols, req)
            .unwrap_or_else(|e| self.fail(format!("scan of {name} failed: {e}")))
    }
}
