//! Scans: a snapshot of a collection (memtable chunks, frozen memtables and the manifest
//! version, taken together under its lock) read lazily, pruned by time range and by page
//! min/max, filtered exactly, returned as Arrow batches.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::SchemaRef;
use cairn_storage::{ColumnData, ColumnSpec, PartitionReader};

use crate::catalog::CollectionDef;
use crate::collection::{PartFile, Version};
use crate::convert::{arrow_schema, column_to_array, conform, dictionary_array};
use crate::db::Db;
use crate::error::{EngineError, Result};
use crate::predicate::{Bound, Predicate, and_all, bind, evaluate, may_match};

mod accumulate;
mod aggregate;
mod arrays;
pub use arrays::read_whole_file;
use arrays::{as_strings, dictionary_codes, schema_of};
mod groups;
mod summary;
pub use aggregate::{AggregateFn, AggregateRequest, AggregateResult, GroupKey, MAX_GROUP_KEYS};
pub use summary::{ColumnSummary, ScanSummary};

/// Inclusive bounds on the TIME_KEY (nanoseconds); `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub min: Option<i64>,
    pub max: Option<i64>,
}

impl TimeRange {
    fn bounds(self) -> (i64, i64) {
        (self.min.unwrap_or(i64::MIN), self.max.unwrap_or(i64::MAX))
    }
}

/// What to read. Every predicate is applied exactly (ANDed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRequest {
    /// Columns to return, in order; `None`: all.
    pub projection: Option<Vec<String>>,
    pub time: TimeRange,
    pub predicates: Vec<Predicate>,
    /// Stop after this many rows.
    pub limit: Option<usize>,
}

/// What a scan touched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub files_total: usize,
    pub files_scanned: usize,
    pub pages_total: usize,
    pub pages_scanned: usize,
    pub memtable_chunks: usize,
    pub rows_out: u64,
}

/// What a scan will touch, from statistics: its counts and the time partitions (start
/// timestamps) of the snapshot and of the files it reads. Parts of one split share the
/// snapshot: unite their sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanEstimate {
    pub stats: ScanStats,
    pub partitions_total: BTreeSet<i64>,
    pub partitions_scanned: BTreeSet<i64>,
}

/// A materialised scan.
#[derive(Debug, Clone)]
pub struct ScanResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub stats: ScanStats,
}

impl ScanResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl Db {
    /// Reads `collection` (`name` or `db.name`): every acknowledged row in memory and in
    /// files, exactly once, that matches `req`.
    pub fn scan(&self, collection: &str, req: &ScanRequest) -> Result<ScanResult> {
        let mut scan = self.scan_iter(collection, req)?;
        let mut batches = Vec::new();
        for b in scan.by_ref() {
            batches.push(b?);
        }
        Ok(ScanResult {
            schema: scan.schema(),
            batches,
            stats: scan.stats(),
        })
    }

    /// A lazy scan: batches are read as the iterator is advanced. It holds the version it
    /// started with, so files compacted away meanwhile stay readable until it is dropped.
    pub fn scan_iter(&self, collection: &str, req: &ScanRequest) -> Result<Scan> {
        let mut parts = self.scan_split(collection, req, 1)?;
        parts
            .pop()
            .ok_or_else(|| EngineError::InvalidWrite("empty scan split".into()))
    }

    /// One snapshot of `collection` split into `parts` (≥ 1) disjoint lazy scans that
    /// together return exactly what [`Db::scan_iter`] would: memtable chunks and files are
    /// dealt round-robin, so the parts can be read on separate threads. Each part applies
    /// `req.limit` on its own.
    pub fn scan_split(
        &self,
        collection: &str,
        req: &ScanRequest,
        parts: usize,
    ) -> Result<Vec<Scan>> {
        let parts = parts.max(1);
        let c = self.inner.find(collection)?;
        let st = c.lock();
        let def = st.def.clone();
        let (lo, hi) = req.time.bounds();
        let overlaps = |min: i64, max: i64| max >= lo && min <= hi;
        let mut chunks: Vec<VecDeque<RecordBatch>> = vec![VecDeque::new(); parts];
        let live = st.mem.values().filter(|m| overlaps(m.min_ts, m.max_ts));
        let frozen = st.frozen.iter().filter(|f| overlaps(f.min_ts, f.max_ts));
        let all = live
            .flat_map(|m| m.chunks.iter())
            .chain(frozen.flat_map(|f| f.chunks.iter()));
        for (i, chunk) in all.enumerate() {
            chunks[i % parts].push_back(chunk.clone());
        }
        let version = st.version.clone();
        drop(st);
        let files: Vec<Arc<PartFile>> = version
            .files
            .iter()
            .filter(|f| overlaps(f.meta.min_ts, f.meta.max_ts))
            .cloned()
            .collect();
        chunks
            .into_iter()
            .enumerate()
            .map(|(k, chunks)| {
                let mine = files.iter().skip(k).step_by(parts).cloned().collect();
                Scan::new(def.clone(), version.clone(), chunks, mine, k == 0, req)
            })
            .collect()
    }
}

/// A running scan (see [`Db::scan_iter`]).
pub struct Scan {
    full: Vec<ColumnSpec>,
    full_schema: SchemaRef,
    out_schema: SchemaRef,
    /// Indices into `full` of the returned columns.
    projection: Vec<usize>,
    /// Indices into `full` read from each source (projection, predicates, time key).
    needed: Vec<usize>,
    needed_schema: SchemaRef,
    tk: usize,
    time: (i64, i64),
    bounds: Vec<Bound>,
    chunks: VecDeque<RecordBatch>,
    files: VecDeque<Arc<PartFile>>,
    _version: Arc<Version>,
    ready: VecDeque<RecordBatch>,
    limit: Option<usize>,
    stats: ScanStats,
    /// Dictionary-encoded file columns come out as `Dictionary(UInt32, Utf8)` arrays sharing
    /// the file's dictionary instead of gathered strings (batch schemas then vary by source).
    dictionary_output: bool,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Scan {
    /// `counts_total`: this part reports the snapshot's total file count (one part of a
    /// split does, so the parts' stats add up).
    fn new(
        def: Arc<CollectionDef>,
        version: Arc<Version>,
        chunks: VecDeque<RecordBatch>,
        files: VecDeque<Arc<PartFile>>,
        counts_total: bool,
        req: &ScanRequest,
    ) -> Result<Scan> {
        let full = def.schema.columns.clone();
        let index = |name: &str| {
            full.iter().position(|c| c.name == name).ok_or_else(|| {
                EngineError::InvalidWrite(format!(
                    "collection {:?} has no column {name:?}",
                    def.name
                ))
            })
        };
        let projection = match &req.projection {
            Some(cols) => cols.iter().map(|c| index(c)).collect::<Result<Vec<_>>>()?,
            None => (0..full.len()).collect(),
        };
        let bounds = bind(&req.predicates, &full)?;
        let tk = def.time_key();
        let mut needed: Vec<usize> = projection.clone();
        needed.extend(bounds.iter().map(|b| b.column));
        let time = req.time.bounds();
        if time != (i64::MIN, i64::MAX) {
            needed.push(tk);
        }
        needed.sort_unstable();
        needed.dedup();
        let stats = ScanStats {
            files_total: if counts_total { version.files.len() } else { 0 },
            memtable_chunks: chunks.len(),
            ..ScanStats::default()
        };
        let pick = |idx: &[usize]| idx.iter().map(|&i| full[i].clone()).collect::<Vec<_>>();
        Ok(Scan {
            full_schema: arrow_schema(&full),
            out_schema: arrow_schema(&pick(&projection)),
            needed_schema: arrow_schema(&pick(&needed)),
            full,
            projection,
            needed,
            tk,
            time,
            bounds,
            chunks,
            files,
            _version: version,
            ready: VecDeque::new(),
            limit: req.limit,
            stats,
            dictionary_output: false,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.out_schema.clone()
    }

    pub fn stats(&self) -> ScanStats {
        self.stats
    }

    /// Filters a batch holding the `needed` columns and projects it.
    fn finish(&self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let rows = batch.num_rows();
        let pos = |full_idx: usize| self.needed.iter().position(|&n| n == full_idx);
        let mut masks = Vec::with_capacity(self.bounds.len() + 1);
        if self.time != (i64::MIN, i64::MAX)
            && let Some(tk) = pos(self.tk)
        {
            let ts = batch.column(tk).as_primitive::<TimestampNanosecondType>();
            let (lo, hi) = self.time;
            masks.push(BooleanArray::from_iter(
                ts.values().iter().map(|&t| Some(t >= lo && t <= hi)),
            ));
        }
        for b in &self.bounds {
            if let Some(i) = pos(b.column) {
                masks.push(evaluate(
                    b,
                    batch.column(i),
                    self.full[b.column].column_type,
                )?);
            }
        }
        // Project first, then filter only what is returned.
        let mut columns: Vec<ArrayRef> = self
            .projection
            .iter()
            .filter_map(|&p| pos(p).map(|i| batch.column(i).clone()))
            .collect();
        let mut out_rows = rows;
        if let Some(mask) = and_all(masks) {
            let kept = mask.true_count();
            if kept < rows {
                if kept > 0 && !columns.is_empty() {
                    let f = arrow_select::filter::FilterBuilder::new(&mask)
                        .optimize()
                        .build();
                    columns = columns
                        .iter()
                        .map(|c| f.filter(c))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
                }
                out_rows = kept;
            }
        }
        if out_rows == 0 {
            return Ok(None);
        }
        let schema = if self.dictionary_output {
            schema_of(&self.out_schema, &columns)
        } else {
            self.out_schema.clone()
        };
        RecordBatch::try_new_with_options(
            schema,
            columns,
            &RecordBatchOptions::new().with_row_count(Some(out_rows)),
        )
        .map(Some)
        .map_err(|e| EngineError::InvalidWrite(e.to_string()))
    }

    fn next_chunk(&mut self, chunk: RecordBatch) -> Result<()> {
        let conformed = conform(&chunk, &self.full_schema)?;
        let needed = conformed
            .project(&self.needed)
            .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
        if let Some(b) = self.finish(needed)? {
            self.ready.push_back(b);
        }
        Ok(())
    }

    /// Reads the surviving pages of one file into `ready`.
    fn next_file(&mut self, file: Arc<PartFile>) -> Result<()> {
        let reader = file.reader()?;
        let (map, pages, pages_total) = self.prune(&reader)?;
        self.stats.pages_total += pages_total;
        if pages.is_empty() {
            return Ok(());
        }
        self.stats.files_scanned += 1;
        self.stats.pages_scanned += pages.len();
        let dicts = self.dictionaries(&reader, &map)?;
        for run in runs(&pages) {
            let per_column = self.read_run(&reader, &map, &dicts, run.clone())?;
            for (k, page) in run.enumerate() {
                let arrays: Vec<ArrayRef> = per_column.iter().map(|c| c[k].clone()).collect();
                let schema = if self.dictionary_output {
                    schema_of(&self.needed_schema, &arrays)
                } else {
                    self.needed_schema.clone()
                };
                // No column is needed for COUNT(*): the page's row count is the batch.
                let rows = reader.footer().columns[0].pages[page].rows as usize;
                let batch = RecordBatch::try_new_with_options(
                    schema,
                    arrays,
                    &RecordBatchOptions::new().with_row_count(Some(rows)),
                )
                .map_err(|e| EngineError::InvalidWrite(e.to_string()))?;
                if let Some(b) = self.finish(batch)? {
                    self.ready.push_back(b);
                }
            }
        }
        Ok(())
    }

    /// The file column of each needed column (absent: added after the file), the pages that
    /// may hold matching rows (by time range, footer and page statistics) and the file's
    /// page count.
    fn prune(&self, reader: &PartitionReader) -> Result<(Vec<Option<usize>>, Vec<usize>, usize)> {
        let footer = reader.footer();
        let pages_total = footer.page_count();
        let map: Vec<Option<usize>> = self
            .needed
            .iter()
            .map(|&i| {
                footer
                    .columns
                    .iter()
                    .position(|c| c.spec.name == self.full[i].name)
            })
            .collect();
        let file_col = |full_idx: usize| {
            self.needed
                .iter()
                .position(|&n| n == full_idx)
                .and_then(|i| map[i])
        };
        // File-level pruning by column statistics.
        for b in &self.bounds {
            let matches = match file_col(b.column) {
                Some(fc) => {
                    let c = &footer.columns[fc];
                    may_match(&b.kind, &c.stats, footer.row_count, c.null_count)
                }
                None => may_match(
                    &b.kind,
                    &Default::default(),
                    footer.row_count,
                    footer.row_count,
                ),
            };
            if !matches {
                return Ok((map, Vec::new(), pages_total));
            }
        }
        let mut pages: Vec<usize> = if self.time == (i64::MIN, i64::MAX) {
            (0..pages_total).collect()
        } else {
            reader.pages_for_time_range(self.time.0, self.time.1)?
        };
        pages.retain(|&p| {
            self.bounds.iter().all(|b| match file_col(b.column) {
                Some(fc) => {
                    let m = &footer.columns[fc].pages[p];
                    may_match(
                        &b.kind,
                        &m.stats,
                        u64::from(m.rows),
                        u64::from(m.null_count),
                    )
                }
                None => true,
            })
        });
        Ok((map, pages, pages_total))
    }

    /// What this scan will touch, from footers and statistics only (no page is read): for
    /// `EXPLAIN`. The scan itself is not advanced.
    pub fn estimate(&self) -> Result<ScanEstimate> {
        let mut probe = ScanStats {
            files_total: self.stats.files_total,
            memtable_chunks: self.chunks.len(),
            ..ScanStats::default()
        };
        let mut partitions_scanned = BTreeSet::new();
        for file in &self.files {
            let (_, pages, pages_total) = self.prune(&*file.reader()?)?;
            probe.pages_total += pages_total;
            if !pages.is_empty() {
                probe.files_scanned += 1;
                probe.pages_scanned += pages.len();
                partitions_scanned.insert(file.meta.partition);
            }
        }
        Ok(ScanEstimate {
            stats: probe,
            partitions_total: self
                ._version
                .files
                .iter()
                .map(|f| f.meta.partition)
                .collect(),
            partitions_scanned,
        })
    }

    fn dictionaries(
        &self,
        reader: &PartitionReader,
        map: &[Option<usize>],
    ) -> Result<Vec<Option<ArrayRef>>> {
        map.iter()
            .map(|fc| match fc {
                Some(fc) => match reader.dictionary(*fc)? {
                    Some(d) => Ok(Some(Arc::new(dictionary_array(&d)?) as ArrayRef)),
                    None => Ok(None),
                },
                None => Ok(None),
            })
            .collect()
    }

    /// Arrays per needed column, one per page of `run`.
    fn read_run(
        &self,
        reader: &PartitionReader,
        map: &[Option<usize>],
        dicts: &[Option<ArrayRef>],
        run: std::ops::Range<usize>,
    ) -> Result<Vec<Vec<ArrayRef>>> {
        let footer = reader.footer();
        let page_rows = |p: usize| footer.columns[0].pages[p].rows as usize;
        self.needed
            .iter()
            .zip(map)
            .zip(dicts)
            .map(|((&i, fc), dict)| {
                let t = self.full[i].column_type;
                match fc {
                    Some(fc) => reader
                        .read_pages(*fc, run.clone())?
                        .into_iter()
                        .map(|col| match (&col.data, dict) {
                            (ColumnData::Dict { .. }, Some(values)) if self.dictionary_output => {
                                dictionary_codes(col, values)
                            }
                            _ => column_to_array(col, t, dict.as_deref().map(as_strings)),
                        })
                        .collect(),
                    None => Ok(run
                        .clone()
                        .map(|p| new_null_array(&crate::batch_codec::arrow_type(t), page_rows(p)))
                        .collect()),
                }
            })
            .collect()
    }
}

impl Iterator for Scan {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if self.limit == Some(0) {
                return None;
            }
            if let Some(mut b) = self.ready.pop_front() {
                if let Some(limit) = &mut self.limit {
                    if b.num_rows() > *limit {
                        b = b.slice(0, *limit);
                    }
                    *limit -= b.num_rows();
                }
                self.stats.rows_out += b.num_rows() as u64;
                return Some(Ok(b));
            }
            let step = if let Some(chunk) = self.chunks.pop_front() {
                self.next_chunk(chunk)
            } else if let Some(file) = self.files.pop_front() {
                self.next_file(file)
            } else {
                return None;
            };
            if let Err(e) = step {
                self.chunks.clear();
                self.files.clear();
                return Some(Err(e));
            }
        }
    }
}

/// Consecutive runs of sorted page numbers.
fn runs(pages: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some(r) if r.end == p => r.end = p + 1,
            _ => out.push(p..p + 1),
        }
    }
    out
}
