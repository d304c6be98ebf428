//! Pre-parsed batches, for Arrow ingest figures without CSV parsing in them: the CSV's
//! batches are encoded once, before any timing, with the engine's batch codec into a spill
//! file; during the measurement a reader thread reads and decodes them (a near-memcpy) into a
//! bounded channel. Memory stays flat, as with the CSV reader, and the writers get the cores.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::mpsc::SyncSender;

use arrow_array::RecordBatch;
use cairn_engine::ColumnType;
use cairn_engine::batch_codec;

use super::ingest_csv::{BATCH_ROWS, BatchReader, dns_columns};
use crate::error::{CliError, Result};

/// The extension that makes [`BatchReader::spawn`] read a spill file instead of a CSV.
pub const SPILL_EXT: &str = "batches";
/// Largest record accepted when reading a spill file back.
const MAX_RECORD_BYTES: usize = 64 << 20;

/// Writes the first `rows` rows of `csv` as `BATCH_ROWS`-row records (each an 8-byte
/// little-endian length, then the batch codec's bytes). Returns the bytes written.
pub fn write(csv: &Path, rows: usize, out: &Path) -> Result<u64> {
    let reader = BatchReader::spawn(csv, rows, BATCH_ROWS, false)?;
    let types: Vec<ColumnType> = dns_columns().iter().map(|c| c.column_type).collect();
    let file = std::fs::File::create(out).map_err(CliError::io("create spill file", out))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut bytes = 0u64;
    while let Some(b) = reader.next() {
        buf.clear();
        batch_codec::encode(0, &b, &types, &mut buf)
            .map_err(|e| CliError::Invalid(format!("encoding a spill batch: {e}")))?;
        w.write_all(&(buf.len() as u64).to_le_bytes())
            .and_then(|()| w.write_all(&buf))
            .map_err(CliError::io("write spill file", out))?;
        bytes += 8 + buf.len() as u64;
    }
    reader.join()?;
    w.flush().map_err(CliError::io("write spill file", out))?;
    Ok(bytes)
}

/// Sends the batches of the spill file `path` until it ends or the receiver is gone.
pub fn read(path: &Path, tx: &SyncSender<RecordBatch>) -> Result<()> {
    let file = std::fs::File::open(path).map_err(CliError::io("open spill file", path))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut len = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(CliError::io("read spill file", path)(e)),
        }
        let n = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .filter(|&n| n <= MAX_RECORD_BYTES)
            .ok_or_else(|| CliError::Invalid(format!("{}: bad record length", path.display())))?;
        buf.resize(n, 0);
        r.read_exact(&mut buf)
            .map_err(CliError::io("read spill file", path))?;
        let decoded = batch_codec::decode(&buf)
            .map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))?;
        if tx.send(decoded.batch).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_batches_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("dns.csv");
        let mut text = format!("{}\n", super::super::ingest_csv::HEADER);
        for i in 0..25_000 {
            text.push_str(&format!(
                "2024-01-01 00:00:{:02}.{:03},10.0.0.{},q{}.com,A,NOERROR,{},{}.5\n",
                i / 1000 % 60,
                i % 1000,
                i % 250,
                i % 7,
                i % 2 == 0,
                i % 100
            ));
        }
        std::fs::write(&csv, text).unwrap();
        let spill = dir.path().join(format!("dns.{SPILL_EXT}"));
        assert!(write(&csv, 25_000, &spill).unwrap() > 25_000);
        let reader = BatchReader::spawn(&spill, usize::MAX, BATCH_ROWS, false).unwrap();
        let rows: Vec<usize> = std::iter::from_fn(|| reader.next())
            .map(|b| b.num_rows())
            .collect();
        reader.join().unwrap();
        assert_eq!(rows, [10_000, 10_000, 5_000]);
    }
}
