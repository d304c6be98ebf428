//! In-memory rows of one time partition of one collection: immutable Arrow chunks, appended
//! in LSN order. A snapshot for a scan clones the chunk list (reference counts only). Small
//! chunks are merged as they accumulate so that many tiny writes do not leave many tiny
//! arrays behind.

use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::convert::conform;
use crate::error::{EngineError, Result};

/// Chunks below this many rows are merged with their small neighbours.
const SMALL_CHUNK_ROWS: usize = 4096;

#[derive(Debug)]
pub struct Memtable {
    pub partition: i64,
    pub chunks: Vec<RecordBatch>,
    pub rows: usize,
    pub bytes: usize,
    /// LSN of the first record applied (recovery must replay from here).
    pub first_lsn: u64,
    pub created: Instant,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Trailing chunks below `SMALL_CHUNK_ROWS` rows.
    small_tail: usize,
}

impl Memtable {
    pub fn new(partition: i64, first_lsn: u64) -> Self {
        Self {
            partition,
            chunks: Vec::new(),
            rows: 0,
            bytes: 0,
            first_lsn,
            created: Instant::now(),
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            small_tail: 0,
        }
    }

    /// Appends a chunk; returns the change in bytes held.
    pub fn push(&mut self, chunk: RecordBatch, min_ts: i64, max_ts: i64) -> Result<isize> {
        let before = self.bytes;
        let rows = chunk.num_rows();
        self.rows += rows;
        self.min_ts = self.min_ts.min(min_ts);
        self.max_ts = self.max_ts.max(max_ts);
        self.bytes += chunk.get_array_memory_size();
        self.chunks.push(chunk);
        if rows < SMALL_CHUNK_ROWS {
            self.small_tail += 1;
            let tail_rows: usize = self.chunks[self.chunks.len() - self.small_tail..]
                .iter()
                .map(RecordBatch::num_rows)
                .sum();
            if self.small_tail >= 16 && tail_rows >= SMALL_CHUNK_ROWS / 4 {
                self.merge_tail()?;
            }
        } else {
            self.small_tail = 0;
        }
        Ok(self.bytes as isize - before as isize)
    }

    fn merge_tail(&mut self) -> Result<()> {
        let start = self.chunks.len() - self.small_tail;
        let tail: Vec<RecordBatch> = self.chunks.drain(start..).collect();
        let schema = union_schema(&tail);
        let conformed = tail
            .iter()
            .map(|c| conform(c, &schema))
            .collect::<Result<Vec<_>>>()?;
        let merged = arrow_select::concat::concat_batches(&schema, &conformed)
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
        let freed: usize = tail.iter().map(RecordBatch::get_array_memory_size).sum();
        self.bytes = self.bytes - freed + merged.get_array_memory_size();
        self.small_tail = usize::from(merged.num_rows() < SMALL_CHUNK_ROWS);
        self.chunks.push(merged);
        Ok(())
    }

    /// All rows as one batch of `schema` (chunks written before columns were added get nulls).
    pub fn concat(chunks: &[RecordBatch], schema: &SchemaRef) -> Result<RecordBatch> {
        let conformed = chunks
            .iter()
            .map(|c| conform(c, schema))
            .collect::<Result<Vec<_>>>()?;
        arrow_select::concat::concat_batches(schema, &conformed)
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))
    }
}

/// Every column of `chunks` (first appearance order, all nullable). A write carries only the
/// columns it names, so chunks differ: conforming them to any one chunk's columns would
/// drop the values of the others.
fn union_schema(chunks: &[RecordBatch]) -> SchemaRef {
    let mut fields: Vec<arrow_schema::Field> = Vec::new();
    for c in chunks {
        for f in c.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    std::sync::Arc::new(arrow_schema::Schema::new(fields))
}
