//! The data sets of `cairn bench codec`: columns in memory, and the TSBS-style `cpu` set
//! generated here (the DNS set is loaded in `codec_dns`).

use cairn_codec::{Bitmap, PageValues};

use crate::error::{CliError, Result};

/// Strings in Arrow's layout: string `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone)]
pub struct Strings {
    pub offsets: Vec<i32>,
    pub data: Vec<u8>,
}

impl Strings {
    pub fn with_capacity(rows: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::new(),
        }
    }

    pub fn push(&mut self, s: &[u8]) -> Result<()> {
        self.data.extend_from_slice(s);
        let end = i32::try_from(self.data.len()).map_err(|_| {
            CliError::Invalid("a string column holds over 2 GiB: use fewer --rows".into())
        })?;
        self.offsets.push(end);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The values of one column (no nulls: neither data set has any).
#[derive(Debug, Clone)]
pub enum Values {
    /// Nanoseconds since the Unix epoch.
    Timestamp(Vec<i64>),
    F64(Vec<f64>),
    Bool(Bitmap),
    Str(Strings),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Timestamp(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Bool(b) => b.len(),
            Values::Str(s) => s.len(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Values::Timestamp(_) => "timestamp",
            Values::F64(_) => "f64",
            Values::Bool(_) => "bool",
            Values::Str(_) => "string",
        }
    }

    /// Bytes of the raw values, the unit of every MB/s: 8 per i64 / f64, 1 per bool, and a
    /// string's bytes plus a 4-byte offset.
    pub fn raw_bytes(&self) -> u64 {
        match self {
            Values::Timestamp(v) => 8 * v.len() as u64,
            Values::F64(v) => 8 * v.len() as u64,
            Values::Bool(b) => b.len() as u64,
            Values::Str(s) => s.data.len() as u64 + 4 * s.len() as u64,
        }
    }

    /// What the zstd baseline compresses: i64 / f64 little-endian, bools one byte each,
    /// strings joined by newlines.
    pub fn baseline_bytes(&self) -> Vec<u8> {
        match self {
            Values::Timestamp(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Values::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Values::Bool(b) => (0..b.len()).map(|i| u8::from(b.get(i))).collect(),
            Values::Str(s) => {
                let mut out = Vec::with_capacity(s.data.len() + s.len());
                for i in 0..s.len() {
                    out.extend_from_slice(s.get(i));
                    out.push(b'\n');
                }
                out
            }
        }
    }

    pub fn page_values(&self) -> PageValues<'_> {
        match self {
            Values::Timestamp(v) => PageValues::I64(v),
            Values::F64(v) => PageValues::F64(v),
            Values::Bool(b) => PageValues::Bool(b.as_ref()),
            Values::Str(s) => PageValues::Utf8 {
                offsets: &s.offsets,
                data: &s.data,
            },
        }
    }
}

/// A named column; `tag` marks a series-identifying string (always dictionary-encoded).
#[derive(Debug, Clone)]
pub struct DataColumn {
    pub name: String,
    pub tag: bool,
    pub values: Values,
}

impl DataColumn {
    pub fn new(name: &str, tag: bool, values: Values) -> Self {
        Self {
            name: name.to_string(),
            tag,
            values,
        }
    }
}

/// A data set: equally long columns, and a line saying where they came from.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: &'static str,
    pub origin: String,
    pub columns: Vec<DataColumn>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn raw_bytes(&self) -> u64 {
        self.columns.iter().map(|c| c.values.raw_bytes()).sum()
    }
}

/// A small deterministic generator (splitmix64): benchmark data, not cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// TSBS devops: hosts, their regions' datacenters, one row per host every 10 s.
const CPU_HOSTS: usize = 1000;
const CPU_INTERVAL_NS: i64 = 10_000_000_000;
/// 2016-01-01T00:00:00Z, TSBS's default start.
const CPU_START_NS: i64 = 1_451_606_400_000_000_000;
const CPU_SEED: u64 = 0x7457_5342; // "tTSB"
const REGIONS: [(&str, &[&str]); 9] = [
    (
        "us-east-1",
        &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"],
    ),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const OSES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES: [&str; 2] = ["x64", "x86"];
const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "test"];
pub const CPU_TAGS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];
pub const CPU_FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];
/// Fields kept at full precision (the rest are rounded to 2 decimals).
const CPU_FULL_PRECISION_FIELDS: usize = 2;

/// The tag values of host `id`, drawn like TSBS from a generator seeded by the host id.
fn host_tags(id: usize) -> [String; 10] {
    let mut rng = Rng::new(CPU_SEED ^ (id as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let (region, datacenters) = REGIONS[rng.below(REGIONS.len())];
    [
        format!("host_{id}"),
        region.to_string(),
        datacenters[rng.below(datacenters.len())].to_string(),
        rng.below(100).to_string(),
        OSES[rng.below(OSES.len())].to_string(),
        ARCHES[rng.below(ARCHES.len())].to_string(),
        TEAMS[rng.below(TEAMS.len())].to_string(),
        rng.below(20).to_string(),
        rng.below(2).to_string(),
        ENVIRONMENTS[rng.below(ENVIRONMENTS.len())].to_string(),
    ]
}

/// The TSBS-style `cpu` set: `rows` rows in series order (by host, then time: the order a
/// flush of a series-first collection writes, and the baseline gets the same order); every field a random walk in [0, 100] with N(0, 1) steps, rounded to 2
/// decimals except the last two fields (full precision, as TSBS emits them).
pub fn tsbs_cpu(rows: usize) -> Result<Dataset> {
    let hosts: Vec<[String; 10]> = (0..CPU_HOSTS).map(host_tags).collect();
    let mut rng = Rng::new(CPU_SEED);
    let mut walk: Vec<[f64; 10]> = (0..CPU_HOSTS)
        .map(|_| std::array::from_fn(|_| rng.unit() * 100.0))
        .collect();
    let mut ts = Vec::with_capacity(rows);
    let mut tags: Vec<Strings> = (0..CPU_TAGS.len())
        .map(|_| Strings::with_capacity(rows))
        .collect();
    let mut fields: Vec<Vec<f64>> = (0..CPU_FIELDS.len())
        .map(|_| Vec::with_capacity(rows))
        .collect();
    let rounded = CPU_FIELDS.len() - CPU_FULL_PRECISION_FIELDS;
    let per_host = |h: usize| rows / CPU_HOSTS + usize::from(h < rows % CPU_HOSTS);
    for (host, tick) in (0..CPU_HOSTS).flat_map(|h| (0..per_host(h)).map(move |t| (h, t))) {
        ts.push(CPU_START_NS + tick as i64 * CPU_INTERVAL_NS);
        for (column, value) in tags.iter_mut().zip(&hosts[host]) {
            column.push(value.as_bytes())?;
        }
        for (f, column) in fields.iter_mut().enumerate() {
            let state = &mut walk[host][f];
            *state = (*state + rng.normal()).clamp(0.0, 100.0);
            column.push(if f < rounded {
                (*state * 100.0).round() / 100.0
            } else {
                *state
            });
        }
    }
    let mut columns = vec![DataColumn::new("timestamp", false, Values::Timestamp(ts))];
    for (name, values) in CPU_TAGS.iter().zip(tags) {
        columns.push(DataColumn::new(name, true, Values::Str(values)));
    }
    for (name, values) in CPU_FIELDS.iter().zip(fields) {
        columns.push(DataColumn::new(name, false, Values::F64(values)));
    }
    Ok(Dataset {
        name: "cpu",
        origin: format!(
            "TSBS-style cpu generated in Rust (seed {CPU_SEED:#x}): {CPU_HOSTS} hosts, one row \
             per host every 10 s from 2016-01-01, sorted by host then time; fields are N(0,1) random walks in [0, 100], \
             rounded to 2 decimals except usage_guest and usage_guest_nice (full precision)"
        ),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_rows_are_series_sorted_and_deterministic() {
        let a = tsbs_cpu(2500).unwrap();
        let b = tsbs_cpu(2500).unwrap();
        assert_eq!(a.rows(), 2500);
        assert_eq!(a.columns.len(), 21);
        let (Values::Timestamp(ta), Values::Timestamp(tb)) =
            (&a.columns[0].values, &b.columns[0].values)
        else {
            panic!("timestamp column");
        };
        assert_eq!(ta, tb);
        // 2500 rows over 1000 hosts: hosts 0..500 get 3 rows, the others 2.
        assert_eq!(ta[1] - ta[0], CPU_INTERVAL_NS);
        assert_eq!(ta[2] - ta[1], CPU_INTERVAL_NS);
        assert_eq!(ta[3], ta[0]);
        let Values::Str(hostnames) = &a.columns[1].values else {
            panic!("hostname column");
        };
        assert_eq!(hostnames.get(2), b"host_0");
        assert_eq!(hostnames.get(3), b"host_1");
        let Values::F64(user) = &a.columns[11].values else {
            panic!("usage_user column");
        };
        assert!(user.iter().all(|v| (0.0..=100.0).contains(v)));
        assert!(user.iter().all(|v| (v * 100.0).round() / 100.0 == *v));
    }

    #[test]
    fn raw_and_baseline_bytes() {
        let mut s = Strings::with_capacity(2);
        s.push(b"ab").unwrap();
        s.push(b"c").unwrap();
        let v = Values::Str(s);
        assert_eq!(v.raw_bytes(), 3 + 8);
        assert_eq!(v.baseline_bytes(), b"ab\nc\n");
        let b = Values::Bool(Bitmap::from_bools(&[true, false, true]));
        assert_eq!(b.baseline_bytes(), vec![1, 0, 1]);
        assert_eq!(b.raw_bytes(), 3);
    }
}
