//! Counters the server keeps, rendered for Prometheus by `/metrics` together with the
//! engine's and the log's own counters.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_engine::Db;

/// Upper bounds (seconds) of the query-latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// The protocols clients arrive by, for per-protocol counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Pg,
    Http,
    Ilp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Pg, Protocol::Http, Protocol::Ilp];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Pg => "postgres",
            Protocol::Http => "http",
            Protocol::Ilp => "ilp",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    connections_open: [AtomicU64; 3],
    connections_total: [AtomicU64; 3],
    connections_refused: AtomicU64,
    rows_ingested: [AtomicU64; 3],
    lines_rejected: AtomicU64,
    queries: AtomicU64,
    query_errors: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_sum_us: AtomicU64,
}

/// Decrements the open-connection gauge when dropped.
#[derive(Debug)]
pub struct ConnectionGuard<'a> {
    metrics: &'a Metrics,
    protocol: Protocol,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.metrics.connections_open[self.protocol.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn connection(&self, p: Protocol) -> ConnectionGuard<'_> {
        self.connections_open[p.index()].fetch_add(1, Ordering::Relaxed);
        self.connections_total[p.index()].fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            metrics: self,
            protocol: p,
        }
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rows_ingested(&self, p: Protocol, rows: u64) {
        self.rows_ingested[p.index()].fetch_add(rows, Ordering::Relaxed);
    }

    pub fn lines_rejected(&self, lines: u64) {
        self.lines_rejected.fetch_add(lines, Ordering::Relaxed);
    }

    /// One query finished (successfully or not) after `elapsed`.
    pub fn query(&self, elapsed: Duration, ok: bool) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.query_errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_sum_us.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, db: &Db) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let per_protocol =
            |out: &mut String, name: &str, kind: &str, help: &str, v: &[AtomicU64; 3]| {
                header(out, name, kind, help);
                for p in Protocol::ALL {
                    let _w = writeln!(
                        out,
                        "{name}{{protocol=\"{}\"}} {}",
                        p.name(),
                        load(&v[p.index()])
                    );
                }
            };
        per_protocol(
            &mut out,
            "cairn_connections_open",
            "gauge",
            "Client connections open now.",
            &self.connections_open,
        );
        per_protocol(
            &mut out,
            "cairn_connections_total",
            "counter",
            "Client connections accepted.",
            &self.connections_total,
        );
        single(
            &mut out,
            "cairn_connections_refused_total",
            "counter",
            "Connections refused at the connection limit.",
            load(&self.connections_refused),
        );
        per_protocol(
            &mut out,
            "cairn_rows_ingested_total",
            "counter",
            "Rows written durably, by protocol.",
            &self.rows_ingested,
        );
        single(
            &mut out,
            "cairn_lines_rejected_total",
            "counter",
            "Line-protocol lines rejected as malformed.",
            load(&self.lines_rejected),
        );
        single(
            &mut out,
            "cairn_queries_total",
            "counter",
            "SQL statements run.",
            load(&self.queries),
        );
        single(
            &mut out,
            "cairn_query_errors_total",
            "counter",
            "SQL statements that failed.",
            load(&self.query_errors),
        );
        header(
            &mut out,
            "cairn_query_duration_seconds",
            "histogram",
            "SQL statement latency.",
        );
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let _w = writeln!(
                out,
                "cairn_query_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                load(count)
            );
        }
        let total = load(&self.queries);
        let _w = writeln!(
            out,
            "cairn_query_duration_seconds_bucket{{le=\"+Inf\"}} {total}"
        );
        let _w = writeln!(
            out,
            "cairn_query_duration_seconds_sum {}",
            load(&self.latency_sum_us) as f64 / 1e6
        );
        let _w = writeln!(out, "cairn_query_duration_seconds_count {total}");
        let wal = db.wal().stats();
        single(
            &mut out,
            "cairn_wal_fsyncs_total",
            "counter",
            "fdatasync calls of the write-ahead log.",
            load(&wal.fsyncs),
        );
        single(
            &mut out,
            "cairn_wal_bytes_written_total",
            "counter",
            "Bytes written to the write-ahead log.",
            load(&wal.bytes_written),
        );
        single(
            &mut out,
            "cairn_wal_records_total",
            "counter",
            "Records appended to the write-ahead log.",
            load(&wal.records_appended),
        );
        let c = db.counters();
        single(
            &mut out,
            "cairn_engine_rows_written_total",
            "counter",
            "Rows written to collections (all sources).",
            c.rows_written,
        );
        single(
            &mut out,
            "cairn_flushes_total",
            "counter",
            "Memtables flushed into partition files.",
            c.flushes,
        );
        single(
            &mut out,
            "cairn_flushed_rows_total",
            "counter",
            "Rows written by flushes.",
            c.flushed_rows,
        );
        single(
            &mut out,
            "cairn_flushed_bytes_total",
            "counter",
            "Partition-file bytes written by flushes.",
            c.flushed_bytes,
        );
        single(
            &mut out,
            "cairn_compactions_total",
            "counter",
            "Files written by compaction.",
            c.compactions,
        );
        single(
            &mut out,
            "cairn_memtable_bytes",
            "gauge",
            "Bytes held by memtables.",
            db.memory_used(),
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _w = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    header(out, name, kind, help);
    let _w = writeln!(out, "{name} {value}");
}
