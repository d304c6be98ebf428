//! The printed report, the goals and the JSON of `cairn bench codec`.

use std::path::Path;

use super::codec::{Plan, Results};
use super::codec_columns::{ColumnFigures, DECODE_PASSES, PAGE_ROWS, ZSTD_LEVEL};
use super::codec_forced::{
    FLOAT_DECODE_GOAL_MB_PER_SEC, Forced, INT_DECODE_GOAL_MB_PER_SEC, Purpose,
};
use super::codec_partition::{PartitionFigures, SCAN_PASSES};
use super::datasets::Dataset;
use super::report::{Json, Table, num, size};
use super::wal_goals::Goal;
use super::{mb_per_sec, per_sec};

pub fn print_header(plan: &Plan, dir: &Path, dns: &Dataset) {
    println!(
        "cairn bench codec{}",
        if plan.quick { " --quick" } else { "" }
    );
    println!("  rows:        {} per data set", num(dns.rows() as f64, 0));
    println!("  dns rows:    {}", dns.origin);
    println!(
        "  directory:   {} (data sets kept in {}; partition files removed after the run)",
        dir.display(),
        plan.data_dir.display()
    );
    println!(
        "  cpus:        {} (every figure is one thread; load average at start: {})",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        super::report::load_average()
    );
    println!(
        "  pages:       {} rows, default encode options (codec chosen per page by sampling)",
        num(PAGE_ROWS as f64, 0)
    );
    println!(
        "  MB:          10^6 bytes of raw values: 8 B per i64/f64, 1 B per bool, string bytes \
         + 4 B offset per string"
    );
    println!(
        "  timing:      encode one pass; decode best of {DECODE_PASSES} passes over all pages \
         (decode_page), single thread"
    );
    println!(
        "  strings:     stored as the partition writer does: a dictionary page + code pages \
         (bytes include the dictionary); decode yields codes + dictionary"
    );
    println!(
        "  baseline:    zstd level {ZSTD_LEVEL}, one frame over the column's raw values \
         (i64/f64 little-endian, bools 1 byte each, strings newline-joined)"
    );
}

pub fn print_columns(data: &Dataset, figures: &[ColumnFigures], forced: &[Forced]) {
    let letter = if data.name == "dns" { "a" } else { "b" };
    println!(
        "\n1{letter}. columns of {} ({} rows); ours vs zstd-{ZSTD_LEVEL} of the raw values",
        data.name,
        num(data.rows() as f64, 0)
    );
    let mut t = Table::new(&[
        "column",
        "type",
        "codec (pages)",
        "bytes",
        "B/value",
        "enc MB/s",
        "dec MB/s",
        "zstd bytes",
        "zstd B/v",
        "zstd enc",
        "zstd dec",
        "ours/zstd",
        "",
    ]);
    let mine: Vec<&ColumnFigures> = figures.iter().filter(|f| f.dataset == data.name).collect();
    for f in &mine {
        t.row(vec![
            f.column.clone(),
            f.value_type.into(),
            f.chain.clone(),
            size(f.encoded_bytes),
            num(f.bytes_per_value(), 3),
            num(f.encode_mb_per_sec(), 0),
            num(f.decode_mb_per_sec(), 0),
            size(f.zstd_bytes),
            num(f.zstd_bytes_per_value(), 3),
            num(f.zstd_encode_mb_per_sec(), 0),
            num(f.zstd_decode_mb_per_sec(), 0),
            num(f.ratio(), 3),
            if f.ratio() < 1.0 { "WIN" } else { "LOSS" }.into(),
        ]);
    }
    let ours: u64 = mine.iter().map(|f| f.encoded_bytes).sum();
    let zstd: u64 = mine.iter().map(|f| f.zstd_bytes).sum();
    let rows = data.rows().max(1) as f64;
    t.row(vec![
        "all columns".into(),
        String::new(),
        String::new(),
        size(ours),
        num(ours as f64 / rows, 3),
        String::new(),
        String::new(),
        size(zstd),
        num(zstd as f64 / rows, 3),
        String::new(),
        String::new(),
        num(ours as f64 / zstd.max(1) as f64, 3),
        String::new(),
    ]);
    print!("{}", t.render());
    println!("  (B/value of 'all columns' is bytes per row)");
    print_forced(figures, forced);
}

/// Columns that miss a goal: the chain the chooser picked vs the forced chain found.
fn print_forced(figures: &[ColumnFigures], forced: &[Forced]) {
    if forced.is_empty() {
        return;
    }
    println!(
        "  diagnostic (not a figure): columns that miss a goal, every leaf x outer forced on all \
         data pages"
    );
    let mut t = Table::new(&[
        "column",
        "chosen",
        "bytes",
        "dec MB/s",
        "forced",
        "bytes",
        "dec MB/s",
        "vs zstd",
        "looked for",
    ]);
    for x in forced {
        let Some(f) = figures.iter().find(|f| f.column == x.column) else {
            continue;
        };
        t.row(vec![
            x.column.clone(),
            f.chain.clone(),
            size(f.encoded_bytes),
            num(f.decode_mb_per_sec(), 0),
            x.chain.clone(),
            size(x.bytes),
            x.decode_mb_per_sec.map_or("-".into(), |d| num(d, 0)),
            num(x.bytes as f64 / f.zstd_bytes.max(1) as f64, 3),
            match x.purpose {
                Purpose::Smallest => "smallest",
                Purpose::MeetsDecodeGoal => "smallest meeting the decode goal",
            }
            .into(),
        ]);
    }
    print!("{}", t.render());
}

pub fn print_partition(p: &PartitionFigures) {
    println!(
        "\n2. partition file (dns: {} rows, {} columns; write_partition with default options, \
         page_rows {})",
        num(p.rows as f64, 0),
        p.columns,
        num(PAGE_ROWS as f64, 0)
    );
    let mut t = Table::new(&["case", "time ms", "MB/s", "rows/s"]);
    let mut line = |case: &str, d: std::time::Duration| {
        t.row(vec![
            case.into(),
            num(d.as_secs_f64() * 1e3, 1),
            num(mb_per_sec(p.raw_bytes, d), 0),
            num(per_sec(p.rows as f64, d), 0),
        ]);
    };
    line("write (encode, write, fsync, rename)", p.plain.write);
    line(
        &format!("full scan, warm (open + read_column x 7, best of {SCAN_PASSES})"),
        p.plain.scan_warm,
    );
    if let Some(cold) = p.scan_cold {
        line("full scan, cold (one pass)", cold);
    }
    line("encrypted: write", p.encrypted.write);
    line("encrypted: full scan, warm", p.encrypted.scan_warm);
    print!("{}", t.render());
    println!("  MB = raw values ({}); {}", size(p.raw_bytes), p.cold_note);
    let per_column: Vec<String> = p
        .plain
        .scan_columns
        .iter()
        .map(|(name, d)| format!("{name} {}", num(d.as_secs_f64() * 1e3, 1)))
        .collect();
    println!(
        "  warm scan, read_column ms per column: {}",
        per_column.join(", ")
    );
    println!(
        "  file: {} bytes = {} bytes/row (goal <= 10); encrypted file: {} bytes",
        num(p.plain.file_bytes as f64, 0),
        num(p.bytes_per_row(), 2),
        num(p.encrypted.file_bytes as f64, 0)
    );
    let o = &p.one_column;
    println!(
        "  one-column read (CountingSource): open: {} reads, {} bytes (footer {} + tail 14); \
         read_column({}): {} reads, {} bytes; {}'s dictionary + pages: {} bytes",
        o.open_reads,
        num(o.open_bytes as f64, 0),
        num(o.footer_bytes as f64, 0),
        o.column,
        o.column_reads,
        num(o.column_bytes as f64, 0),
        o.column,
        num(o.stored_bytes as f64, 0),
    );
    println!(
        "  bytes read outside {}'s ranges, the footer and the tail: {} by the open, \
         {} by read_column",
        o.column,
        num(o.open_other_bytes as f64, 0),
        num(o.column_other_bytes as f64, 0)
    );
    println!(
        "  touched only {}'s pages and the footer: {}",
        o.column,
        if o.only_its_pages_and_footer() {
            "yes"
        } else {
            "no"
        }
    );
}

/// The slowest decode among columns of `value_type`: (MB/s, "dataset.column").
fn slowest(r: &Results, value_type: &str) -> (f64, String) {
    r.columns
        .iter()
        .filter(|f| f.value_type == value_type)
        .map(|f| (f.decode_mb_per_sec(), format!("{}.{}", f.dataset, f.column)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap_or((f64::NAN, "none".into()))
}

pub fn goals(r: &Results) -> Vec<Goal> {
    let mut out = Vec::new();
    let mut goal = |key, name, target, value: f64, threshold: f64, pass: bool, measured| {
        out.push(Goal::new(
            key, name, target, value, threshold, pass, measured,
        ));
    };
    let (int, int_col) = slowest(r, "timestamp");
    goal(
        "int_decode",
        "int/timestamp decode, one core (slowest column)",
        ">= 2000 MB/s",
        int,
        INT_DECODE_GOAL_MB_PER_SEC,
        int >= INT_DECODE_GOAL_MB_PER_SEC,
        format!("{} MB/s ({int_col})", num(int, 0)),
    );
    let (float, float_col) = slowest(r, "f64");
    goal(
        "float_decode",
        "float decode, one core (slowest column)",
        ">= 1000 MB/s",
        float,
        FLOAT_DECODE_GOAL_MB_PER_SEC,
        float >= FLOAT_DECODE_GOAL_MB_PER_SEC,
        format!("{} MB/s ({float_col})", num(float, 0)),
    );
    let losses: Vec<&ColumnFigures> = r.columns.iter().filter(|f| f.ratio() >= 1.0).collect();
    let worst = losses.iter().max_by(|a, b| a.ratio().total_cmp(&b.ratio()));
    goal(
        "smaller_than_zstd3",
        "smaller than zstd-3 on every column",
        "0 losses",
        losses.len() as f64,
        0.0,
        losses.is_empty(),
        format!(
            "{} of {} columns smaller{}",
            r.columns.len() - losses.len(),
            r.columns.len(),
            worst.map_or(String::new(), |f| format!(
                "; worst {}.{} {}x",
                f.dataset,
                f.column,
                num(f.ratio(), 2)
            ))
        ),
    );
    let bpr = r.partition.bytes_per_row();
    goal(
        "dns_bytes_per_row",
        "DNS partition file bytes per row",
        "<= 10",
        bpr,
        10.0,
        bpr <= 10.0,
        format!("{} B/row", num(bpr, 2)),
    );
    let o = &r.partition.one_column;
    goal(
        "one_column_read",
        "one-column read touches only its pages + footer",
        "0 other bytes",
        o.other_bytes() as f64,
        0.0,
        o.only_its_pages_and_footer(),
        format!(
            "{} bytes outside (open {}, column {})",
            num(o.other_bytes() as f64, 0),
            num(o.open_other_bytes as f64, 0),
            num(o.column_other_bytes as f64, 0)
        ),
    );
    out
}

pub use super::wal_goals::print_goals;

fn column_json(f: &ColumnFigures) -> Json {
    Json::obj([
        ("dataset", f.dataset.into()),
        ("column", f.column.as_str().into()),
        ("type", f.value_type.into()),
        ("codec", f.chain.as_str().into()),
        ("rows", f.rows.into()),
        ("pages", f.pages.into()),
        (
            "dictionary_entries",
            f.dictionary_entries.map_or(Json::Num(f64::NAN), Json::from),
        ),
        ("raw_bytes", f.raw_bytes.into()),
        ("encoded_bytes", f.encoded_bytes.into()),
        ("bytes_per_value", f.bytes_per_value().into()),
        ("encode_mb_per_sec", f.encode_mb_per_sec().into()),
        ("decode_mb_per_sec", f.decode_mb_per_sec().into()),
        ("zstd3_bytes", f.zstd_bytes.into()),
        ("zstd3_encode_mb_per_sec", f.zstd_encode_mb_per_sec().into()),
        ("zstd3_decode_mb_per_sec", f.zstd_decode_mb_per_sec().into()),
        ("ratio_to_zstd3", f.ratio().into()),
    ])
}

fn partition_json(p: &PartitionFigures) -> Json {
    let secs = |d: std::time::Duration| Json::from(d.as_secs_f64());
    let o = &p.one_column;
    Json::obj([
        ("rows", p.rows.into()),
        ("raw_bytes", p.raw_bytes.into()),
        ("file_bytes", p.plain.file_bytes.into()),
        ("bytes_per_row", p.bytes_per_row().into()),
        ("write_secs", secs(p.plain.write)),
        ("scan_warm_secs", secs(p.plain.scan_warm)),
        (
            "scan_warm_column_secs",
            Json::Obj(
                p.plain
                    .scan_columns
                    .iter()
                    .map(|(name, d)| (name.clone(), secs(*d)))
                    .collect(),
            ),
        ),
        (
            "scan_cold_secs",
            p.scan_cold.map_or(Json::Num(f64::NAN), secs),
        ),
        ("encrypted_file_bytes", p.encrypted.file_bytes.into()),
        ("encrypted_write_secs", secs(p.encrypted.write)),
        ("encrypted_scan_warm_secs", secs(p.encrypted.scan_warm)),
        (
            "one_column_read",
            Json::obj([
                ("column", o.column.into()),
                ("open_reads", o.open_reads.into()),
                ("open_bytes", o.open_bytes.into()),
                ("column_reads", o.column_reads.into()),
                ("column_bytes", o.column_bytes.into()),
                ("stored_bytes", o.stored_bytes.into()),
                ("footer_bytes", o.footer_bytes.into()),
                ("open_other_bytes", o.open_other_bytes.into()),
                ("column_other_bytes", o.column_other_bytes.into()),
            ]),
        ),
    ])
}

pub fn to_json(r: &Results, goals: &[Goal]) -> Json {
    Json::obj([
        ("benchmark", "codec".into()),
        ("rows", r.plan.rows.into()),
        ("quick", r.plan.quick.into()),
        (
            "datasets",
            Json::Arr(
                r.origins
                    .iter()
                    .map(|(name, origin)| {
                        Json::obj([("name", (*name).into()), ("origin", origin.as_str().into())])
                    })
                    .collect(),
            ),
        ),
        (
            "columns",
            Json::Arr(r.columns.iter().map(column_json).collect()),
        ),
        (
            "forced_diagnostics",
            Json::Arr(
                r.forced
                    .iter()
                    .map(|x| {
                        Json::obj([
                            ("dataset", x.dataset.into()),
                            ("column", x.column.as_str().into()),
                            (
                                "purpose",
                                match x.purpose {
                                    Purpose::Smallest => "smallest",
                                    Purpose::MeetsDecodeGoal => "meets_decode_goal",
                                }
                                .into(),
                            ),
                            ("chain", x.chain.as_str().into()),
                            ("bytes", x.bytes.into()),
                            (
                                "decode_mb_per_sec",
                                x.decode_mb_per_sec.map_or(Json::Num(f64::NAN), Json::from),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("partition", partition_json(&r.partition)),
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
                            ("pass", g.pass.into()),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("elapsed_secs", r.elapsed.as_secs_f64().into()),
    ])
}
