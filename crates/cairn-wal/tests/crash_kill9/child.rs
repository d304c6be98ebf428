//! The child process: opens the WAL and appends durably from several threads until killed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

// ---------------------------------------------------------------------------------------
// The child
// ---------------------------------------------------------------------------------------

/// The child process's entry point: does nothing unless started by the crash loop.
#[test]
#[ignore = "child process of crash_loop_every_acknowledged_record_survives_kill_9"]
pub(crate) fn crash_child_entry() {
    let Some(dir) = std::env::var_os(ENV_CHILD_DIR) else {
        return;
    };
    run_child(Path::new(&dir));
}

pub(crate) fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("cannot parse {name}={value:?}"),
    }
}

/// Ends the child on an unexpected failure; the parent sees an early exit and its stderr.
pub(crate) fn child_fail(what: &str) -> ! {
    eprintln!("crash child: {what}");
    std::process::exit(3);
}

/// Writes `text` to stdout and flushes it; the parent gone means we are done.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(2);
    }
}

pub(crate) fn run_child(dir: &Path) -> ! {
    let cycle: u32 = env_parse(ENV_CHILD_CYCLE).unwrap_or_else(|| child_fail("no cycle"));
    let seed: u64 = env_parse(ENV_CHILD_SEED).unwrap_or_else(|| child_fail("no seed"));
    let lifetime_ms: u64 =
        env_parse(ENV_CHILD_LIFETIME_MS).unwrap_or_else(|| child_fail("no lifetime"));
    // The parent holds our stdin open: end-of-file means it died, so never outlive it.
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut sink) {
                Ok(0) | Err(_) => std::process::exit(2),
                Ok(_) => {}
            }
        }
    });
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(lifetime_ms));
        child_fail("never killed");
    });
    // Start on a fresh line: the test harness may have printed "test crash_child_entry ... ".
    emit("\n");
    let options = WalOptions {
        segment_target_bytes: SEGMENT_TARGET_BYTES,
        ..WalOptions::default()
    };
    let wal =
        Arc::new(Wal::open(dir, options).unwrap_or_else(|e| child_fail(&format!("open WAL: {e}"))));
    emit(&format!("{OPENED_LINE}\n"));
    let acked = Arc::new(AtomicU64::new(0));
    let appenders: Vec<_> = (0..THREADS)
        .map(|thread| {
            let wal = wal.clone();
            let acked = acked.clone();
            std::thread::spawn(move || append_loop(&wal, cycle, thread, seed, &acked))
        })
        .collect();
    for appender in appenders {
        if appender.join().is_err() {
            child_fail("an appender thread panicked");
        }
    }
    child_fail("the appender threads ended")
}

pub(crate) fn append_loop(wal: &Wal, cycle: u32, thread: u32, seed: u64, acked: &AtomicU64) {
    let mut truncated_at_count = 0u64;
    let mut truncated_to = 0u64;
    for seq in 0u64.. {
        let id = Id { cycle, thread, seq };
        let payload = encode_payload(id);
        let record = Record {
            record_type: RECORD_TYPE,
            flags: 0,
            tenant_id: u64::from(thread),
            database_id: 0,
            payload: &payload,
        };
        let lsn = wal
            .append_durable(record)
            .unwrap_or_else(|e| child_fail(&format!("append_durable {id}: {e}")));
        emit(&format!("{} {thread} {seq}\n", lsn.0));
        let count = acked.fetch_add(1, Ordering::Relaxed) + 1;
        if thread == 0 && (seq == 2 || count >= truncated_at_count + TRUNCATE_EVERY) {
            truncated_at_count = count;
            // Keep a varying number of records (500..3000) below the durable LSN.
            let keep = 500 + splitmix(seed ^ seq) % 2500;
            let target = wal.durable_lsn().0.saturating_sub(keep);
            if target > truncated_to {
                // Announce first: whatever is below it may be gone after a crash from here on.
                emit(&format!("truncated {target}\n"));
                wal.truncate_before(Lsn(target))
                    .unwrap_or_else(|e| child_fail(&format!("truncate_before {target}: {e}")));
                truncated_to = target;
            }
        }
    }
}
