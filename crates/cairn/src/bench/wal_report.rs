//! The printed report, the goals and the JSON of `cairn bench wal`.

use std::io::IsTerminal;

use super::Percentiles;
use super::raw::{Sequential, SyncLoop};
use super::report::{Table, num, size};
use super::wal::{Machine, Plan, Results};
use super::wal_cells::{AppendCell, AppendKind, ReplayCell};
use super::wal_goals::encryption_rows;

pub fn print_header(plan: &Plan, machine: &Machine) {
    println!(
        "cairn bench wal{}",
        if plan.quick { " --quick" } else { "" }
    );
    println!(
        "  directory:   {} ({}, statfs magic {:#x})",
        machine.dir.display(),
        machine.fs_name,
        machine.fs_magic
    );
    println!(
        "  O_DIRECT:    {}",
        if machine.o_direct {
            "supported"
        } else {
            "NOT supported (raw tests use the page cache)"
        }
    );
    println!(
        "  io_uring:    {} (backend auto = {})",
        if machine.io_uring {
            "available"
        } else {
            "not available"
        },
        machine.auto_backend
    );
    println!(
        "  cpus:        {} (load average at start: {})",
        machine.cpus, machine.load_average
    );
    println!(
        "  each cell:   {:.1} s or {} of payload, whichever comes first; fresh WAL directory",
        plan.duration.as_secs_f64(),
        size(plan.max_payload_bytes)
    );
    println!("  WAL options: defaults (64 MiB preallocated segments, O_DIRECT auto, backend auto)");
    println!(
        "  units:       MB = 10^6 bytes; latencies per call; 'disk MB/s' counts frames + padding"
    );
    if machine.tmpfs {
        let warning = "WARNING: the benchmark directory is on tmpfs. fdatasync is a no-op there and \
                       O_DIRECT alignment is not enforced: these figures say nothing about a disk. \
                       Use --dir on a real disk file system.";
        if !std::io::stdout().is_terminal() {
            eprintln!("\n!!! {warning} !!!\n");
        }
        println!("\n  !!! {warning} !!!");
    }
}

fn lat(p: &Percentiles) -> [String; 2] {
    [num(p.p50_us, 1), num(p.p99_us, 1)]
}

pub fn print_raw(sync_loops: &[SyncLoop], seq: &Sequential) {
    let mode = if seq.direct { "O_DIRECT" } else { "page cache" };
    println!("\n1. raw pwrite + fdatasync ({mode}, sequential offsets): the commit-rate limit");
    let mut t = Table::new(&[
        "file", "write", "ops", "ops/s", "MB/s", "p50 µs", "p99 µs", "max µs",
    ]);
    for s in sync_loops {
        let [p50, p99] = lat(&s.latency);
        t.row(vec![
            s.prefill.label().into(),
            size(s.block_bytes as u64),
            num(s.ops as f64, 0),
            num(s.ops_per_sec, 0),
            num(s.mb_per_sec, 1),
            p50,
            p99,
            num(s.latency.max_us, 1),
        ]);
    }
    print!("{}", t.render());
    println!(
        "\n2. raw sequential bandwidth (fresh file, {} chunks)",
        size(seq.chunk_bytes as u64)
    );
    let mut t = Table::new(&["test", "size", "time ms", "MB/s"]);
    t.row(vec![
        format!("write ({mode}) + one fdatasync"),
        size(seq.total_bytes),
        num(seq.write_elapsed.as_secs_f64() * 1e3, 1),
        num(seq.write_mb_per_sec, 0),
    ]);
    t.row(vec![
        "read back (page cache, evicted first)".into(),
        size(seq.total_bytes),
        num(seq.read_elapsed.as_secs_f64() * 1e3, 1),
        num(seq.read_mb_per_sec, 0),
    ]);
    print!("{}", t.render());
}

fn case_label(c: &AppendCell) -> String {
    match c.kind {
        AppendKind::Durable => "durable".into(),
        AppendKind::Batch => format!(
            "batch {}x{}",
            c.records_per_call,
            size(c.payload_bytes as u64)
        ),
        AppendKind::Buffered => "buffered+sync".into(),
    }
}

fn io_label(c: &AppendCell) -> String {
    format!(
        "{}{}{}",
        c.io_path.backend,
        if c.io_path.direct_io {
            " O_DIRECT"
        } else {
            " page-cache"
        },
        if c.config.encrypted { " AES" } else { "" }
    )
}

pub fn print_appends(title: &str, cells: &[AppendCell]) {
    println!("\n{title}");
    let mut t = Table::new(&[
        "case",
        "io path",
        "threads",
        "payload",
        "records/s",
        "MB/s",
        "disk MB/s",
        "p50 µs",
        "p99 µs",
        "fsyncs",
        "records/fsync",
        "CPU %",
    ]);
    for c in cells {
        let [p50, p99] = if c.kind == AppendKind::Buffered {
            ["-".into(), "-".into()]
        } else {
            lat(&c.latency)
        };
        t.row(vec![
            case_label(c),
            io_label(c),
            c.threads.to_string(),
            size(c.payload_bytes as u64),
            num(c.records_per_sec, 0),
            num(c.payload_mb_per_sec, 1),
            num(c.written_mb_per_sec, 1),
            p50,
            p99,
            num(c.fsyncs as f64, 0),
            num(c.records_per_fsync, 1),
            num(c.cpu_pct, 0),
        ]);
    }
    print!("{}", t.render());
    for c in cells.iter().filter(|c| c.kind == AppendKind::Buffered) {
        println!(
            "  ({} appends in {:.2} s including the final sync of {:.1} ms)",
            num(c.calls as f64, 0),
            c.elapsed.as_secs_f64(),
            c.final_sync.as_secs_f64() * 1e3
        );
    }
}

fn replay_label(c: &ReplayCell) -> String {
    format!(
        "{} records{}",
        size(c.payload_bytes as u64),
        if c.config.encrypted { ", AES" } else { "" }
    )
}

pub fn print_replay(title: &str, cells: &[ReplayCell]) {
    println!("\n{title}");
    let mut t = Table::new(&[
        "log",
        "records",
        "payload",
        "replay cold MB/s",
        "cold records/s",
        "warm MB/s",
        "warm records/s",
    ]);
    for c in cells {
        t.row(vec![
            replay_label(c),
            num(c.records as f64, 0),
            size(c.payload_total_bytes),
            num(c.cold.payload_mb_per_sec, 0),
            num(c.cold.records_per_sec, 0),
            num(c.warm.payload_mb_per_sec, 0),
            num(c.warm.records_per_sec, 0),
        ]);
    }
    print!("{}", t.render());
    let mut t = Table::new(&[
        "log",
        "segments",
        "log MB",
        "fill MB/s",
        "open ms (no verify)",
        "open ms (verify)",
        "records verified",
    ]);
    for c in cells {
        t.row(vec![
            replay_label(c),
            c.segments.to_string(),
            num(c.log_bytes as f64 / 1e6, 1),
            num(
                c.payload_total_bytes as f64 / 1e6 / c.fill_elapsed.as_secs_f64(),
                0,
            ),
            num(c.open_fast.as_secs_f64() * 1e3, 1),
            num(c.open_verify.as_secs_f64() * 1e3, 1),
            num(c.open_verify_records_scanned as f64, 0),
        ]);
    }
    print!("{}", t.render());
    println!(
        "  cold = page cache evicted (posix_fadvise DONTNEED) first; warm = the same log again;\n  \
         fill = append_batch of ~1 MiB then close; opens are cold; open always scans the last segment"
    );
}

pub fn print_encryption(r: &Results) {
    println!(
        "\n8. encryption (AES-256-GCM, KeyRing::new(1, [7; 32])): each case unencrypted, then encrypted"
    );
    let c = &r.cipher;
    println!(
        "  the cipher alone (ring, 1 thread, {} records + 168 B AAD, {}):\n    \
         encrypt {} MB/s ({} MB per CPU-second), decrypt {} MB/s ({} MB per CPU-second)",
        size(c.record_bytes as u64),
        size(c.total_bytes),
        num(c.encrypt_mb_per_sec, 0),
        num(c.encrypt_mb_per_cpu_sec, 0),
        num(c.decrypt_mb_per_sec, 0),
        num(c.decrypt_mb_per_cpu_sec, 0)
    );
    let mut t = Table::new(&["case", "unit", "unencrypted", "encrypted", "cost %"]);
    for row in encryption_rows(r) {
        t.row(vec![
            row.case.into(),
            row.unit.into(),
            num(row.unencrypted, 1),
            num(row.encrypted, 1),
            num(row.cost_pct, 1),
        ]);
    }
    print!("{}", t.render());
    println!("  cost = throughput lost (time added for the open); negative = within noise");
    print_appends("  the cells", &r.encryption_appends);
    print_replay("  the replays", &r.encryption_replay);
}

pub fn print_notes(notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    println!("\nnotes");
    for n in notes {
        println!("  - {n}");
    }
}
