//! The JSON form of a `cairn bench wal` run (`--json PATH`).

use super::Percentiles;
use super::report::Json;
use super::wal::{BATCH_RECORDS, Results};
use super::wal_cells::{AppendCell, ReplayCell, ReplayPass};
use super::wal_goals::{Goal, encryption_rows};

fn latency_json(p: &Percentiles) -> Json {
    Json::obj([
        ("p50_us", p.p50_us.into()),
        ("p99_us", p.p99_us.into()),
        ("max_us", p.max_us.into()),
    ])
}

fn append_json(c: &AppendCell) -> Json {
    Json::obj([
        ("kind", c.kind.key().into()),
        ("backend", c.io_path.backend.name().into()),
        ("direct_io", c.io_path.direct_io.into()),
        ("encrypted", c.config.encrypted.into()),
        ("threads", c.threads.into()),
        ("payload_bytes", c.payload_bytes.into()),
        ("records_per_call", c.records_per_call.into()),
        ("calls", c.calls.into()),
        ("records", c.records.into()),
        ("payload_total_bytes", c.payload_total_bytes.into()),
        ("elapsed_sec", c.elapsed.as_secs_f64().into()),
        ("records_per_sec", c.records_per_sec.into()),
        ("calls_per_sec", c.calls_per_sec.into()),
        ("payload_mb_per_sec", c.payload_mb_per_sec.into()),
        ("written_mb_per_sec", c.written_mb_per_sec.into()),
        ("latency", latency_json(&c.latency)),
        ("fsyncs", c.fsyncs.into()),
        ("records_per_fsync", c.records_per_fsync.into()),
        ("final_sync_ms", (c.final_sync.as_secs_f64() * 1e3).into()),
        ("cpu_pct", c.cpu_pct.into()),
    ])
}

fn replay_json(c: &ReplayCell) -> Json {
    let pass = |p: &ReplayPass| {
        Json::obj([
            ("elapsed_sec", p.elapsed.as_secs_f64().into()),
            ("payload_mb_per_sec", p.payload_mb_per_sec.into()),
            ("records_per_sec", p.records_per_sec.into()),
        ])
    };
    Json::obj([
        ("payload_bytes", c.payload_bytes.into()),
        ("encrypted", c.config.encrypted.into()),
        ("records", c.records.into()),
        ("payload_total_bytes", c.payload_total_bytes.into()),
        ("log_bytes", c.log_bytes.into()),
        ("segments", c.segments.into()),
        ("fill_sec", c.fill_elapsed.as_secs_f64().into()),
        (
            "open_no_verify_ms",
            (c.open_fast.as_secs_f64() * 1e3).into(),
        ),
        ("open_verify_ms", (c.open_verify.as_secs_f64() * 1e3).into()),
        (
            "open_verify_records_scanned",
            c.open_verify_records_scanned.into(),
        ),
        ("cold", pass(&c.cold)),
        ("warm", pass(&c.warm)),
    ])
}

pub fn to_json(r: &Results, goals: &[Goal]) -> Json {
    let m = &r.machine;
    let appends = |cells: &[AppendCell]| Json::Arr(cells.iter().map(append_json).collect());
    let seq = &r.sequential;
    Json::obj([
        ("benchmark", "cairn bench wal".into()),
        ("version", env!("CARGO_PKG_VERSION").into()),
        ("quick", r.plan.quick.into()),
        ("seconds_per_cell", r.plan.duration.as_secs_f64().into()),
        (
            "max_payload_bytes_per_cell",
            r.plan.max_payload_bytes.into(),
        ),
        ("batch_records", BATCH_RECORDS.into()),
        (
            "machine",
            Json::obj([
                ("dir", Json::str(m.dir.display().to_string())),
                ("fs", m.fs_name.into()),
                ("fs_magic", m.fs_magic.into()),
                ("tmpfs", m.tmpfs.into()),
                ("o_direct", m.o_direct.into()),
                ("io_uring", m.io_uring.into()),
                ("auto_backend", m.auto_backend.name().into()),
                ("cpus", m.cpus.into()),
                ("load_average_start", Json::str(m.load_average.clone())),
            ]),
        ),
        (
            "raw_sync",
            Json::Arr(
                r.sync_loops
                    .iter()
                    .map(|s| {
                        Json::obj([
                            ("file", s.prefill.key().into()),
                            ("direct_io", s.direct.into()),
                            ("block_bytes", s.block_bytes.into()),
                            ("file_bytes", s.file_bytes.into()),
                            ("ops", s.ops.into()),
                            ("elapsed_sec", s.elapsed.as_secs_f64().into()),
                            ("ops_per_sec", s.ops_per_sec.into()),
                            ("mb_per_sec", s.mb_per_sec.into()),
                            ("latency", latency_json(&s.latency)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "raw_sequential",
            Json::obj([
                ("direct_io", seq.direct.into()),
                ("total_bytes", seq.total_bytes.into()),
                ("chunk_bytes", seq.chunk_bytes.into()),
                ("write_mb_per_sec", seq.write_mb_per_sec.into()),
                ("read_cold_mb_per_sec", seq.read_mb_per_sec.into()),
            ]),
        ),
        ("durable", appends(&r.durable)),
        ("batch", appends(&r.batch)),
        ("buffered", append_json(&r.buffered)),
        (
            "replay",
            Json::Arr(r.replay.iter().map(replay_json).collect()),
        ),
        ("backends", appends(&r.backends)),
        ("direct_io", appends(&r.direct_io)),
        (
            "cipher_alone",
            Json::obj([
                ("record_bytes", r.cipher.record_bytes.into()),
                ("total_bytes", r.cipher.total_bytes.into()),
                ("encrypt_sec", r.cipher.encrypt_elapsed.as_secs_f64().into()),
                ("encrypt_mb_per_sec", r.cipher.encrypt_mb_per_sec.into()),
                (
                    "encrypt_mb_per_cpu_sec",
                    r.cipher.encrypt_mb_per_cpu_sec.into(),
                ),
                ("decrypt_sec", r.cipher.decrypt_elapsed.as_secs_f64().into()),
                ("decrypt_mb_per_sec", r.cipher.decrypt_mb_per_sec.into()),
                (
                    "decrypt_mb_per_cpu_sec",
                    r.cipher.decrypt_mb_per_cpu_sec.into(),
                ),
            ]),
        ),
        ("encryption_appends", appends(&r.encryption_appends)),
        (
            "encryption_replay",
            Json::Arr(r.encryption_replay.iter().map(replay_json).collect()),
        ),
        (
            "encryption_cost",
            Json::Arr(
                encryption_rows(r)
                    .into_iter()
                    .map(|row| {
                        Json::obj([
                            ("case", row.case.into()),
                            ("unit", row.unit.into()),
                            ("unencrypted", row.unencrypted.into()),
                            ("encrypted", row.encrypted.into()),
                            ("cost_pct", row.cost_pct.into()),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "goals",
            Json::Arr(
                goals
                    .iter()
                    .map(|g| {
                        Json::obj([
                            ("key", g.key.into()),
                            ("goal", g.name.into()),
                            ("target", g.target.into()),
                            ("value", g.value.into()),
                            ("threshold", g.threshold.into()),
                            ("measured", Json::str(g.measured.clone())),
                            ("pass", g.pass.into()),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "notes",
            Json::Arr(r.notes.iter().map(|n| Json::str(n.clone())).collect()),
        ),
        ("elapsed_sec", r.elapsed.as_secs_f64().into()),
        ("load_average_end", Json::str(super::report::load_average())),
    ])
}
