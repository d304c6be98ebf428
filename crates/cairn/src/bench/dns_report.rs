//! The output of `cairn bench dns`: header, load line, the query table, and the JSON form.

use std::path::Path;

use super::dns::{CairnQuery, DnsData, LoadFigures, Results};
use super::dns_peers::PeerRun;
use super::report::{Json, Table, num};

/// cairn's version, as `cairn --version` prints it.
const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn print_header(
    rows: usize,
    repeat: usize,
    data: &DnsData,
    cores: usize,
    load_before: &str,
    scratch: &Path,
) {
    println!("cairn bench dns: the 10 DNS-telemetry queries, cairn against DuckDB and chDB");
    println!(
        "  data: {} ({} rows; answers from {}.expected.json)",
        data.csv.display(),
        num(rows as f64, 0),
        data.base.display()
    );
    println!("  machine: {cores} cores, load average at the start: {load_before}");
    println!(
        "  each query: best of {repeat} run(s); working in {}",
        scratch.display()
    );
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", num(bytes as f64 / f64::from(1 << 20), 1))
}

pub fn print_load(l: &LoadFigures) {
    let secs = (l.write + l.checkpoint).as_secs_f64();
    let data = l.disk_bytes.saturating_sub(l.wal_bytes);
    println!(
        "\nload into cairn (not the focus): {} rows as Arrow batches in {:.2} s (writes {:.2} s \
         + CHECKPOINT {:.2} s) = {} rows/s\n  on disk: {} without the WAL ({:.1} B/row) in {} \
         file(s), {} partition(s); WAL {} (preallocated)",
        num(l.rows as f64, 0),
        secs,
        l.write.as_secs_f64(),
        l.checkpoint.as_secs_f64(),
        num(l.rows as f64 / secs, 0),
        mib(data),
        data as f64 / l.rows.max(1) as f64,
        l.files,
        l.partitions,
        mib(l.wal_bytes),
    );
}

fn ms(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v < 10.0 {
        num(v, 2)
    } else {
        num(v, 1)
    }
}

/// The best time of the peers that ran `id`, NaN if none did.
fn best_peer(peers: &[PeerRun], id: &str) -> f64 {
    peers
        .iter()
        .filter_map(|p| p.query(id))
        .map(|(t, _)| t)
        .fold(f64::NAN, f64::min)
}

fn ratio(cairn: f64, peer: f64) -> String {
    if cairn.is_finite() && peer.is_finite() && peer > 0.0 {
        format!("{:.2}×", cairn / peer)
    } else {
        "-".into()
    }
}

fn answer(q: &CairnQuery) -> &'static str {
    match (&q.error, q.ok()) {
        (Some(_), _) => "ERROR",
        (None, true) => "ok",
        (None, false) => "MISMATCH",
    }
}

pub fn print_table(r: &Results) {
    let names: Vec<&str> = r.peers.iter().map(|p| p.peer.name()).collect();
    // The table right-aligns every column but the first: pad the labels to look left-aligned.
    let width = r
        .queries
        .iter()
        .map(|q| q.spec.label.chars().count())
        .max()
        .unwrap_or(0);
    let label = |text: &str| format!("{text:<width$}");
    let mut headers: Vec<String> = vec!["query".into(), label("label"), "cairn ms".into()];
    headers.extend(names.iter().map(|n| format!("{n} ms")));
    if !r.peers.is_empty() {
        headers.push("cairn ÷ best peer".into());
    }
    let mut engines = vec!["cairn"];
    engines.extend(&names);
    headers.push(format!("answers ({})", engines.join("/")));
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut t = Table::new(&header_refs);
    let mut totals = vec![0.0; 1 + r.peers.len()];
    for q in &r.queries {
        let id = q.spec.id.as_str();
        let mut cells = vec![id.to_string(), label(&q.spec.label), ms(q.best_ms())];
        totals[0] += q.best_ms();
        let mut answers = vec![answer(q)];
        for (i, p) in r.peers.iter().enumerate() {
            let got = p.query(id);
            cells.push(ms(got.map_or(f64::NAN, |g| g.0)));
            totals[i + 1] += got.map_or(f64::NAN, |g| g.0);
            answers.push(match got {
                Some((_, true)) => "ok",
                Some((_, false)) => "MISMATCH",
                None => "n/a",
            });
        }
        if !r.peers.is_empty() {
            cells.push(ratio(q.best_ms(), best_peer(&r.peers, id)));
        }
        cells.push(answers.join("/"));
        t.row(cells);
    }
    let mut total_row = vec!["all".to_string(), label("sum of the best times")];
    total_row.extend(totals.iter().map(|&v| ms(v)));
    if !r.peers.is_empty() {
        let best = totals[1..].iter().copied().fold(f64::NAN, f64::min);
        total_row.push(ratio(totals[0], best));
    }
    t.row(total_row);
    println!(
        "\nqueries: {} rows, best of {} run(s), wall-clock ms (÷ < 1: cairn faster)",
        num(r.rows as f64, 0),
        r.repeat
    );
    print!("{}", t.render());
    println!(
        "  cairn returns Arrow batches (time = planning + execution + collecting the batches, \
         in process);\n  the peers' times include converting results to Python rows \
         (DuckDB fetchall, chDB TabSeparated text split into lists)."
    );
    let mut versions = vec![format!("cairn {VERSION}")];
    for p in &r.peers {
        match &p.skipped {
            Some(why) => versions.push(format!("{}: not run ({why})", p.peer.name())),
            None => versions.push(p.text("version").to_string()),
        }
    }
    println!("  versions: {}", versions.join("; "));
    println!(
        "  machine: {} cores; load average before: {}, after: {}",
        r.cores, r.load_before, r.load_after
    );
    for p in r.peers.iter().filter(|p| p.skipped.is_none()) {
        println!(
            "  {} load (not the focus): {} in {:.2} s = {} rows/s, {} MiB on disk",
            p.peer.name(),
            p.text("path"),
            p.num("ingest_s"),
            num(p.num("rows_per_s"), 0),
            num(p.num("disk_mib"), 1)
        );
    }
    let bad = r.queries.iter().filter(|q| !q.ok()).count();
    if bad > 0 {
        println!("\n!!! {bad} of cairn's answers are wrong or failed: see MISMATCH / ERROR above");
    }
}

pub fn to_json(r: &Results) -> Json {
    let l = &r.load;
    let queries = r
        .queries
        .iter()
        .map(|q| {
            let mut peers = Vec::new();
            for p in &r.peers {
                if let Some((best, matched)) = p.query(&q.spec.id) {
                    peers.push((
                        p.peer.name().to_string(),
                        Json::obj([("best_ms", best.into()), ("match", matched.into())]),
                    ));
                }
            }
            Json::obj([
                ("id", q.spec.id.as_str().into()),
                ("label", q.spec.label.as_str().into()),
                ("sql", q.spec.text.as_str().into()),
                ("cairn_best_ms", q.best_ms().into()),
                (
                    "cairn_runs_ms",
                    Json::Arr(q.runs_ms.iter().map(|&v| v.into()).collect()),
                ),
                ("cairn_rows", q.rows.into()),
                ("cairn_checksum", q.checksum.as_deref().unwrap_or("").into()),
                ("cairn_error", q.error.as_deref().unwrap_or("").into()),
                ("expected_rows", q.expected_rows.into()),
                ("expected_checksum", q.expected_checksum.as_str().into()),
                ("cairn_match", q.ok().into()),
                ("peers", Json::Obj(peers)),
                ("cairn_over_best_peer", {
                    let best = best_peer(&r.peers, &q.spec.id);
                    (q.best_ms() / best).into()
                }),
            ])
        })
        .collect();
    let peers = r
        .peers
        .iter()
        .map(|p| {
            Json::obj([
                ("name", p.peer.name().into()),
                ("skipped", p.skipped.as_deref().unwrap_or("").into()),
                ("result", p.result.clone()),
            ])
        })
        .collect();
    Json::obj([
        ("benchmark", "dns".into()),
        ("cairn_version", VERSION.into()),
        ("rows", r.rows.into()),
        ("repeat", r.repeat.into()),
        ("quick", r.quick.into()),
        ("csv", r.data.csv.display().to_string().as_str().into()),
        ("cores", r.cores.into()),
        ("load_before", r.load_before.as_str().into()),
        ("load_after", r.load_after.as_str().into()),
        (
            "cairn_load",
            Json::obj([
                ("rows", l.rows.into()),
                ("write_secs", l.write.as_secs_f64().into()),
                ("checkpoint_secs", l.checkpoint.as_secs_f64().into()),
                (
                    "rows_per_sec",
                    (l.rows as f64 / (l.write + l.checkpoint).as_secs_f64()).into(),
                ),
                ("disk_bytes", l.disk_bytes.into()),
                (
                    "disk_bytes_without_wal",
                    l.disk_bytes.saturating_sub(l.wal_bytes).into(),
                ),
                ("wal_bytes", l.wal_bytes.into()),
                ("files", l.files.into()),
                ("partitions", l.partitions.into()),
            ]),
        ),
        ("queries", Json::Arr(queries)),
        ("peers", Json::Arr(peers)),
        (
            "cairn_mismatches",
            r.queries.iter().filter(|q| !q.ok()).count().into(),
        ),
    ])
}
