//! Diagnostics of `cairn bench codec` for columns that miss a goal: every leaf codec of the
//! column's family forced with every outer stage, to tell whether the chooser or the codecs
//! are the cause. Printed apart from the figures; the figures use the default chooser.

use cairn_codec::float::FloatCodec;
use cairn_codec::int::IntCodec;
use cairn_codec::outer::Outer;
use cairn_codec::{EncodeOptions, LeafCodec};

use super::codec_columns::{
    self, ColumnFigures, Encoded, Prepared, decode_best, encode_column, prepare,
};
use super::datasets::{DataColumn, Dataset, Values};
use super::mb_per_sec;
use crate::error::Result;

/// One-core decode goals in MB/s of raw values.
pub const INT_DECODE_GOAL_MB_PER_SEC: f64 = 2000.0;
pub const FLOAT_DECODE_GOAL_MB_PER_SEC: f64 = 1000.0;

/// Why a column was diagnosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// It loses to zstd-3: the smallest forced chain.
    Smallest,
    /// It decodes below its goal: the smallest forced chain that meets the goal.
    MeetsDecodeGoal,
}

/// A forced chain found for a column.
#[derive(Debug, Clone)]
pub struct Forced {
    pub dataset: &'static str,
    pub column: String,
    pub purpose: Purpose,
    pub chain: String,
    pub bytes: u64,
    /// Measured for [`Purpose::MeetsDecodeGoal`] only.
    pub decode_mb_per_sec: Option<f64>,
}

/// The decode goal of a column's type, if it has one.
pub fn decode_goal(value_type: &str) -> Option<f64> {
    match value_type {
        "timestamp" => Some(INT_DECODE_GOAL_MB_PER_SEC),
        "f64" => Some(FLOAT_DECODE_GOAL_MB_PER_SEC),
        _ => None,
    }
}

/// Diagnoses every column of `data` that loses to zstd-3 or misses its decode goal.
pub fn diagnose(data: &Dataset, figures: &[ColumnFigures]) -> Result<Vec<Forced>> {
    let mut out = Vec::new();
    for (col, f) in data.columns.iter().zip(figures) {
        let loses = f.ratio() >= 1.0;
        let goal = decode_goal(f.value_type).filter(|&g| f.decode_mb_per_sec() < g);
        if !loses && goal.is_none() {
            continue;
        }
        let prepared = prepare(col)?;
        let mut found = |purpose, best: Option<(String, u64, Option<f64>)>| {
            if let Some((chain, bytes, decode_mb_per_sec)) = best {
                out.push(Forced {
                    dataset: data.name,
                    column: col.name.clone(),
                    purpose,
                    chain,
                    bytes,
                    decode_mb_per_sec,
                });
            }
        };
        if loses {
            found(Purpose::Smallest, smallest(col, &prepared)?);
        }
        if let Some(goal) = goal {
            found(Purpose::MeetsDecodeGoal, fast_enough(col, &prepared, goal)?);
        }
    }
    Ok(out)
}

/// The leaf codecs that may encode the column's data pages.
fn leaves(col: &DataColumn, prepared: &Prepared) -> Vec<LeafCodec> {
    match (&col.values, &prepared.dictionary) {
        (Values::F64(_), _) => FloatCodec::ALL.map(LeafCodec::Float).to_vec(),
        (Values::Timestamp(_), _) | (Values::Str(_), Some(_)) => {
            IntCodec::ALL.map(LeafCodec::Int).to_vec()
        }
        _ => Vec::new(),
    }
}

/// Every leaf x outer chain that encodes the column (a forced codec that does not fit the
/// values, such as const on varying values, is skipped).
fn variants<'a>(
    col: &'a DataColumn,
    prepared: &'a Prepared,
    outers: &'a [Outer],
) -> impl Iterator<Item = Result<(String, Encoded)>> + 'a {
    leaves(col, prepared).into_iter().flat_map(move |leaf| {
        outers.iter().filter_map(move |&outer| {
            let opts = EncodeOptions {
                force_codec: Some(leaf),
                force_outer: Some(outer),
                ..EncodeOptions::default()
            };
            let encoded = encode_column(col, prepared, &opts).ok()?;
            let dict = prepared.dictionary.is_some();
            Some(codec_columns::chain(&encoded, dict).map(|c| (c, encoded)))
        })
    })
}

/// The smallest forced chain: (chain, bytes, None).
fn smallest(col: &DataColumn, prepared: &Prepared) -> Result<Option<(String, u64, Option<f64>)>> {
    let mut best: Option<(String, u64, Option<f64>)> = None;
    for v in variants(col, prepared, &[Outer::None, Outer::Lz4, Outer::Zstd]) {
        let (chain, encoded) = v?;
        let bytes = encoded.buf.len() as u64;
        if best.as_ref().is_none_or(|b| bytes < b.1) {
            best = Some((chain, bytes, None));
        }
    }
    Ok(best)
}

/// The smallest forced chain whose decode (best of 3) reaches `goal_mb_per_sec`.
fn fast_enough(
    col: &DataColumn,
    prepared: &Prepared,
    goal_mb_per_sec: f64,
) -> Result<Option<(String, u64, Option<f64>)>> {
    let raw = col.values.raw_bytes();
    let mut best: Option<(String, u64, Option<f64>)> = None;
    for v in variants(col, prepared, &[Outer::None, Outer::Lz4, Outer::Zstd]) {
        let (chain, encoded) = v?;
        let bytes = encoded.buf.len() as u64;
        if best.as_ref().is_some_and(|b| bytes >= b.1) {
            continue;
        }
        let speed = mb_per_sec(raw, decode_best(&encoded)?);
        if speed >= goal_mb_per_sec {
            best = Some((chain, bytes, Some(speed)));
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_finds_a_chain_at_most_as_big_as_the_default() {
        let v: Vec<f64> = (0..70_000).map(|i| f64::from(i % 1000) * 0.37).collect();
        let col = DataColumn::new("f", false, Values::F64(v));
        let f = codec_columns::measure("t", &col).unwrap();
        let prepared = prepare(&col).unwrap();
        let (chain, bytes, _) = smallest(&col, &prepared).unwrap().unwrap();
        assert!(
            bytes <= f.encoded_bytes,
            "{chain} {bytes} vs {}",
            f.encoded_bytes
        );
        let (_, _, speed) = fast_enough(&col, &prepared, 1.0).unwrap().unwrap();
        assert!(speed.unwrap() >= 1.0);
    }
}
