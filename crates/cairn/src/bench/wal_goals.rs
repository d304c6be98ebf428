//! Figures derived from a run: the encryption comparison and the goals (PASS/MISS).

use super::report::{Table, num};
use super::wal::Results;
use super::wal_cells::{AppendCell, AppendKind, ReplayCell};

fn find_durable(cells: &[AppendCell], writers: usize, payload_bytes: usize) -> Option<&AppendCell> {
    cells.iter().find(|c| {
        c.kind == AppendKind::Durable && c.threads == writers && c.payload_bytes == payload_bytes
    })
}

fn find_batch(cells: &[AppendCell], threads: usize) -> Option<&AppendCell> {
    cells
        .iter()
        .find(|c| c.kind == AppendKind::Batch && c.threads == threads)
}

fn find_replay(cells: &[ReplayCell], payload_bytes: usize) -> Option<&ReplayCell> {
    cells.iter().find(|c| c.payload_bytes == payload_bytes)
}

/// One line of the encryption comparison.
#[derive(Debug, Clone, Copy)]
pub struct EncryptionRow {
    pub case: &'static str,
    pub unit: &'static str,
    pub unencrypted: f64,
    pub encrypted: f64,
    /// Throughput lost in percent (for a time: time added in percent).
    pub cost_pct: f64,
}

impl EncryptionRow {
    fn throughput(case: &'static str, unit: &'static str, plain: f64, encrypted: f64) -> Self {
        let cost_pct = if plain > 0.0 {
            (1.0 - encrypted / plain) * 100.0
        } else {
            f64::NAN
        };
        Self {
            case,
            unit,
            unencrypted: plain,
            encrypted,
            cost_pct,
        }
    }

    fn time(case: &'static str, unit: &'static str, plain: f64, encrypted: f64) -> Self {
        let cost_pct = if plain > 0.0 {
            (encrypted / plain - 1.0) * 100.0
        } else {
            f64::NAN
        };
        Self {
            case,
            unit,
            unencrypted: plain,
            encrypted,
            cost_pct,
        }
    }
}

pub const ENC_BATCH: &str = "batch durable, 1 thread";
pub const ENC_REPLAY_COLD: &str = "replay 4 KiB, cold";

/// The encryption comparison: each encrypted case against the same case unencrypted,
/// measured right before it.
pub fn encryption_rows(r: &Results) -> Vec<EncryptionRow> {
    let split = |encrypted: bool| -> Vec<AppendCell> {
        let cells = r.encryption_appends.iter();
        cells
            .filter(|c| c.config.encrypted == encrypted)
            .cloned()
            .collect()
    };
    let (plain, aes) = (split(false), split(true));
    let mut rows = Vec::new();
    if let (Some(p), Some(e)) = (find_durable(&plain, 64, 4096), find_durable(&aes, 64, 4096)) {
        let case = "durable 64 writers x 4 KiB";
        rows.push(EncryptionRow::throughput(
            case,
            "records/s",
            p.records_per_sec,
            e.records_per_sec,
        ));
    }
    if let (Some(p), Some(e)) = (find_batch(&plain, 1), find_batch(&aes, 1)) {
        let (p, e) = (p.payload_mb_per_sec, e.payload_mb_per_sec);
        rows.push(EncryptionRow::throughput(ENC_BATCH, "MB/s", p, e));
    }
    let replay = |encrypted: bool| {
        r.encryption_replay
            .iter()
            .find(|c| c.config.encrypted == encrypted)
    };
    if let (Some(p), Some(e)) = (replay(false), replay(true)) {
        let (pc, ec) = (p.cold.payload_mb_per_sec, e.cold.payload_mb_per_sec);
        rows.push(EncryptionRow::throughput(ENC_REPLAY_COLD, "MB/s", pc, ec));
        let (pw, ew) = (p.warm.payload_mb_per_sec, e.warm.payload_mb_per_sec);
        rows.push(EncryptionRow::throughput(
            "replay 4 KiB, warm",
            "MB/s",
            pw,
            ew,
        ));
        let (po, eo) = (
            p.open_verify.as_secs_f64() * 1e3,
            e.open_verify.as_secs_f64() * 1e3,
        );
        rows.push(EncryptionRow::time("open with verify (time)", "ms", po, eo));
    }
    rows
}

/// One goal with what was measured.
#[derive(Debug, Clone)]
pub struct Goal {
    pub key: &'static str,
    pub name: &'static str,
    pub measured: String,
    pub target: &'static str,
    pub value: f64,
    pub threshold: f64,
    pub pass: bool,
}

impl Goal {
    /// A goal; it passes only when `value` is finite and `pass` holds.
    pub fn new(
        key: &'static str,
        name: &'static str,
        target: &'static str,
        value: f64,
        threshold: f64,
        pass: bool,
        measured: String,
    ) -> Goal {
        Goal {
            key,
            name,
            measured,
            target,
            value,
            threshold,
            pass: value.is_finite() && pass,
        }
    }
}

pub fn goals(r: &Results) -> Vec<Goal> {
    let mut out = Vec::new();
    let mut goal = |key,
                    name,
                    target,
                    value: f64,
                    threshold: f64,
                    higher_is_better: bool,
                    measured: String| {
        let pass = if higher_is_better {
            value >= threshold
        } else {
            value < threshold
        };
        out.push(Goal::new(
            key, name, target, value, threshold, pass, measured,
        ));
    };
    let (one, many) = (
        find_durable(&r.durable, 1, 100),
        find_durable(&r.durable, 64, 100),
    );
    let (a, b) = (
        many.map_or(f64::NAN, |c| c.records_per_sec),
        one.map_or(f64::NAN, |c| c.records_per_sec),
    );
    goal(
        "durable_64_writers_vs_1_writer_100b",
        "64-writer vs 1-writer durable rate, 100 B",
        ">= 40x",
        a / b,
        40.0,
        true,
        format!(
            "{} vs {} appends/s = {}x",
            num(a, 0),
            num(b, 0),
            num(a / b, 1)
        ),
    );
    let batch1 = find_batch(&r.batch, 1).map_or(f64::NAN, |c| c.payload_mb_per_sec);
    let batch2 = find_batch(&r.batch, 2).map_or(f64::NAN, |c| c.payload_mb_per_sec);
    let raw = r.sequential.write_mb_per_sec;
    goal(
        "batch_vs_raw_sequential_write",
        "batch durable (1 thread) vs raw O_DIRECT sequential write",
        ">= 70%",
        batch1 / raw * 100.0,
        70.0,
        true,
        format!(
            "{} vs {} MB/s = {}% (2 threads: {}%)",
            num(batch1, 0),
            num(raw, 0),
            num(batch1 / raw * 100.0, 1),
            num(batch2 / raw * 100.0, 1)
        ),
    );
    let replay = find_replay(&r.replay, 4096).map_or(f64::NAN, |c| c.cold.payload_mb_per_sec);
    goal(
        "replay_4k_cold",
        "replay, 4 KiB records, cold cache",
        ">= 1000 MB/s",
        replay,
        1000.0,
        true,
        format!("{} MB/s", num(replay, 0)),
    );
    let rows = encryption_rows(r);
    let cost = |case: &str| {
        rows.iter()
            .find(|row| row.case == case)
            .map_or(f64::NAN, |row| row.cost_pct)
    };
    let (batch_cost, replay_cost) = (cost(ENC_BATCH), cost(ENC_REPLAY_COLD));
    goal(
        "encryption_cost_batch",
        "encryption cost, batch durable throughput",
        "< 25%",
        batch_cost,
        25.0,
        false,
        format!("{}%", num(batch_cost, 1)),
    );
    goal(
        "encryption_cost_replay",
        "encryption cost, replay 4 KiB cold",
        "< 25%",
        replay_cost,
        25.0,
        false,
        format!("{}%", num(replay_cost, 1)),
    );
    out
}

pub fn print_goals(goals: &[Goal]) {
    println!("\ngoals");
    let mut t = Table::new(&["goal", "measured", "target", "result"]);
    for g in goals {
        t.row(vec![
            g.name.into(),
            g.measured.clone(),
            g.target.into(),
            if g.pass { "PASS" } else { "MISS" }.into(),
        ]);
    }
    print!("{}", t.render());
    let passed = goals.iter().filter(|g| g.pass).count();
    println!("  {passed} of {} goals met", goals.len());
}
