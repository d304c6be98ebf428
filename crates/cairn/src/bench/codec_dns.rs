//! The DNS data set of `cairn bench codec`: the CSV of `shared/bench/gen_dns.py` (generated
//! on first use), parsed here; or, without python3, DNS-like rows generated in Rust.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_codec::Bitmap;

use super::datasets::{DataColumn, Dataset, Rng, Strings, Values};
use crate::error::{CliError, Result};

const HEADER: &str = "ts,client_ip,qname,qtype,rcode,cached,elapsed_ms";
const GENERATOR: &str = "shared/bench/gen_dns.py";

/// Where the DNS rows come from.
#[derive(Debug, Clone)]
pub enum DnsSource {
    /// A CSV given by the user (`--dns-csv`, `CAIRN_DNS_CSV`).
    Csv(PathBuf),
    /// `<data dir>/dns_<rows>.csv`, generated with python3 if missing.
    Cached { data_dir: PathBuf },
}

/// Loads at most `rows` DNS rows.
pub fn load(source: &DnsSource, rows: usize) -> Result<Dataset> {
    let path = match source {
        DnsSource::Csv(path) => path.clone(),
        DnsSource::Cached { data_dir } => {
            let path = data_dir.join(format!("dns_{rows}.csv"));
            if !path.is_file()
                && let Err(why) = generate_csv(data_dir, rows)
            {
                eprintln!("note: {why}; generating DNS-like rows in Rust instead");
                return Ok(generate_in_rust(rows, &why));
            }
            path
        }
    };
    parse_csv(&path, rows)
}

/// The generator script, `gen_dns.py` in the shared bench directory (see
/// [`super::dns_peers::find_shared`]).
fn find_generator() -> Option<PathBuf> {
    super::dns_peers::find_shared()
        .map(|d| d.join("gen_dns.py"))
        .filter(|p| p.is_file())
}

/// Runs `python3 gen_dns.py --rows N --out <data_dir> --formats csv`; Err says why not.
pub(super) fn generate_csv(data_dir: &Path, rows: usize) -> std::result::Result<(), String> {
    let script = find_generator().ok_or_else(|| format!("{GENERATOR} not found"))?;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    eprintln!(
        "generating {rows} DNS rows with python3 {} into {} (about 8 s per million rows; \
         kept for later runs)",
        script.display(),
        data_dir.display()
    );
    let status = Command::new("python3")
        .arg(&script)
        .args(["--rows", &rows.to_string(), "--formats", "csv", "--out"])
        .arg(data_dir)
        .status()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !status.success() {
        return Err(format!("python3 {} failed ({status})", script.display()));
    }
    Ok(())
}

/// Column builders shared by the CSV parser and the Rust generator.
struct DnsColumns {
    ts: Vec<i64>,
    strings: [Strings; 4],
    cached: Vec<bool>,
    elapsed_ms: Vec<f64>,
}

impl DnsColumns {
    fn with_capacity(rows: usize) -> Self {
        Self {
            ts: Vec::with_capacity(rows),
            strings: std::array::from_fn(|_| Strings::with_capacity(rows)),
            cached: Vec::with_capacity(rows),
            elapsed_ms: Vec::with_capacity(rows),
        }
    }

    fn into_dataset(self, origin: String) -> Dataset {
        let [client_ip, qname, qtype, rcode] = self.strings;
        let columns = vec![
            DataColumn::new("ts", false, Values::Timestamp(self.ts)),
            DataColumn::new("client_ip", true, Values::Str(client_ip)),
            DataColumn::new("qname", true, Values::Str(qname)),
            DataColumn::new("qtype", true, Values::Str(qtype)),
            DataColumn::new("rcode", true, Values::Str(rcode)),
            DataColumn::new(
                "cached",
                false,
                Values::Bool(Bitmap::from_bools(&self.cached)),
            ),
            DataColumn::new("elapsed_ms", false, Values::F64(self.elapsed_ms)),
        ];
        Dataset {
            name: "dns",
            origin,
            columns,
        }
    }
}

/// Parses the generator's CSV (no quoting: checked) up to `rows` rows.
fn parse_csv(path: &Path, rows: usize) -> Result<Dataset> {
    let file = std::fs::File::open(path).map_err(CliError::io("open DNS CSV", path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let bad =
        |n: usize, why: &str| CliError::Invalid(format!("{}: line {n}: {why}", path.display()));
    reader
        .read_until(b'\n', &mut line)
        .map_err(CliError::io("read DNS CSV", path))?;
    if line.trim_ascii_end() != HEADER.as_bytes() {
        return Err(bad(1, &format!("expected the header {HEADER:?}")));
    }
    let mut cols = DnsColumns::with_capacity(rows);
    for n in 2..rows + 2 {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(CliError::io("read DNS CSV", path))?;
        if read == 0 {
            break;
        }
        let text = line.trim_ascii_end();
        let mut fields = text.split(|&b| b == b',');
        let mut next = || fields.next().ok_or_else(|| bad(n, "fewer than 7 fields"));
        let ts = next()?;
        cols.ts
            .push(parse_ts_ns(ts).ok_or_else(|| bad(n, "bad timestamp"))?);
        for column in &mut cols.strings {
            let s = next()?;
            if s.contains(&b'"') || std::str::from_utf8(s).is_err() {
                return Err(bad(n, "quoted or non-UTF-8 field"));
            }
            column.push(s)?;
        }
        cols.cached.push(match next()? {
            b"true" => true,
            b"false" => false,
            _ => return Err(bad(n, "cached is neither true nor false")),
        });
        let elapsed = std::str::from_utf8(next()?)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| bad(n, "bad elapsed_ms"))?;
        cols.elapsed_ms.push(elapsed);
        if fields.next().is_some() {
            return Err(bad(n, "more than 7 fields"));
        }
    }
    let got = cols.ts.len();
    let origin = if got < rows {
        format!("{} ({got} rows: fewer than --rows)", path.display())
    } else {
        format!("{} (first {got} rows)", path.display())
    };
    Ok(cols.into_dataset(origin))
}

/// 'YYYY-MM-DD HH:MM:SS.mmm' (UTC) to nanoseconds since the epoch: the server's CSV
/// timestamp parser, so the bench reads the data exactly as `COPY` and `cairn import` do.
pub(super) fn parse_ts_ns(s: &[u8]) -> Option<i64> {
    cairn_server::csv::parse_timestamp_ns(s).ok()
}

const QTYPES: [(&str, u32); 10] = [
    ("A", 50),
    ("AAAA", 22),
    ("HTTPS", 7),
    ("CNAME", 5),
    ("PTR", 5),
    ("TXT", 4),
    ("MX", 3),
    ("NS", 2),
    ("SRV", 1),
    ("SOA", 1),
];
const RCODES: [(&str, u32); 4] = [
    ("NOERROR", 86),
    ("NXDOMAIN", 9),
    ("SERVFAIL", 4),
    ("REFUSED", 1),
];
const SYLLABLES: [&str; 12] = [
    "ka", "lo", "mi", "ne", "ta", "ri", "zu", "po", "shi", "van", "tor", "bel",
];
const TLDS: [&str; 6] = ["com", "net", "org", "io", "de", "co.uk"];

fn weighted<'a>(rng: &mut Rng, table: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(total as usize) as u32;
    for &(name, w) in table {
        if pick < w {
            return name;
        }
        pick -= w;
    }
    table[0].0
}

/// Rows with gen_dns.py's distributions (24 h from 2024-01-01, 10,000 client IPs, 50,000
/// names with a hot 1,000, weighted qtype / rcode, cached, elapsed_ms with 3 decimals), but
/// not its exact values.
pub(super) fn generate_in_rust(rows: usize, why: &str) -> Dataset {
    let mut rng = Rng::new(20_240_101);
    let ips: Vec<String> = (0..10_000)
        .map(|_| {
            let k = rng.below(1 << 24);
            format!("10.{}.{}.{}", k >> 16, (k >> 8) & 255, k & 255)
        })
        .collect();
    let names: Vec<String> = (0..50_000)
        .map(|i| {
            let parts: String = (0..2 + rng.below(3))
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect();
            format!("{parts}{i}.{}", TLDS[rng.below(TLDS.len())])
        })
        .collect();
    let mut cols = DnsColumns::with_capacity(rows);
    let (start_ms, span_ms) = (1_704_067_200_000i64, 86_400_000i64);
    for k in 0..rows {
        cols.ts
            .push((start_ms + k as i64 * span_ms / rows as i64) * 1_000_000);
        let hot = rng.unit() < 0.5;
        let name = &names[rng.below(if hot { 1000 } else { names.len() })];
        let (qtype, rcode) = (weighted(&mut rng, &QTYPES), weighted(&mut rng, &RCODES));
        let ip = &ips[rng.below(ips.len())];
        let cached = rcode != "SERVFAIL" && rng.unit() < if hot { 0.85 } else { 0.35 };
        let elapsed = if rcode == "SERVFAIL" {
            500.0 + 4500.0 * rng.unit()
        } else if cached {
            0.02 + 0.98 * rng.unit()
        } else {
            (20f64.ln() + 0.8 * rng.normal()).exp().min(2000.0)
        };
        for (column, s) in cols
            .strings
            .iter_mut()
            .zip([ip.as_str(), name, qtype, rcode])
        {
            // Short ASCII strings: 10M rows stay far below the 2 GiB offset limit.
            if column.push(s.as_bytes()).is_err() {
                break;
            }
        }
        cols.cached.push(cached);
        cols.elapsed_ms.push((elapsed * 1000.0).round() / 1000.0);
    }
    cols.into_dataset(format!(
        "DNS-like rows generated in Rust ({why}): same distributions as gen_dns.py, other values"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_utc_nanoseconds() {
        assert_eq!(
            parse_ts_ns(b"2024-01-01 00:00:00.000"),
            Some(1_704_067_200_000_000_000)
        );
        assert_eq!(
            parse_ts_ns(b"2024-03-01 12:34:56.789"),
            Some(1_709_296_496_789_000_000)
        );
        assert_eq!(parse_ts_ns(b"2024-13-01 00:00:00.000"), None);
    }

    #[test]
    fn csv_parses_and_stops_at_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dns.csv");
        std::fs::write(
            &path,
            format!(
                "{HEADER}\n2024-01-01 00:00:00.000,10.0.0.1,a.com,A,NOERROR,true,0.319\n\
                 2024-01-01 00:00:00.008,10.0.0.2,b.io,AAAA,SERVFAIL,false,512.5\n\
                 2024-01-01 00:00:00.016,10.0.0.3,c.io,MX,NOERROR,false,7.25\n"
            ),
        )
        .unwrap();
        let d = parse_csv(&path, 2).unwrap();
        assert_eq!(d.rows(), 2);
        let Values::F64(e) = &d.columns[6].values else {
            panic!("elapsed_ms");
        };
        assert_eq!(e, &[0.319, 512.5]);
        let Values::Str(q) = &d.columns[3].values else {
            panic!("qtype");
        };
        assert_eq!(q.get(1), b"AAAA");
    }

    #[test]
    fn rust_fallback_has_the_dns_columns() {
        let d = generate_in_rust(5000, "test");
        assert_eq!(d.rows(), 5000);
        let names: Vec<_> = d.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ts",
                "client_ip",
                "qname",
                "qtype",
                "rcode",
                "cached",
                "elapsed_ms"
            ]
        );
    }
}
