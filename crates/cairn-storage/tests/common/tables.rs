//! Test tables: every column type, with and without nulls, in three time orders.

use cairn_storage::{ColumnSpec, ColumnType};

use super::{Data, Rng, Table, field, ts};

/// How the TIME_KEY values are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOrder {
    /// Non-decreasing (with some equal neighbours).
    Sorted,
    /// Grouped by tag, each group sorted by time over the same span (the sparse index's case).
    TagThenTime,
    Random,
}

pub const BASE_NS: i64 = 1_700_000_000_000_000_000;
pub const TAGS: usize = 12;

/// Special floats that must survive bit-exactly and order by IEEE total order.
pub const SPECIAL_F64: [u64; 8] = [
    0x7ff8_0000_0000_0000, // +NaN: the max of any page holding it
    0x8000_0000_0000_0000, // -0.0
    0x7ff0_0000_0000_0000, // +inf
    0xfff0_0000_0000_0000, // -inf
    0xfff8_0000_0000_0001, // -NaN with a payload: the min of any page holding it
    0x0000_0000_0000_0000, // +0.0
    0x0000_0000_0000_0001, // smallest subnormal
    0x7ff4_0000_0000_0000, // signalling NaN payload
];

/// Rows of `msg` with chosen strings: the column's empty minimum, a 1500-byte maximum (cut
/// to 1024 bytes in the column bound, mid character), and a page maximum cut at 64 bytes.
pub const MSG_EMPTY_ROW: usize = 7;
pub const MSG_LONG_ROW: usize = 11;
pub const MSG_PAGE_MAX_ROW: usize = 1030;

/// Columns: ts (TIME_KEY), host (tag), i, u, f, b, msg (high-cardinality string field),
/// gone (all-null i64), gone_s (all-null string).
pub fn all_types(rows: usize, nulls: bool, order: TimeOrder, seed: u64) -> Table {
    let mut rng = Rng(seed);
    let mut valid = |force: &[usize]| -> Option<Vec<bool>> {
        nulls.then(|| {
            (0..rows)
                .map(|i| force.contains(&i) || !rng.chance(9))
                .collect()
        })
    };
    let (v_host, v_i, v_u, v_f, v_b) = (valid(&[]), valid(&[]), valid(&[]), valid(&[]), valid(&[]));
    let v_msg = valid(&[MSG_EMPTY_ROW, MSG_LONG_ROW, MSG_PAGE_MAX_ROW]);
    let tag_of = |i: usize, rng: &mut Rng| match order {
        TimeOrder::TagThenTime => i * TAGS / rows.max(1),
        _ => rng.below(TAGS as u64) as usize,
    };
    let hosts: Vec<usize> = (0..rows).map(|i| tag_of(i, &mut rng)).collect();
    let times: Vec<i64> = match order {
        TimeOrder::Sorted => (0..rows)
            .map(|i| BASE_NS + (i as i64 / 2) * 1000 + (i % 2) as i64 * rng.below(500) as i64)
            .collect(),
        TimeOrder::TagThenTime => {
            let mut k = 0;
            (0..rows)
                .map(|i| {
                    k = if i > 0 && hosts[i] == hosts[i - 1] {
                        k + 1
                    } else {
                        0
                    };
                    BASE_NS + k * 1000 * TAGS as i64 + rng.below(1000) as i64
                })
                .collect()
        }
        TimeOrder::Random => (0..rows)
            .map(|_| BASE_NS + rng.below(rows as u64 * 1000 + 1) as i64)
            .collect(),
    };
    let mut t = Table::default();
    t.push(ts(), Data::I64(times), None);
    let host = hosts.iter().map(|h| format!("host-{h:02}")).collect();
    t.push(ColumnSpec::tag("host"), Data::Str(host), v_host);
    let i = (0..rows)
        .map(|_| match rng.below(50) {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => rng.below(1_000_000) as i64 - 500_000,
        })
        .collect();
    t.push(field("i", ColumnType::I64), Data::I64(i), v_i);
    let u = (0..rows)
        .map(|_| match rng.below(50) {
            0 => u64::MAX,
            1 => 0,
            _ => rng.next_u64() >> rng.below(64),
        })
        .collect();
    t.push(field("u", ColumnType::U64), Data::U64(u), v_u);
    let f = (0..rows)
        .map(|i| match SPECIAL_F64.get(i % 211) {
            Some(&bits) => f64::from_bits(bits),
            None => (rng.below(2_000_000) as f64 - 1e6) / 100.0,
        })
        .collect();
    t.push(field("f", ColumnType::F64), Data::F64(f), v_f);
    let b = (0..rows).map(|_| rng.chance(3)).collect();
    t.push(field("b", ColumnType::Bool), Data::Bool(b), v_b);
    let msg = (0..rows)
        .map(|i| match i {
            MSG_EMPTY_ROW => String::new(),
            MSG_LONG_ROW => "\u{FFFD}".repeat(500),
            MSG_PAGE_MAX_ROW => "\u{20AC}".repeat(30),
            _ => format!("m{i:07}-{:x}", rng.next_u64()),
        })
        .collect();
    t.push(field("msg", ColumnType::String), Data::Str(msg), v_msg);
    t.push(
        field("gone", ColumnType::I64),
        Data::I64(vec![0; rows]),
        Some(vec![false; rows]),
    );
    t.push(
        field("gone_s", ColumnType::String),
        Data::Str(vec![String::new(); rows]),
        Some(vec![false; rows]),
    );
    t
}

/// `groups` tags of `per_tag` rows, each tag's times `k * 10` for k in 0..per_tag: a file
/// sorted by tag then time whose pages straddle tags, so a page's overall time bounds are
/// wide while its sparse blocks are narrow.
pub fn tag_sorted(groups: usize, per_tag: usize) -> Table {
    let mut t = Table::default();
    let times = (0..groups * per_tag)
        .map(|i| (i % per_tag) as i64 * 10)
        .collect();
    t.push(ts(), Data::I64(times), None);
    let tags = (0..groups * per_tag)
        .map(|i| format!("t{}", i / per_tag))
        .collect();
    t.push(ColumnSpec::tag("tag"), Data::Str(tags), None);
    let v = (0..groups * per_tag).map(|i| i as f64 * 0.5).collect();
    t.push(field("v", ColumnType::F64), Data::F64(v), None);
    t
}
