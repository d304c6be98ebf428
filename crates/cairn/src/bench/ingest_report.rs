//! The report of `cairn bench ingest`: header, tables, goals and JSON.

use std::path::Path;

use super::ingest::{ArrowSource, Figures, RECOVERY_BUDGET_MIB, Results};
use super::ingest_csv::{BATCH_ROWS, CHANNEL_BATCHES, Inputs};
use super::ingest_phase::ONE_COLUMN;
use super::report::{Json, Table, num};
use super::wal_goals::Goal;
use super::{fs_magic, fs_name};

const LP_GOAL_ROWS_PER_SEC: f64 = 1.5e6;
const ARROW_GOAL_ROWS_PER_SEC: f64 = 3e6;
const RSS_GOAL_BYTES: f64 = 150.0 * 1024.0 * 1024.0;
const BYTES_PER_ROW_GOAL: f64 = 10.0;
const RECOVERY_GOAL_GB_PER_SEC: f64 = 1.0;

pub fn print_header(rows: usize, quick: bool, inputs: &Inputs, scratch: &Path) {
    println!("cairn bench ingest{}", if quick { " --quick" } else { "" });
    println!(
        "  rows:        {} DNS rows: {}",
        num(rows as f64, 0),
        inputs.origin
    );
    println!(
        "  inputs:      {} and {} (the same rows as line protocol)",
        inputs.csv.display(),
        inputs.lp.display()
    );
    let fs = fs_magic(scratch).map_or("unknown", fs_name);
    println!(
        "  directory:   {} ({fs}); every database is removed after its figures",
        scratch.display()
    );
    println!(
        "  cpus:        {} (load average at start: {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        super::report::load_average()
    );
    println!(
        "  schema:      ts TIME_KEY, client_ip/qname/qtype/rcode tags, cached BOOLEAN (a tag in \
         the line protocol), elapsed_ms DOUBLE; declared before ingest"
    );
    println!(
        "  options:     DbOptions::default() for ingest: durable writes (acknowledged once \
         fsynced), background flush and compaction, 64 MiB memory budget, 32 MiB memtables, \
         one-day partitions"
    );
    println!(
        "  processes:   each phase runs in a child process; peak RSS is its VmHWM, which \
         includes the input's buffers; CPU s is the process's CPU time (all threads), so \
         rows per CPU second does not depend on what else the machine runs"
    );
}

/// Bytes as MiB with two decimals.
fn mib(bytes: f64) -> String {
    if bytes.is_finite() {
        format!("{} MiB", num(bytes / 1048576.0, 2))
    } else {
        "-".into()
    }
}

fn rss(f: &Figures) -> String {
    mib(f.get("peak_rss_bytes"))
}

pub fn print_ingest(r: &Results) {
    println!(
        "\n1-2. ingest (rows/s; writes from the first to the last acknowledgement; then \
         checkpoint: flush, compact, truncate the WAL)"
    );
    let mut t = Table::new(&[
        "case",
        "rows/s writes",
        "rows/s incl. checkpoint",
        "writes s",
        "checkpoint s",
        "CPU s",
        "rows/CPU s",
        "peak RSS writes",
        "peak RSS",
        "WAL fsyncs",
        "files",
    ]);
    let mut row = |name: String, f: &Figures| {
        t.row(vec![
            name,
            num(f.write_rate(), 0),
            num(f.ingest_rate(), 0),
            num(f.get("write_secs"), 2),
            num(f.get("checkpoint_secs"), 2),
            num(f.get("cpu_secs"), 2),
            num(f.get("rows") / f.get("cpu_secs"), 0),
            mib(f.get("peak_rss_writes_bytes")),
            rss(f),
            num(f.get("wal_fsyncs"), 0),
            num(f.get("files"), 0),
        ]);
    };
    row(
        format!("line protocol, 1 thread, {BATCH_ROWS} lines per call"),
        &r.lp,
    );
    for (source, threads, f) in &r.arrow {
        row(
            format!("Arrow, {}, {threads} writer(s)", source_name(*source)),
            f,
        );
    }
    row("CSV -> batches only (no database)".into(), &r.csv);
    print!("{}", t.render());
    println!(
        "  line protocol: reading the file took {} s of the writes' {} s (the rest is \
         write_lines: parse, convert, log, fsync, apply)",
        num(r.lp.get("read_file_secs"), 2),
        num(r.lp.get("write_secs"), 2)
    );
    println!(
        "  Arrow: {BATCH_ROWS}-row batches from one reader thread, at most {CHANNEL_BATCHES} \
         batches ahead of the writers (peak RSS includes them). Pre-parsed: the CSV's batches \
         were encoded with the batch codec into a spill file before timing and the reader \
         decodes them (a near-memcpy): the engine's own rate. CSV parsed on the fly: parsing \
         shares the cores with the engine; the last row is parsing alone, their ceiling"
    );
    let l = &r.lp;
    let rows = l.get("rows");
    println!(
        "\n  on disk after the line-protocol checkpoint ({} rows in {} files):",
        num(rows, 0),
        num(l.get("files"), 0)
    );
    let mut d = Table::new(&["what", "allocated", "B/row", "file lengths", "B/row "]);
    let wal = (l.get("disk_wal_bytes"), l.get("disk_wal_len_bytes"));
    let all = (l.get("disk_bytes"), l.get("disk_len_bytes"));
    let mut drow = |name: &str, (alloc, len): (f64, f64)| {
        d.row(vec![
            name.into(),
            mib(alloc),
            num(alloc / rows, 2),
            mib(len),
            num(len / rows, 2),
        ]);
    };
    drow(
        "data directory without the WAL",
        (all.0 - wal.0, all.1 - wal.1),
    );
    drow("the WAL (preallocated segment)", wal);
    drow("data directory with the WAL", all);
    print!("{}", d.render());
}

pub fn print_scan(r: &Results) {
    let s = &r.scan;
    println!("\n3. scans of the line-protocol data (warm: best of 2 passes after 1 warm-up)");
    let mut t = Table::new(&["scan", "rows", "seconds", "rows/s"]);
    for (key, name) in [
        ("full", "all 7 columns".to_string()),
        ("one", format!("one column ({ONE_COLUMN})")),
    ] {
        let rows = s.get(&format!("{key}_rows"));
        let secs = s.get(&format!("{key}_secs"));
        t.row(vec![name, num(rows, 0), num(secs, 3), num(rows / secs, 0)]);
    }
    print!("{}", t.render());
}

pub fn print_recovery(r: &Results) {
    let w = &r.wal;
    let wal = w.get("wal_bytes_written");
    println!(
        "\n4. recovery: {} of WAL ({} rows, batches of 100,000) written with nothing flushed \
         (memory budget and memtable limits out of reach, no background thread) in {} s, \
         then dropped without close (a crash); Db::open replays it",
        mib(wal),
        num(w.get("rows"), 0),
        num(w.get("write_secs"), 1)
    );
    let mut t = Table::new(&[
        "replay",
        "open s",
        "GB/s of WAL",
        "rows/s",
        "CPU s",
        "GB/CPU s",
        "files written",
        "peak RSS",
    ]);
    for (label, f) in &r.recovery {
        let secs = f.get("open_secs");
        t.row(vec![
            (*label).into(),
            num(secs, 2),
            num(wal / secs / 1e9, 2),
            num(f.get("rows") / secs, 0),
            num(f.get("cpu_secs"), 2),
            num(wal / f.get("cpu_secs") / 1e9, 2),
            num(f.get("files"), 0),
            rss(f),
        ]);
    }
    print!("{}", t.render());
    println!(
        "  unbounded: replay keeps every row in memtables (RSS ~ the log). {RECOVERY_BUDGET_MIB} \
         MiB budget: replay flushes the largest memtable to a partition file whenever memory \
         passes the budget, as a restart with default options does; cold: the database's \
         files were dropped from the page cache first"
    );
}

fn source_name(s: ArrowSource) -> &'static str {
    match s {
        ArrowSource::PreParsed => "pre-parsed batches",
        ArrowSource::Csv => "CSV parsed on the fly",
    }
}

fn recovery_default(r: &Results) -> Option<&Figures> {
    r.recovery.iter().map(|(_, f)| f).nth(2)
}

pub fn goals(r: &Results) -> Vec<Goal> {
    let mut out = Vec::new();
    let mut goal = |key, name, target, value: f64, threshold: f64, pass: bool, measured| {
        out.push(Goal::new(
            key, name, target, value, threshold, pass, measured,
        ));
    };
    let lp = r.lp.ingest_rate();
    goal(
        "lp_rows_per_sec",
        "line protocol ingest incl. checkpoint",
        ">= 1.5M rows/s",
        lp,
        LP_GOAL_ROWS_PER_SEC,
        lp >= LP_GOAL_ROWS_PER_SEC,
        format!("{} rows/s", num(lp, 0)),
    );
    let (case, arrow) = r
        .arrow
        .iter()
        .map(|(s, t, f)| (format!("{}, {t} writers", source_name(*s)), f.ingest_rate()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or_default();
    goal(
        "arrow_rows_per_sec",
        "Arrow ingest incl. checkpoint (best case)",
        ">= 3M rows/s",
        arrow,
        ARROW_GOAL_ROWS_PER_SEC,
        arrow >= ARROW_GOAL_ROWS_PER_SEC,
        format!("{} rows/s ({case})", num(arrow, 0)),
    );
    let rss = std::iter::once(&r.lp)
        .chain(r.arrow.iter().map(|(_, _, f)| f))
        .map(|f| f.get("peak_rss_bytes"))
        .fold(f64::NAN, f64::max);
    goal(
        "ingest_peak_rss",
        "peak RSS of any ingest phase",
        "<= 150 MiB",
        rss,
        RSS_GOAL_BYTES,
        rss <= RSS_GOAL_BYTES,
        format!("{} MiB", num(rss / 1048576.0, 1)),
    );
    let bpr = (r.lp.get("disk_bytes") - r.lp.get("disk_wal_bytes")) / r.lp.get("rows");
    goal(
        "bytes_per_row",
        "bytes on disk per row (WAL excluded)",
        "<= 10",
        bpr,
        BYTES_PER_ROW_GOAL,
        bpr <= BYTES_PER_ROW_GOAL,
        format!("{} B/row", num(bpr, 2)),
    );
    let rec = recovery_default(r).map_or(f64::NAN, |f| {
        r.wal.get("wal_len_bytes") / f.get("open_secs") / 1e9
    });
    goal(
        "recovery_gb_per_sec",
        "recovery (64 MiB budget, cold)",
        ">= 1 GB/s",
        rec,
        RECOVERY_GOAL_GB_PER_SEC,
        rec >= RECOVERY_GOAL_GB_PER_SEC,
        format!("{} GB/s", num(rec, 2)),
    );
    out
}

fn figures_json(f: &Figures) -> Json {
    Json::Obj(
        f.0.iter()
            .map(|(k, v)| (k.clone(), Json::from(*v)))
            .collect(),
    )
}

pub fn to_json(r: &Results, goals: &[Goal]) -> Json {
    let mut phases = vec![
        ("lp".to_string(), figures_json(&r.lp)),
        ("csv_parse_only".to_string(), figures_json(&r.csv)),
        ("scan".to_string(), figures_json(&r.scan)),
        ("recovery_write".to_string(), figures_json(&r.wal)),
    ];
    for (source, threads, f) in &r.arrow {
        let source = match source {
            ArrowSource::PreParsed => "preparsed",
            ArrowSource::Csv => "csv",
        };
        phases.push((format!("arrow_{source}_{threads}_writers"), figures_json(f)));
    }
    for (label, f) in &r.recovery {
        phases.push((format!("recovery_open: {label}"), figures_json(f)));
    }
    Json::obj([
        ("benchmark", "ingest".into()),
        ("rows", r.rows.into()),
        ("quick", r.quick.into()),
        ("origin", r.inputs.origin.as_str().into()),
        ("phases", Json::Obj(phases)),
        (
            "goals",
            Json::Arr(
                goals
                    .iter()
                    .map(|g| {
                        Json::obj([
                            ("key", g.key.into()),
                            ("measured", g.measured.as_str().into()),
                            ("target", g.target.into()),
                            ("value", g.value.into()),
                            ("pass", g.pass.into()),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("elapsed_secs", r.elapsed.as_secs_f64().into()),
    ])
}
