//! The client side of the crash loop: HTTP calls with bounded waits, the seeded generator, and
//! the writer threads that stream line-protocol batches and record what was acknowledged.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::ledger::Ledger;

/// The collection the writers fill (database `default`).
pub const COLLECTION: &str = "crash";
/// Row `id` has ts `T0_NS + id * ID_STEP_NS` and v `id * 0.25` (exact in binary, so sums are
/// exact in any order).
pub const T0_NS: i64 = 1_704_067_200_000_000_000;
pub const ID_STEP_NS: i64 = 100_000_000;
/// Rows per batch are drawn from `1..=MAX_BATCH_ROWS`.
pub const MAX_BATCH_ROWS: u64 = 2000;
/// Longest wait for any one HTTP answer (a write, a query, a CHECKPOINT).
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// `v` of row `id`.
pub fn value_of(id: i64) -> f64 {
    id as f64 * 0.25
}

/// splitmix64: small, seedable, good enough to pick sizes and moments.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// One server's HTTP API. A new one per server start, so no pooled connection to a killed
/// server is ever reused.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(ANSWER_WAIT))
            .build()
            .into();
        Http {
            agent,
            base: format!("http://{addr}"),
        }
    }

    /// `POST /query {"sql": sql}`: the JSON answer, or what went wrong.
    pub fn sql(&self, sql: &str) -> Result<Value, String> {
        let body = serde_json::json!({ "sql": sql }).to_string();
        let mut r = self
            .agent
            .post(&format!("{}/query", self.base))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| format!("{sql}: request failed: {e}"))?;
        let status = r.status().as_u16();
        let text = r
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{sql}: reading the answer failed: {e}"))?;
        if status != 200 {
            return Err(format!("{sql}: status {status}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("{sql}: answer is not JSON ({e}): {text}"))
    }

    /// `POST /write`: the status, or the transport error (the server died).
    fn write(&self, body: &str) -> Result<(u16, String), String> {
        let mut r = self
            .agent
            .post(&format!("{}/write?db=default&precision=ns", self.base))
            .header("content-type", "text/plain; charset=utf-8")
            .send(body.as_bytes())
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    }
}

/// What the writers and the killer share during one cycle.
#[derive(Debug)]
pub struct Shared {
    pub ledger: Mutex<Ledger>,
    /// Writers start no new batch once set.
    pub stop: AtomicBool,
    /// Set just before the SIGKILL: a request failing before it is a server failure.
    pub killed: AtomicBool,
}

impl Shared {
    pub fn new(ledger: Ledger) -> Arc<Shared> {
        Arc::new(Shared {
            ledger: Mutex::new(ledger),
            stop: AtomicBool::new(false),
            killed: AtomicBool::new(false),
        })
    }

    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The line-protocol body of batch `batch`: rows `first_id..first_id + rows`.
pub fn batch_body(writer: &str, batch: i64, first_id: i64, rows: u64) -> String {
    let mut body = String::with_capacity(rows as usize * 80);
    for id in first_id..first_id + rows as i64 {
        let ts = T0_NS + id * ID_STEP_NS;
        let v = value_of(id);
        writeln!(
            body,
            "{COLLECTION},writer={writer} batch={batch}i,id={id}i,v={v:?} {ts}"
        )
        .unwrap();
    }
    body
}

/// Streams batches until `stop` or the first request that gets no answer. A batch counts as
/// acknowledged only on 204; any other answer from a live server is recorded as an anomaly.
pub fn run_writer(http: Http, shared: Arc<Shared>, writer: String, mut rng: Rng) {
    while !shared.stop.load(Ordering::SeqCst) {
        let rows = rng.range(1, MAX_BATCH_ROWS);
        let (batch, first_id) = shared.ledger().begin(rows);
        let body = batch_body(&writer, batch, first_id, rows);
        match http.write(&body) {
            Ok((204, _)) => shared.ledger().ack(batch),
            Ok((status, text)) => {
                shared.ledger().anomaly(format!(
                    "{writer}: batch {batch} ({rows} rows) answered {status}: {text}"
                ));
                return;
            }
            Err(e) => {
                if !shared.killed.load(Ordering::SeqCst) {
                    shared.ledger().anomaly(format!(
                        "{writer}: batch {batch} ({rows} rows) failed before the kill: {e}"
                    ));
                }
                return;
            }
        }
    }
}
