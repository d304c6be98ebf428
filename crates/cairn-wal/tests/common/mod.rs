//! Helpers shared by the WAL integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use cairn_wal::{KeyRing, Lsn, Record, Wal, WalOptions, WalRecord};

/// A deterministic payload for `lsn` of `len` bytes, so tests can check content.
pub fn payload(lsn: u64, len: usize) -> Vec<u8> {
    let mut x = lsn.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub fn record(lsn_hint: u64, payload: &[u8]) -> Record<'_> {
    Record {
        record_type: 7,
        flags: (lsn_hint % 3) as u16,
        tenant_id: 11,
        database_id: 22,
        payload,
    }
}

pub fn small_segments() -> WalOptions {
    WalOptions {
        segment_target_bytes: 64 * 1024,
        ..WalOptions::default()
    }
}

pub fn ring() -> KeyRing {
    KeyRing::new(1, [0x42; 32])
}

pub fn replay_all(wal: &Wal) -> Vec<WalRecord> {
    wal.replay(Lsn(1))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Asserts `records` are exactly LSNs `first..=last` with the payloads `payload(lsn, len)`.
pub fn assert_dense(records: &[WalRecord], first: u64, last: u64, len: usize) {
    assert_eq!(records.len() as u64, last + 1 - first, "record count");
    for (i, r) in records.iter().enumerate() {
        let lsn = first + i as u64;
        assert_eq!(r.lsn, Lsn(lsn));
        assert_eq!(r.payload, payload(lsn, len), "payload of LSN {lsn}");
        assert_eq!(r.record_type, 7);
        assert_eq!(r.tenant_id, 11);
        assert_eq!(r.database_id, 22);
    }
}

pub fn tempdir() -> tempfile::TempDir {
    // /tmp is ext4 on the reference machine; tests that need O_DIRECT semantics use it.
    tempfile::tempdir().expect("tempdir")
}

pub fn open(dir: &Path, options: WalOptions) -> Wal {
    Wal::open(dir, options).expect("open WAL")
}

/// A file system wrapper that can be killed: after `kill`, every call fails. Each life of a
/// WAL in a crash test gets its own wrapper, so the threads of a "crashed" WAL can do nothing
/// to the file system of the next life (a real crash stops them instantly).
#[derive(Debug)]
pub struct KillableFs {
    inner: cairn_io::SimFs,
    dead: std::sync::atomic::AtomicBool,
}

impl KillableFs {
    pub fn new(inner: cairn_io::SimFs) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            inner,
            dead: std::sync::atomic::AtomicBool::new(false),
        })
    }
    pub fn kill(&self) {
        self.dead.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    fn check(&self) -> std::io::Result<()> {
        if self.dead.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::other("process is dead (simulated crash)"));
        }
        Ok(())
    }
}

impl cairn_io::Fs for KillableFs {
    fn open(
        &self,
        path: &Path,
        options: cairn_io::OpenOptions,
    ) -> std::io::Result<cairn_io::FileRef> {
        self.check()?;
        self.inner.open(path, options)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.check()?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.check()?;
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.check()?;
        self.inner.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> std::io::Result<Vec<cairn_io::DirEntry>> {
        self.check()?;
        self.inner.list_dir(path)
    }
    fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        self.check()?;
        self.inner.sync_dir(path)
    }
    fn exists(&self, path: &Path) -> std::io::Result<bool> {
        self.check()?;
        self.inner.exists(path)
    }
    fn lock_exclusive(&self, path: &Path) -> std::io::Result<cairn_io::LockGuard> {
        self.check()?;
        self.inner.lock_exclusive(path)
    }
}

/// Options for WALs on the simulated file system: tiny segments, O_DIRECT alignment enforced.
pub fn sim_options() -> WalOptions {
    WalOptions {
        segment_target_bytes: 32 * 1024,
        direct_io: cairn_wal::DirectIo::On,
        ..WalOptions::default()
    }
}

pub fn open_sim(
    fs: &std::sync::Arc<KillableFs>,
    options: WalOptions,
) -> Result<Wal, cairn_wal::WalError> {
    Wal::open_with_fs(
        fs.clone(),
        cairn_io::Backend::Pwrite,
        Path::new("/db/wal"),
        options,
    )
}

/// SplitMix64: tiny, seedable, and independent of the `rand` crate's changing API.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

pub fn base_seed() -> u64 {
    std::env::var("CAIRN_DECODE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00C0_FFEE_CA12_0001)
}

/// A distinct, reproducible seed per case.
pub fn case_seed(base: u64, part: u64, case: u64) -> u64 {
    Rng::new(base ^ part.wrapping_mul(0xA24B_AED4_963E_E407) ^ case).next_u64()
}

/// The segment files of a log directory, in LSN order.
pub fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(cairn_wal::parse_segment_file_name)
                .is_some()
        })
        .collect();
    v.sort();
    v
}
