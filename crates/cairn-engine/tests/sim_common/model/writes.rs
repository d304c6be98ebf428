//! The model's writes: random rows per collection (as written and as the oracle sees them)
//! sent as Arrow batches or as line protocol.

use cairn_engine::{ColumnRole, ColumnType, EngineError, Precision};

use super::super::check::lp_line;
use super::super::{F64, HOUR, MAX_COLS, Row, SEC, T0, Val, gen_value, rows_batch};
use super::{DAY, Group, Model, NOW};

impl Model {
    pub(super) fn batch_size(&mut self) -> usize {
        (match self.rng.below(10) {
            0..=4 => 1 + self.rng.below(20),
            5..=8 => 20 + self.rng.below(180),
            _ => 200 + self.rng.below(301),
        }) as usize
    }

    pub(super) fn gen_ts(&mut self, ci: usize) -> i64 {
        let t = match ci {
            0 => T0 + self.rng.range(-HOUR, 6 * HOUR),
            1 => T0 + self.rng.range(-DAY, 2 * DAY),
            _ => T0 + self.rng.range(0, HOUR),
        };
        if self.rng.chance(50) {
            t / SEC * SEC
        } else {
            t
        }
    }

    /// `n` rows for collection `ci` as written and as the oracle sees them, and the columns
    /// the batch carries. Line protocol cannot carry empty tags, NaN or infinities.
    pub(super) fn gen_rows(
        &mut self,
        ci: usize,
        n: usize,
        lp: bool,
    ) -> (Vec<Row>, Vec<Row>, Vec<usize>) {
        let ncols = self.colls[ci].cols.len();
        let mut include: Vec<usize> = (0..ncols)
            .filter(|&c| {
                lp || (if c == 0 {
                    self.rng.chance(93)
                } else {
                    self.rng.chance(85)
                })
            })
            .collect();
        if include.is_empty() {
            include.push(0);
        }
        let (mut written, mut oracle) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let mut w = [Val::Null; MAX_COLS];
            for &c in &include {
                let ty = self.colls[ci].cols[c].ty;
                w[c] = if c == 0 {
                    if self.rng.chance(4) {
                        Val::Null
                    } else {
                        Val::I(self.gen_ts(ci))
                    }
                } else if self.rng.chance(20) {
                    Val::Null
                } else if ty == ColumnType::F64 && !lp && self.rng.chance(5) {
                    Val::F(F64(*self.rng.pick(&[
                        f64::NAN,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                    ])))
                } else {
                    gen_value(&mut self.rng, ty)
                };
                if lp && self.colls[ci].roles[c] == ColumnRole::Tag && w[c] == Val::S("") {
                    w[c] = Val::Null;
                }
            }
            if lp
                && (1..ncols)
                    .all(|c| self.colls[ci].roles[c] == ColumnRole::Tag || w[c] == Val::Null)
            {
                let c = (1..ncols)
                    .find(|&c| self.colls[ci].roles[c] != ColumnRole::Tag)
                    .unwrap();
                w[c] = gen_value(&mut self.rng, self.colls[ci].cols[c].ty);
            }
            let mut o = w;
            if o[0] == Val::Null {
                o[0] = Val::I(NOW);
            }
            written.push(w);
            oracle.push(o);
        }
        (written, oracle, include)
    }

    /// One random write (an Arrow batch, or line protocol into one or two collections): the
    /// rows it wrote per collection, or the error and what it tried to write.
    pub(super) fn try_write(&mut self, lp: bool) -> Result<Group, (EngineError, Group)> {
        if !lp {
            let ci = self.rng.below(3) as usize;
            let n = self.batch_size();
            let (w, o, include) = self.gen_rows(ci, n, false);
            let c = &self.colls[ci];
            let batch = rows_batch(&c.cols, &include, &w);
            let cols: Vec<&str> = include.iter().map(|&i| c.cols[i].name.as_str()).collect();
            self.note(format!("write {} rows to {} ({cols:?})", n, c.name));
            let group = vec![(ci, o)];
            return match self.db().write(self.colls[ci].name, &batch) {
                Ok(k) if k == n as u64 => Ok(group),
                Ok(k) => self.fail(format!("write of {n} rows reported {k}")),
                Err(e) => Err((e, group)),
            };
        }
        let first = self.rng.below(3) as usize;
        let targets = if self.rng.chance(40) {
            vec![first, (first + 1) % 3]
        } else {
            vec![first]
        };
        let n = 1 + self.rng.below(150) as usize;
        let mut per: Vec<(usize, Vec<Row>)> = targets.iter().map(|&ci| (ci, Vec::new())).collect();
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.rng.below(targets.len() as u64) as usize;
            let ci = targets[k];
            let (w, o, _) = self.gen_rows(ci, 1, true);
            let with_ts = w[0][0] != Val::Null;
            let c = &self.colls[ci];
            lines.push(lp_line(
                &mut self.rng,
                c.name,
                &c.cols,
                &c.roles,
                &w[0],
                with_ts,
            ));
            per[k].1.extend(o);
        }
        let text = lines.join(if self.rng.chance(20) { "\n\n" } else { "\n" });
        self.note(format!("write_lines: {n} lines to {targets:?}"));
        match self.db().write_lines(&text, Precision::Nanoseconds) {
            Ok(r) if r.errors.is_empty() && r.rows_written == n as u64 => Ok(per),
            Ok(r) => self.fail(format!(
                "write_lines: {} of {n} rows, errors {:?}\n{text}",
                r.rows_written, r.errors
            )),
            Err(e) => Err((e, per)),
        }
    }

    pub(super) fn write(&mut self) {
        match self.try_write(false) {
            Ok(group) => self.ack(group),
            Err((e, _)) => self.fail(format!("write failed: {e}")),
        }
    }

    pub(super) fn write_lines(&mut self) {
        match self.try_write(true) {
            Ok(group) => self.ack(group),
            Err((e, _)) => self.fail(format!("write_lines failed: {e}")),
        }
    }

    pub(super) fn ack(&mut self, group: Group) {
        for (ci, rows) in group {
            self.colls[ci].rows.extend(rows);
        }
    }
}
