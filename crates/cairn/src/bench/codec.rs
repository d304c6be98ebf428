//! `cairn bench codec`: the column codecs and the packed partition file on two data sets
//! (DNS telemetry, TSBS-style cpu), against zstd-3 measured in the same run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ScratchDir;
use super::codec_columns::{self, ColumnFigures};
use super::codec_dns::{self, DnsSource};
use super::codec_forced::{self, Forced};
use super::codec_partition::{self, PartitionFigures};
use super::codec_report;
use super::datasets::{self, Dataset};
use super::report::{self, progress};
use crate::CodecBenchArgs;
use crate::error::{CliError, Result};

pub const DEFAULT_ROWS: usize = 10_000_000;
pub const QUICK_ROWS: usize = 100_000;
/// Upper bound of --rows (string offsets are i32; the data sets stay far below 2 GiB).
const MAX_ROWS: usize = 50_000_000;

/// What one run measures.
#[derive(Debug, Clone)]
pub struct Plan {
    pub rows: usize,
    pub quick: bool,
    /// Where the data sets are kept between runs (the DNS CSV).
    pub data_dir: PathBuf,
    pub dns: DnsSource,
}

impl Plan {
    fn new(args: &CodecBenchArgs, dir: &Path) -> Result<Plan> {
        let rows = args
            .data
            .rows
            .unwrap_or(if args.quick { QUICK_ROWS } else { DEFAULT_ROWS });
        if rows == 0 || rows > MAX_ROWS {
            return Err(CliError::Invalid(format!(
                "--rows must be between 1 and {MAX_ROWS}, not {rows}"
            )));
        }
        let data_dir = dir.join("data");
        let dns = match &args.data.dns_csv {
            Some(path) => DnsSource::Csv(path.clone()),
            None => DnsSource::Cached {
                data_dir: data_dir.clone(),
            },
        };
        Ok(Plan {
            rows,
            quick: args.quick,
            data_dir,
            dns,
        })
    }
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    pub plan: Plan,
    pub origins: Vec<(&'static str, String)>,
    pub columns: Vec<ColumnFigures>,
    pub forced: Vec<Forced>,
    pub partition: PartitionFigures,
    pub elapsed: Duration,
}

/// Runs the benchmark and prints the report (and writes JSON if asked).
pub fn run(args: &CodecBenchArgs) -> Result<()> {
    let started = Instant::now();
    let dir = args.data.dir.clone().unwrap_or_else(default_dir);
    let plan = Plan::new(args, &dir)?;
    progress("loading the DNS rows");
    let dns = codec_dns::load(&plan.dns, plan.rows)?;
    let cpu_rows = dns.rows().min(plan.rows);
    codec_report::print_header(&plan, &dir, &dns);
    let (mut columns, mut forced) = measure_columns(&dns)?;
    let mut origins = vec![(dns.name, dns.origin.clone())];
    {
        progress("generating the cpu rows");
        let cpu = datasets::tsbs_cpu(cpu_rows)?;
        println!("\n  cpu rows: {}", cpu.origin);
        let (cpu_columns, cpu_forced) = measure_columns(&cpu)?;
        origins.push((cpu.name, cpu.origin.clone()));
        columns.extend(cpu_columns);
        forced.extend(cpu_forced);
    }
    progress("writing and scanning the partition file");
    let scratch = ScratchDir::create(dir.join(run_name()))?;
    let partition = codec_partition::measure(&dns, scratch.path());
    drop(scratch);
    let partition = partition?;
    codec_report::print_partition(&partition);
    let results = Results {
        plan,
        origins,
        columns,
        forced,
        partition,
        elapsed: started.elapsed(),
    };
    let goals = codec_report::goals(&results);
    codec_report::print_goals(&goals);
    report::finish(
        results.elapsed,
        results.plan.quick,
        args.data.json.as_deref(),
        || codec_report::to_json(&results, &goals).render(),
    )
}

/// Figure 1 for one data set, printed with the diagnostics of the columns that miss a goal.
fn measure_columns(data: &Dataset) -> Result<(Vec<ColumnFigures>, Vec<Forced>)> {
    let mut figures = Vec::new();
    for c in &data.columns {
        progress(&format!("{}.{}", data.name, c.name));
        figures.push(codec_columns::measure(data.name, c)?);
    }
    progress(&format!(
        "{}: diagnosing the columns that miss a goal",
        data.name
    ));
    let forced = codec_forced::diagnose(data, &figures)?;
    codec_report::print_columns(data, &figures, &forced);
    Ok((figures, forced))
}

pub(super) fn default_dir() -> PathBuf {
    if Path::new("target").is_dir() {
        PathBuf::from("target").join("cairn-bench")
    } else {
        PathBuf::from("cairn-bench-data")
    }
}

fn run_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("codec-{}-{nanos}", std::process::id())
}
