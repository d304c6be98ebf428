//! The DNS rows of `cairn bench ingest` as files and as Arrow batches: the CSV of
//! `shared/bench/gen_dns.py` (found or generated as `cairn bench codec` does), the same rows
//! as line protocol, and a reader thread that parses the CSV into `RecordBatch`es on the fly
//! (a bounded channel keeps memory flat: the rows are never all in memory).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use cairn_engine::batch_codec::arrow_type;
use cairn_engine::{ColumnSpec, ColumnType};

use super::codec_dns::{self, DnsSource};
use super::datasets::{Dataset, Values};
use crate::error::{CliError, Result};

pub const HEADER: &str = "ts,client_ip,qname,qtype,rcode,cached,elapsed_ms";
/// The collection every phase writes.
pub const COLLECTION: &str = "dns";
/// Rows per Arrow batch and lines per `write_lines` call.
pub const BATCH_ROWS: usize = 10_000;
/// Batches the reader thread may run ahead of the writers.
pub const CHANNEL_BATCHES: usize = 8;
const NS_PER_DAY: i64 = 86_400_000_000_000;

/// The declared schema: ts TIME_KEY, four string tags, `cached` BOOLEAN (a tag in the line
/// protocol, converted on ingest), `elapsed_ms` DOUBLE.
pub fn dns_columns() -> Vec<ColumnSpec> {
    vec![
        ColumnSpec::time_key("ts"),
        ColumnSpec::tag("client_ip"),
        ColumnSpec::tag("qname"),
        ColumnSpec::tag("qtype"),
        ColumnSpec::tag("rcode"),
        ColumnSpec::field("cached", ColumnType::Bool),
        ColumnSpec::field("elapsed_ms", ColumnType::F64),
    ]
}

/// The Arrow schema of the batches: exactly the engine's types, so a write casts nothing.
pub fn arrow_schema() -> SchemaRef {
    let fields: Vec<Field> = dns_columns()
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.column_type), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The CSV and LP files of one run, and where they came from.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub csv: PathBuf,
    pub lp: PathBuf,
    pub origin: String,
}

/// Finds or makes the CSV (as `cairn bench codec` does: `--dns-csv`, else
/// `<data_dir>/dns_<rows>.csv` generated with python3, else DNS-like rows generated in Rust
/// into `scratch`) and the LP file beside it (`.lp`; converted from the CSV if missing).
pub fn prepare_inputs(source: &DnsSource, rows: usize, scratch: &Path) -> Result<Inputs> {
    let (csv, lp_dir, origin) = match source {
        DnsSource::Csv(path) => (
            path.clone(),
            scratch.to_path_buf(),
            format!("{} (first {rows} rows)", path.display()),
        ),
        DnsSource::Cached { data_dir } => {
            let path = data_dir.join(format!("dns_{rows}.csv"));
            if path.is_file() || codec_dns::generate_csv(data_dir, rows).is_ok() {
                (
                    path.clone(),
                    data_dir.clone(),
                    format!("{} (gen_dns.py)", path.display()),
                )
            } else {
                eprintln!("note: python3 or gen_dns.py unavailable; generating DNS-like rows");
                let data = codec_dns::generate_in_rust(rows, "python3 or gen_dns.py missing");
                let path = scratch.join(format!("dns_{rows}.csv"));
                write_csv(&data, &path)?;
                (path, scratch.to_path_buf(), data.origin)
            }
        }
    };
    let sibling = csv.with_extension("lp");
    let lp = if sibling.is_file() {
        sibling
    } else {
        let stem = csv
            .file_stem()
            .map_or("dns".into(), |s| s.to_string_lossy());
        let lp = lp_dir.join(format!("{stem}.lp"));
        if !lp.is_file() {
            super::report::progress("converting the CSV to line protocol");
            csv_to_lp(&csv, &lp)?;
        }
        lp
    };
    Ok(Inputs { csv, lp, origin })
}

/// One parsed CSV row (fields borrowed from the line).
struct Row<'a> {
    ts_ns: i64,
    strings: [&'a str; 4],
    cached: bool,
    elapsed: &'a str,
}

fn parse_row(line: &[u8]) -> Option<Row<'_>> {
    let text = std::str::from_utf8(line.trim_ascii_end()).ok()?;
    let mut f = text.split(',');
    let ts_ns = codec_dns::parse_ts_ns(f.next()?.as_bytes())?;
    let strings = [f.next()?, f.next()?, f.next()?, f.next()?];
    if strings.iter().any(|s| s.contains('"')) {
        return None;
    }
    let cached = match f.next()? {
        "true" => true,
        "false" => false,
        _ => return None,
    };
    let elapsed = f.next()?;
    f.next().is_none().then_some(Row {
        ts_ns,
        strings,
        cached,
        elapsed,
    })
}

/// Opens the CSV and checks its header.
fn open_csv(path: &Path) -> Result<BufReader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(CliError::io("open DNS CSV", path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(CliError::io("read DNS CSV", path))?;
    if header.trim_end() != HEADER {
        return Err(CliError::Invalid(format!(
            "{}: expected the header {HEADER:?}",
            path.display()
        )));
    }
    Ok(reader)
}

fn bad_line(path: &Path, n: u64) -> CliError {
    CliError::Invalid(format!("{}: line {n}: not a DNS row", path.display()))
}

/// Writes the CSV's rows as gen_dns.py's line protocol (tags sorted, ns timestamps): the
/// same bytes the script writes for the same rows.
fn csv_to_lp(csv: &Path, lp: &Path) -> Result<()> {
    let mut reader = open_csv(csv)?;
    let tmp = lp.with_extension("lp.tmp");
    let file = std::fs::File::create(&tmp).map_err(CliError::io("create LP file", &tmp))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut n = 1;
    loop {
        line.clear();
        n += 1;
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(CliError::io("read DNS CSV", csv))?;
        if read == 0 {
            break;
        }
        let r = parse_row(&line).ok_or_else(|| bad_line(csv, n))?;
        let [ip, qname, qtype, rcode] = r.strings;
        writeln!(
            out,
            "dns,cached={},client_ip={ip},qname={qname},qtype={qtype},rcode={rcode} \
             elapsed_ms={} {}",
            r.cached, r.elapsed, r.ts_ns
        )
        .map_err(CliError::io("write LP file", &tmp))?;
    }
    out.flush().map_err(CliError::io("write LP file", &tmp))?;
    drop(out);
    std::fs::rename(&tmp, lp).map_err(CliError::io("rename LP file", lp))
}

/// Writes rows generated in Rust as a CSV in gen_dns.py's format.
fn write_csv(data: &Dataset, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(CliError::io("create DNS CSV", path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let io = |e: std::io::Error| CliError::io("write DNS CSV", path)(e);
    writeln!(out, "{HEADER}").map_err(io)?;
    let col = |i: usize| &data.columns[i].values;
    let (Values::Timestamp(ts), Values::Bool(cached), Values::F64(elapsed)) =
        (col(0), col(5), col(6))
    else {
        return Err(CliError::Invalid("unexpected DNS column types".into()));
    };
    for (row, &t) in ts.iter().enumerate() {
        write!(out, "{}", ts_text(t)).map_err(io)?;
        for c in 1..=4 {
            if let Values::Str(s) = col(c) {
                write!(out, ",{}", String::from_utf8_lossy(s.get(row))).map_err(io)?;
            }
        }
        writeln!(out, ",{},{:.3}", cached.get(row), elapsed[row]).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// Nanoseconds since the epoch as 'YYYY-MM-DD HH:MM:SS.mmm' (UTC).
fn ts_text(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = cairn_server::csv::civil_from_days(days);
    let s = ms_of_day / 1000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

/// Builds one batch at a time.
struct BatchBuilder {
    schema: SchemaRef,
    ts: TimestampNanosecondBuilder,
    strings: [StringBuilder; 4],
    cached: BooleanBuilder,
    elapsed: Float64Builder,
    rows: usize,
}

impl BatchBuilder {
    fn new(rows: usize) -> Self {
        Self {
            schema: arrow_schema(),
            ts: TimestampNanosecondBuilder::with_capacity(rows),
            strings: std::array::from_fn(|_| StringBuilder::with_capacity(rows, rows * 16)),
            cached: BooleanBuilder::with_capacity(rows),
            elapsed: Float64Builder::with_capacity(rows),
            rows: 0,
        }
    }

    fn push(&mut self, r: &Row<'_>, shift_ns: i64) -> Option<()> {
        self.ts.append_value(r.ts_ns + shift_ns);
        for (b, s) in self.strings.iter_mut().zip(r.strings) {
            b.append_value(s);
        }
        self.cached.append_value(r.cached);
        self.elapsed.append_value(r.elapsed.parse().ok()?);
        self.rows += 1;
        Some(())
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.ts.finish().with_timezone("UTC"))];
        arrays.extend(
            self.strings
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        arrays.push(Arc::new(self.cached.finish()));
        arrays.push(Arc::new(self.elapsed.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| CliError::Invalid(format!("building a DNS batch: {e}")))
    }
}

/// A thread parsing the CSV into batches, shared by any number of consumers.
pub struct BatchReader {
    batches: Mutex<Receiver<RecordBatch>>,
    handle: JoinHandle<Result<()>>,
}

impl BatchReader {
    /// Reads at most `rows` rows in batches of `batch_rows`; with `repeat`, starts the file
    /// over (timestamps one day later each pass) until the reader is joined. A spill file
    /// (`ingest_spill`) is read as it was written instead.
    pub fn spawn(csv: &Path, rows: usize, batch_rows: usize, repeat: bool) -> Result<Self> {
        let (tx, rx) = sync_channel(CHANNEL_BATCHES);
        let path = csv.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("csv-reader".into())
            .spawn(move || {
                if path
                    .extension()
                    .is_some_and(|e| e == super::ingest_spill::SPILL_EXT)
                {
                    super::ingest_spill::read(&path, &tx)
                } else {
                    read_batches(&path, rows, batch_rows, repeat, &tx)
                }
            })
            .map_err(CliError::io("start the CSV reader", csv))?;
        Ok(Self {
            batches: Mutex::new(rx),
            handle,
        })
    }

    /// The next batch (any number of threads may call this); `None` once all are read.
    pub fn next(&self) -> Option<RecordBatch> {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv()
            .ok()
    }

    /// Stops reading (with `repeat`) and waits for the thread; its error if it failed.
    pub fn join(self) -> Result<()> {
        drop(self.batches);
        self.handle.join().map_err(|_| CliError::ThreadPanicked)?
    }
}

fn read_batches(
    path: &Path,
    rows: usize,
    batch_rows: usize,
    repeat: bool,
    tx: &SyncSender<RecordBatch>,
) -> Result<()> {
    let mut b = BatchBuilder::new(batch_rows);
    for pass in 0.. {
        let mut reader = open_csv(path)?;
        let mut line = Vec::new();
        let mut n = 1u64;
        for _ in 0..rows {
            line.clear();
            n += 1;
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(CliError::io("read DNS CSV", path))?;
            if read == 0 {
                break;
            }
            let row = parse_row(&line).ok_or_else(|| bad_line(path, n))?;
            b.push(&row, pass * NS_PER_DAY)
                .ok_or_else(|| bad_line(path, n))?;
            if b.rows == batch_rows && tx.send(b.finish()?).is_err() {
                return Ok(());
            }
        }
        if b.rows > 0 && tx.send(b.finish()?).is_err() {
            return Ok(());
        }
        if !repeat || n == 2 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_back_to_text() {
        for text in ["2024-01-01 00:00:00.000", "2024-03-01 12:34:56.789"] {
            let ns = codec_dns::parse_ts_ns(text.as_bytes()).unwrap();
            assert_eq!(ts_text(ns), text);
        }
    }

    #[test]
    fn csv_becomes_line_protocol_and_batches() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("dns_3.csv");
        std::fs::write(
            &csv,
            format!(
                "{HEADER}\n2024-01-01 00:00:00.000,10.0.0.1,a.com,A,NOERROR,true,0.319\n\
                 2024-01-01 00:00:00.008,10.0.0.2,b.io,AAAA,SERVFAIL,false,512.500\n\
                 2024-01-01 00:00:00.016,10.0.0.3,c.io,MX,NOERROR,false,7.250\n"
            ),
        )
        .unwrap();
        let lp = dir.path().join("dns_3.lp");
        csv_to_lp(&csv, &lp).unwrap();
        let text = std::fs::read_to_string(&lp).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            "dns,cached=true,client_ip=10.0.0.1,qname=a.com,qtype=A,rcode=NOERROR \
             elapsed_ms=0.319 1704067200000000000"
        );
        assert_eq!(text.lines().count(), 3);
        let reader = BatchReader::spawn(&csv, 2, BATCH_ROWS, true).unwrap();
        let batches: Vec<RecordBatch> = (0..3).map_while(|_| reader.next()).collect();
        reader.join().unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 6);
        assert_eq!(batches[0].schema(), arrow_schema());
    }
}
