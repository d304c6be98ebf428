//! `cairn __crash-child` (hidden): a writer that exists to be killed. `tests/kill9.rs` starts
//! it on a data directory, reads its stdout, SIGKILLs it at a random moment and then checks
//! what recovery finds. Background maintenance runs with tiny memory, memtable and WAL
//! segment limits, so flushes, manifest replacements, compactions, WAL rollovers and
//! truncations are in flight whenever the kill lands.
//!
//! Protocol, one line each on stdout, flushed before going on:
//! - `ready` once the database is open and the collection exists;
//! - `write <first_id> <n>` before writing ids `first_id .. first_id + n`;
//! - `ack <first_id> <n>` once that write returned, i.e. is durable.
//!
//! A further thread calls `checkpoint` (flush + compact everything) every ~`--checkpoint-ms`.
//!
//! Rows of collection [`COLLECTION`]: `id` BIGINT, `ts` = [`T0_NS`] + id * [`ID_STEP_NS`] (so a
//! large batch spans two 1 s time partitions), `payload` STRING = [`payload`]`(id)`. The test
//! keeps its own copy of these definitions. Ids are unique across writers (one counter).
//! The child exits on the first error (status 1), when stdout is closed (the parent is gone) and after
//! `--max-seconds`, so a failed test never leaves a writer running.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cairn_engine::{
    CollectionOptions, ColumnSpec, ColumnType, Db, DbOptions, EngineError, SortOrder,
};
use cairn_wal::WalOptions;
use clap::Args;

use crate::error::{CliError, Result};

pub const COLLECTION: &str = "crash";
pub const T0_NS: i64 = 1_704_067_200_000_000_000;
/// Timestamp step per id: 10,000 ids per 1 s partition.
pub const ID_STEP_NS: i64 = 100_000;

/// The payload of row `id` (its length varies with the id).
pub fn payload(id: i64) -> String {
    format!("payload-{id}-{}", "x".repeat((id % 17) as usize))
}

/// Options of `cairn __crash-child`.
#[derive(Debug, Args)]
pub struct CrashChildArgs {
    /// The data directory (created if missing).
    #[arg(long, value_name = "PATH")]
    pub dir: PathBuf,
    /// The first id to write (ids are 1-based and never reused by the test).
    #[arg(long, default_value_t = 1)]
    pub start_id: u64,
    /// Writer threads.
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// Seed of the batch sizes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also call `checkpoint` (flush + compact everything) about this often, beside the
    /// background maintenance; 0: never.
    #[arg(long, default_value_t = 150)]
    pub checkpoint_ms: u64,
    /// Exit after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub max_seconds: u64,
}

/// Engine options that keep maintenance busy.
fn db_options() -> DbOptions {
    DbOptions {
        wal: WalOptions {
            segment_target_bytes: 1 << 20,
            ..WalOptions::default()
        },
        memory_budget_bytes: 512 << 10,
        background: true,
        maintenance_interval: Duration::from_millis(10),
        compaction_min_files: 3,
        ..DbOptions::default()
    }
}

fn collection_options() -> CollectionOptions {
    CollectionOptions {
        partition_interval_ns: 1_000_000_000,
        memtable_max_bytes: 32 << 10,
        memtable_max_age_ms: 100,
        allow_new_columns: false,
        sort: SortOrder::Time,
        ..CollectionOptions::default()
    }
}

fn engine(context: &'static str) -> impl FnOnce(EngineError) -> CliError {
    move |e| CliError::Invalid(format!("{context}: {e}"))
}

pub fn run(args: &CrashChildArgs) -> Result<()> {
    let db = Db::open(&args.dir, db_options()).map_err(engine("open"))?;
    let columns = vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::field("id", ColumnType::I64),
        ColumnSpec::field("payload", ColumnType::String),
    ];
    match db.create_collection(COLLECTION, columns, Some(collection_options())) {
        Ok(_) | Err(EngineError::AlreadyExists { .. }) => {}
        Err(e) => return Err(engine("create collection")(e)),
    }
    say(format_args!("ready"))?;
    let next_id = AtomicU64::new(args.start_id);
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let schema = row_schema();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.writers.max(1))
            .map(|t| {
                let (db, next_id, schema) = (&db, &next_id, schema.clone());
                let seed = args.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                s.spawn(move || exit_on_error(write_loop(db, next_id, &schema, seed, deadline)))
            })
            .collect();
        let checkpoints = s.spawn(|| exit_on_error(checkpoint_loop(&db, args, deadline)));
        handles
            .into_iter()
            .chain(std::iter::once(checkpoints))
            .map(|h| h.join().unwrap_or(Err(CliError::ThreadPanicked)))
            .collect()
    });
    results.into_iter().collect::<Result<Vec<()>>>()?;
    db.close().map_err(engine("close"))
}

/// Ends the process on a thread's error: the other threads would go on writing, and the
/// parent, which kills the child anyway, would never see it.
fn exit_on_error(r: Result<()>) -> Result<()> {
    if let Err(e) = &r {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    r
}

fn write_loop(
    db: &Db,
    next_id: &AtomicU64,
    schema: &SchemaRef,
    seed: u64,
    deadline: Instant,
) -> Result<()> {
    let mut rng = seed;
    while Instant::now() < deadline {
        let n = batch_rows(splitmix64(&mut rng));
        let first = next_id.fetch_add(n, Ordering::Relaxed);
        let batch = rows(schema, first as i64, n as usize)?;
        say(format_args!("write {first} {n}"))?;
        db.write(COLLECTION, &batch).map_err(engine("write"))?;
        say(format_args!("ack {first} {n}"))?;
    }
    Ok(())
}

fn checkpoint_loop(db: &Db, args: &CrashChildArgs, deadline: Instant) -> Result<()> {
    if args.checkpoint_ms == 0 {
        return Ok(());
    }
    let mut rng = args.seed;
    while Instant::now() < deadline {
        let ms = args.checkpoint_ms / 2 + splitmix64(&mut rng) % args.checkpoint_ms.max(1);
        std::thread::sleep(Duration::from_millis(ms));
        db.checkpoint().map_err(engine("checkpoint"))?;
    }
    Ok(())
}

/// Mostly small writes, some large ones that span two partitions.
fn batch_rows(r: u64) -> u64 {
    match r % 100 {
        0..70 => 1 + (r >> 8) % 32,
        70..95 => 33 + (r >> 8) % 480,
        _ => 513 + (r >> 8) % 3500,
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn row_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]))
}

fn rows(schema: &SchemaRef, first: i64, n: usize) -> Result<RecordBatch> {
    let ids: Vec<i64> = (first..first + n as i64).collect();
    let ts: Vec<i64> = ids.iter().map(|&i| T0_NS + i * ID_STEP_NS).collect();
    let payloads: Vec<String> = ids.iter().map(|&i| payload(i)).collect();
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampNanosecondArray::from(ts).with_timezone("UTC")) as ArrayRef,
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(payloads)),
        ],
    )
    .map_err(|e| CliError::Invalid(format!("build batch: {e}")))
}

/// One protocol line, flushed; fails once the parent has closed the pipe.
fn say(line: std::fmt::Arguments<'_>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(CliError::io("write to stdout", std::path::Path::new("-")))
}
