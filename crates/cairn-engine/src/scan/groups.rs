//! The group table of an engine aggregation: interned key values (strings, booleans, time
//! buckets), composite keys mapped to dense group numbers, and one columnar accumulator per
//! aggregate. Dictionary-coded strings are interned once per dictionary, then each row is a
//! table lookup by code; runs of equal time buckets are interned once.

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, UInt32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema};

use super::aggregate::{KeySource, Layout, MAX_GROUP_KEYS};
use crate::error::{EngineError, Result};

type Ids = [u32; MAX_GROUP_KEYS];

/// A multiply-rotate hasher (FxHash's): group keys are not attacker-chosen hash-flooding
/// material worth SipHash's cost here (strings come from the database's own dictionaries).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ rest.len() as u64);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // MurmurHash3's finaliser: the multiply-rotate state has weak low bits, which pick
        // the bucket.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A group not yet created.
const NONE: u32 = u32::MAX;

fn bad(msg: impl Into<String>) -> EngineError {
    EngineError::InvalidWrite(msg.into())
}

/// Values of one key, each with a dense id; id 0 is NULL.
#[derive(Debug)]
enum Interner {
    Strings {
        map: HashMap<Box<str>, u32>,
        values: Vec<Option<Box<str>>>,
        /// The last dictionary seen (held, so its address cannot be reused while cached) and
        /// its codes' ids.
        dict: Option<(ArrayRef, Vec<u32>)>,
    },
    /// 1 = false, 2 = true.
    Bools,
    Buckets {
        width: i64,
        origin: i64,
        map: HashMap<i64, u32>,
        values: Vec<Option<i64>>,
    },
}

impl Interner {
    fn new(k: &KeySource) -> Interner {
        match *k {
            KeySource::Strings(_) => Interner::Strings {
                map: HashMap::default(),
                values: vec![None],
                dict: None,
            },
            KeySource::Bools(_) => Interner::Bools,
            KeySource::Bucket {
                width_ns,
                origin_ns,
                ..
            } => Interner::Buckets {
                width: width_ns,
                origin: origin_ns,
                map: HashMap::default(),
                values: vec![None],
            },
        }
    }

    fn string_id(
        map: &mut HashMap<Box<str>, u32>,
        values: &mut Vec<Option<Box<str>>>,
        s: &str,
    ) -> u32 {
        if let Some(&id) = map.get(s) {
            return id;
        }
        let id = values.len() as u32;
        values.push(Some(s.into()));
        map.insert(s.into(), id);
        id
    }

    fn bucket_id(map: &mut HashMap<i64, u32>, values: &mut Vec<Option<i64>>, start: i64) -> u32 {
        *map.entry(start).or_insert_with(|| {
            values.push(Some(start));
            values.len() as u32 - 1
        })
    }

    /// The id of every row of `a`.
    fn ids(&mut self, a: &ArrayRef, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        match self {
            Interner::Strings { map, values, dict } => match a.data_type() {
                DataType::Utf8 => {
                    let s = a.as_string::<i32>();
                    out.extend((0..s.len()).map(|i| {
                        if s.is_null(i) {
                            0
                        } else {
                            Self::string_id(map, values, s.value(i))
                        }
                    }));
                }
                DataType::Dictionary(k, v) if **k == DataType::UInt32 && **v == DataType::Utf8 => {
                    let d = a.as_dictionary::<UInt32Type>();
                    let dv = d.values();
                    if dict.as_ref().is_none_or(|(held, _)| !Arc::ptr_eq(held, dv)) {
                        let strings = dv.as_string::<i32>();
                        let codes = (0..strings.len())
                            .map(|i| {
                                if strings.is_null(i) {
                                    0
                                } else {
                                    Self::string_id(map, values, strings.value(i))
                                }
                            })
                            .collect();
                        *dict = Some((dv.clone(), codes));
                    }
                    let Some((_, codes)) = dict.as_ref() else {
                        return Err(bad("dictionary cache"));
                    };
                    let keys = d.keys();
                    if keys.null_count() == 0 {
                        // DictionaryArray::try_new checked every key against the values.
                        out.extend(keys.values().iter().map(|&k| codes[k as usize]));
                    } else {
                        for (i, &k) in keys.values().iter().enumerate() {
                            out.push(if keys.is_null(i) {
                                0
                            } else {
                                codes[k as usize]
                            });
                        }
                    }
                }
                t => return Err(bad(format!("cannot group strings of type {t}"))),
            },
            Interner::Bools => {
                let b = a.as_boolean();
                out.extend((0..b.len()).map(|i| {
                    if b.is_null(i) {
                        0
                    } else if b.value(i) {
                        2
                    } else {
                        1
                    }
                }));
            }
            Interner::Buckets {
                width,
                origin,
                map,
                values,
            } => {
                let ts = a.as_primitive::<TimestampNanosecondType>();
                let (w, o) = (i128::from(*width), i128::from(*origin));
                // Sorted input: one lookup per run of rows in the same bucket.
                let mut run: Option<(i64, i64, u32)> = None;
                for (i, &t) in ts.values().iter().enumerate() {
                    if ts.is_null(i) {
                        out.push(0);
                        continue;
                    }
                    if let Some((lo, hi, id)) = run
                        && t >= lo
                        && t < hi
                    {
                        out.push(id);
                        continue;
                    }
                    let start = (i128::from(t) - o).div_euclid(w) * w + o;
                    let start = i64::try_from(start)
                        .map_err(|_| bad("a time bucket starts outside the timestamp range"))?;
                    let id = Self::bucket_id(map, values, start);
                    let end = i64::try_from(i128::from(start) + w).unwrap_or(i64::MAX);
                    run = Some((start, end, id));
                    out.push(id);
                }
            }
        }
        Ok(())
    }

    /// The id in `self` of `other`'s id `id`.
    fn translate(&mut self, other: &Interner, id: u32) -> u32 {
        if id == 0 {
            return 0;
        }
        match (self, other) {
            (Interner::Strings { map, values, .. }, Interner::Strings { values: ov, .. }) => {
                match &ov[id as usize] {
                    Some(s) => Self::string_id(map, values, s),
                    None => 0,
                }
            }
            (Interner::Buckets { map, values, .. }, Interner::Buckets { values: ov, .. }) => {
                match ov[id as usize] {
                    Some(b) => Self::bucket_id(map, values, b),
                    None => 0,
                }
            }
            _ => id,
        }
    }

    fn array(&self, ids: impl Iterator<Item = u32>) -> ArrayRef {
        match self {
            Interner::Strings { values, .. } => Arc::new(StringArray::from_iter(
                ids.map(|id| values[id as usize].as_deref()),
            )),
            Interner::Bools => Arc::new(BooleanArray::from_iter(ids.map(|id| match id {
                0 => None,
                id => Some(id == 2),
            }))),
            Interner::Buckets { values, .. } => Arc::new(
                TimestampNanosecondArray::from_iter(ids.map(|id| values[id as usize]))
                    .with_timezone("UTC"),
            ),
        }
    }
}

pub(crate) struct Aggregator {
    layout: Arc<Layout>,
    keys: Vec<Interner>,
    /// One key: its id's group.
    direct: Vec<u32>,
    /// Several keys: the packed ids' group.
    index: HashMap<u128, u32>,
    group_ids: Vec<Ids>,
    accs: Vec<super::accumulate::Acc>,
    scratch: Vec<Vec<u32>>,
    /// One dictionary-coded key: the dictionary last seen (held) and each code's group,
    /// filled as codes are met (a code never met makes no group).
    code_groups: Option<(ArrayRef, Vec<u32>)>,
}

fn pack(ids: &Ids) -> u128 {
    ids.iter()
        .fold(0u128, |acc, &id| (acc << 32) | u128::from(id))
}

impl Aggregator {
    pub fn new(layout: Arc<Layout>) -> Aggregator {
        let keys = layout.keys.iter().map(Interner::new).collect();
        let accs = layout
            .aggregates
            .iter()
            .map(|(f, input)| super::accumulate::Acc::new(f, *input))
            .collect();
        let mut a = Aggregator {
            scratch: vec![Vec::new(); layout.keys.len()],
            layout,
            keys,
            direct: Vec::new(),
            index: HashMap::default(),
            group_ids: Vec::new(),
            accs,
            code_groups: None,
        };
        if a.layout.keys.is_empty() {
            a.new_group([0; MAX_GROUP_KEYS]);
        }
        a
    }

    fn new_group(&mut self, ids: Ids) -> u32 {
        let g = self.group_ids.len() as u32;
        self.group_ids.push(ids);
        for acc in &mut self.accs {
            acc.push();
        }
        g
    }

    /// The group of `ids`, created if new.
    fn group(&mut self, ids: Ids) -> u32 {
        match self.keys.len() {
            0 => 0,
            1 => {
                let id = ids[0] as usize;
                if id >= self.direct.len() {
                    self.direct.resize(id + 1, NONE);
                }
                match self.direct[id] {
                    NONE => {
                        let g = self.new_group(ids);
                        self.direct[id] = g;
                        g
                    }
                    g => g,
                }
            }
            _ => {
                let key = pack(&ids);
                match self.index.get(&key) {
                    Some(&g) => g,
                    None => {
                        let g = self.new_group(ids);
                        self.index.insert(key, g);
                        g
                    }
                }
            }
        }
    }

    /// Adds a batch laid out like the scan's projection.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let layout = self.layout.clone();
        if let [KeySource::Strings(c)] = layout.keys.as_slice()
            && let Some(d) = batch.column(*c).as_dictionary_opt::<UInt32Type>()
            && d.keys().null_count() == 0
        {
            let groups = self.dictionary_groups(d)?;
            for acc in &mut self.accs {
                acc.update(&groups, batch)?;
            }
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        for (i, k) in layout.keys.iter().enumerate() {
            let col = match *k {
                KeySource::Strings(c) | KeySource::Bools(c) => c,
                KeySource::Bucket { column, .. } => column,
            };
            self.keys[i].ids(batch.column(col), &mut scratch[i])?;
        }
        let groups = self.groups_of(&scratch, rows);
        self.scratch = scratch;
        for acc in &mut self.accs {
            acc.update(&groups, batch)?;
        }
        Ok(())
    }

    /// Each row's group when the only key is a dictionary-coded string without nulls: one
    /// lookup by code per row.
    fn dictionary_groups(
        &mut self,
        d: &arrow_array::DictionaryArray<UInt32Type>,
    ) -> Result<Vec<u32>> {
        let dv = d.values();
        let (held, mut by_code) = match self.code_groups.take() {
            Some((held, by_code)) if Arc::ptr_eq(&held, dv) => (held, by_code),
            _ => (dv.clone(), vec![NONE; dv.len()]),
        };
        let strings = dv
            .as_string_opt::<i32>()
            .ok_or_else(|| bad("dictionary values are not strings"))?;
        let mut out = Vec::with_capacity(d.len());
        for &k in d.keys().values() {
            let k = k as usize;
            let mut g = by_code[k];
            if g == NONE {
                let id = match &mut self.keys[0] {
                    Interner::Strings { map, values, .. } if strings.is_valid(k) => {
                        Interner::string_id(map, values, strings.value(k))
                    }
                    _ => 0,
                };
                g = self.group(row_ids_one(id));
                by_code[k] = g;
            }
            out.push(g);
        }
        self.code_groups = Some((held, by_code));
        Ok(out)
    }

    /// Each row's group.
    fn groups_of(&mut self, ids: &[Vec<u32>], rows: usize) -> Vec<u32> {
        match self.keys.len() {
            0 => vec![0; rows],
            1 => {
                let mut out = Vec::with_capacity(rows);
                for &id in &ids[0] {
                    let g = match self.direct.get(id as usize) {
                        Some(&g) if g != NONE => g,
                        _ => self.group(row_ids_one(id)),
                    };
                    out.push(g);
                }
                out
            }
            _ => self.groups_of_many(ids, rows),
        }
    }

    /// Each row's group with several keys: a dense table over this batch's id ranges when
    /// small (one hash lookup per distinct combination instead of per row).
    fn groups_of_many(&mut self, ids: &[Vec<u32>], rows: usize) -> Vec<u32> {
        let row_ids = |r: usize| {
            let mut out = [0u32; MAX_GROUP_KEYS];
            for (j, col) in ids.iter().enumerate() {
                out[j] = col[r];
            }
            out
        };
        let ranges: Vec<(u32, u32)> = ids
            .iter()
            .map(|c| {
                let lo = c.iter().copied().min().unwrap_or(0);
                let hi = c.iter().copied().max().unwrap_or(0);
                (lo, hi)
            })
            .collect();
        let size = ranges.iter().try_fold(1usize, |acc, (lo, hi)| {
            acc.checked_mul((hi - lo) as usize + 1)
        });
        match size {
            Some(size) if size <= (1 << 16).max(4 * rows) => {
                let mut local = vec![NONE; size];
                (0..rows)
                    .map(|r| {
                        let mut off = 0usize;
                        for (j, (lo, hi)) in ranges.iter().enumerate() {
                            off = off * ((hi - lo) as usize + 1) + (ids[j][r] - lo) as usize;
                        }
                        if local[off] == NONE {
                            local[off] = self.group(row_ids(r));
                        }
                        local[off]
                    })
                    .collect()
            }
            _ => (0..rows).map(|r| self.group(row_ids(r))).collect(),
        }
    }

    /// Folds `other` (same layout) into `self`.
    pub fn merge(&mut self, other: Aggregator) -> Result<()> {
        let mut map = Vec::with_capacity(other.group_ids.len());
        for ids in &other.group_ids {
            let mut mine = [0u32; MAX_GROUP_KEYS];
            for j in 0..self.keys.len() {
                mine[j] = self.keys[j].translate(&other.keys[j], ids[j]);
            }
            map.push(self.group(mine));
        }
        for (acc, theirs) in self.accs.iter_mut().zip(other.accs) {
            acc.merge(theirs, &map)?;
        }
        Ok(())
    }

    /// One row per group: keys, then aggregates.
    pub fn finish(self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (j, k) in self.keys.iter().enumerate() {
            let a = k.array(self.group_ids.iter().map(|ids| ids[j]));
            fields.push(Field::new(
                &self.layout.key_names[j],
                a.data_type().clone(),
                true,
            ));
            columns.push(a);
        }
        for (i, acc) in self.accs.into_iter().enumerate() {
            let a = acc.finish();
            fields.push(Field::new(format!("agg{i}"), a.data_type().clone(), true));
            columns.push(a);
        }
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(self.group_ids.len())),
        )
        .map_err(|e| bad(e.to_string()))
    }
}

fn row_ids_one(id: u32) -> Ids {
    let mut out = [0u32; MAX_GROUP_KEYS];
    out[0] = id;
    out
}
