#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Engine scans on a real disk while everything else runs: concurrent writers, scanners and
//! maintenance, a scan's snapshot across compaction, and the memory budget under load.
//! `CAIRN_ENGINE_TEST_SCALE` multiplies the concurrency and memory workloads for long local
//! runs.

mod engine_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampNanosecondType};
use arrow_array::{Int64Array, StringArray, TimestampNanosecondArray};
use cairn_engine::{CollectionOptions, ColumnSpec, ColumnType, Db, DbOptions, ScanRequest};
use engine_common::mixed_metrics::{metric_rows, metrics, mix};
use engine_common::{
    HOUR, SEC, T0, all_rows, batch, metric_columns, opts, partition_files, render,
};

fn scale() -> usize {
    std::env::var("CAIRN_ENGINE_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// `(ts, v)` of every row, checked for torn rows (v == mix(ts)) and duplicates.
fn checked_ts(db: &Db, coll: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for b in db.scan(coll, &ScanRequest::default()).unwrap().batches {
        let ts = b
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>();
        let v = b.column_by_name("v").unwrap().as_primitive::<Int64Type>();
        for (t, v) in ts.values().iter().zip(v.values()) {
            assert_eq!(*v, mix(*t), "torn row at ts {t} in {coll}");
            out.push(*t);
        }
    }
    out.sort_unstable();
    let n = out.len();
    out.dedup();
    assert_eq!(out.len(), n, "duplicate rows in {coll}");
    out
}

/// Sets the flag when dropped, so that helper threads stop even when the test panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn concurrent_run(background: bool) {
    const WRITERS: usize = 4;
    let batches = 30 * scale();
    let rows = 200usize;
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        background,
        maintenance_interval: Duration::from_millis(5),
        compaction_min_files: 2,
        default_collection: CollectionOptions {
            partition_interval_ns: HOUR,
            memtable_max_bytes: 32 << 10,
            ..CollectionOptions::default()
        },
        ..DbOptions::default()
    };
    let db = Arc::new(Db::open(dir.path(), o.clone()).unwrap());
    for c in ["c0", "c1"] {
        db.create_collection(c, metric_columns(), None).unwrap();
    }
    // Writer w writes every 4th second, newest batches first for odd writers, so older
    // partitions keep receiving rows while they are flushed and compacted.
    let ts_of = |w: usize, seq: usize| -> Vec<i64> {
        (0..rows)
            .map(|j| T0 + (((seq * rows + j) * WRITERS + w) as i64) * SEC)
            .collect()
    };
    let done = AtomicBool::new(false);
    let maintenance_rounds = AtomicU64::new(0);
    let scans = AtomicU64::new(0);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let db = db.clone();
                s.spawn(move || {
                    for k in 0..batches {
                        let seq = if w % 2 == 1 { batches - 1 - k } else { k };
                        db.write(&format!("c{}", w % 2), &metrics(&ts_of(w, seq)))
                            .unwrap();
                    }
                })
            })
            .collect();
        s.spawn(|| {
            let mut last = [0usize; 2];
            while !done.load(Ordering::Acquire) {
                for (i, c) in ["c0", "c1"].iter().enumerate() {
                    let n = checked_ts(&db, c).len();
                    assert!(n >= last[i], "{c}: {n} rows after {}", last[i]);
                    last[i] = n;
                }
                scans.fetch_add(1, Ordering::Relaxed);
            }
        });
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                db.flush().unwrap();
                db.checkpoint().unwrap();
                maintenance_rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
        let _stop = StopOnDrop(&done);
        for w in writers {
            w.join().unwrap();
        }
    });
    assert!(scans.load(Ordering::Relaxed) > 0 && maintenance_rounds.load(Ordering::Relaxed) > 0);
    let expected = |c: usize| -> Vec<i64> {
        let mut v: Vec<i64> = (0..WRITERS)
            .filter(|w| w % 2 == c)
            .flat_map(|w| (0..batches).flat_map(move |seq| ts_of(w, seq)))
            .collect();
        v.sort_unstable();
        v
    };
    let check = |db: &Db| {
        for c in 0..2 {
            let name = format!("c{c}");
            assert_eq!(
                checked_ts(db, &name),
                expected(c),
                "{name}, background {background}"
            );
            let s = db.collection_stats(&name).unwrap();
            assert_eq!(s.file_rows + s.memtable_rows, (2 * batches * rows) as u64);
        }
    };
    check(&db);
    Arc::into_inner(db).unwrap().close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    check(&db);
}

#[test]
fn concurrent_writers_scans_and_maintenance_lose_nothing() {
    concurrent_run(false);
    concurrent_run(true);
}

#[test]
fn scan_keeps_its_snapshot_across_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.create_collection("s", metric_columns(), None).unwrap();
    let mut ts: Vec<i64> = Vec::new();
    for k in 0..4 {
        let part: Vec<i64> = (k * 1000..(k + 1) * 1000).map(|i| T0 + i * SEC).collect();
        db.write("s", &metrics(&part)).unwrap();
        db.flush().unwrap();
        ts.extend(part);
    }
    let in_memory: Vec<i64> = (4000..4500).map(|i| T0 + i * SEC).collect();
    db.write("s", &metrics(&in_memory)).unwrap();
    ts.extend(&in_memory);
    let before = all_rows(&db, "s");
    assert_eq!(before, metric_rows(&ts));
    let mut scan = db.scan_iter("s", &ScanRequest::default()).unwrap();
    let mut got = vec![scan.next().unwrap().unwrap()];
    // Written after the scan started: not part of its snapshot.
    db.write("s", &metrics(&[T0 + 9000 * SEC])).unwrap();
    db.checkpoint().unwrap();
    assert_eq!(db.collection_stats("s").unwrap().files, 1);
    // The four files the scan holds stay on disk next to the merged one.
    assert_eq!(partition_files(dir.path()).len(), 5);
    got.extend(scan.by_ref().map(Result::unwrap));
    assert_eq!(render(&got), before);
    drop(scan);
    assert_eq!(partition_files(dir.path()).len(), 1);
    ts.push(T0 + 9000 * SEC);
    assert_eq!(all_rows(&db, "s"), metric_rows(&ts));
}

#[test]
fn memory_budget_bounds_memtables_under_load() {
    let budget = 2usize << 20;
    let total_bytes = 50usize << 20;
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        memory_budget_bytes: budget,
        background: true,
        // No compaction: on the one maintenance thread it delays flushes, so in a debug
        // build it would dominate the run time (the budget is about flushing).
        compaction_min_files: usize::MAX,
        maintenance_interval: Duration::from_millis(20),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), o.clone()).unwrap();
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::field("v", ColumnType::I64),
        ColumnSpec::field("payload", ColumnType::String),
    ];
    db.create_collection("mb", columns, None).unwrap();
    let rows = 4096i64;
    let make = |k: i64| {
        let ts: Vec<i64> = (k * rows..(k + 1) * rows).map(|i| T0 + i * 1_000).collect();
        let payload: Vec<String> = ts.iter().map(|t| format!("{:032x}", mix(*t))).collect();
        batch(vec![
            (
                "ts",
                Arc::new(TimestampNanosecondArray::from(ts.clone()).with_timezone("UTC")),
            ),
            (
                "v",
                Arc::new(Int64Array::from_iter_values(ts.iter().map(|&t| mix(t)))),
            ),
            ("payload", Arc::new(StringArray::from(payload))),
        ])
    };
    let write_bytes = make(0).get_array_memory_size();
    let writes = (total_bytes * scale()).div_ceil(write_bytes) as i64;
    let done = AtomicBool::new(false);
    let peak = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(db.memory_used(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let _stop = StopOnDrop(&done);
        for k in 0..writes {
            db.write("mb", &make(k)).unwrap();
            peak.fetch_max(db.memory_used(), Ordering::Relaxed);
        }
    });
    let peak = peak.load(Ordering::Relaxed) as usize;
    eprintln!("write {write_bytes} bytes x {writes}; budget {budget}; peak {peak}");
    assert!(
        peak <= budget + write_bytes + write_bytes / 2,
        "peak {peak}"
    );
    let total_rows = (writes * rows) as usize;
    let check = |db: &Db| {
        let r = db.scan("mb", &ScanRequest::default()).unwrap();
        assert_eq!(r.num_rows(), total_rows);
        let mut sum = 0i64;
        for b in &r.batches {
            let ts = b.column(0).as_primitive::<TimestampNanosecondType>();
            let v = b.column(1).as_primitive::<Int64Type>();
            for (t, v) in ts.values().iter().zip(v.values()) {
                assert_eq!(*v, mix(*t));
                sum = sum.wrapping_add(*v);
            }
        }
        let want = (0..writes * rows).fold(0i64, |a, i| a.wrapping_add(mix(T0 + i * 1_000)));
        assert_eq!(sum, want);
    };
    check(&db);
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    check(&db);
}
