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
