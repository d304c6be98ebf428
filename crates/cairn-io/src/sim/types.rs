//! The knobs of the simulation: crash models, the kinds of calls faults can target, the
//! faults themselves and the call counters.

use std::collections::BTreeMap;
use std::io;

/// What a simulated crash does to data and directory changes that were not yet synced.
/// Synced state (by `sync_data` for file contents, `sync_dir` for directory entries) always
/// survives, except that [`CrashModel::Paranoid`] garbles whole 512-byte sectors that an
/// unsynced write was rewriting, synced bytes in those sectors included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashModel {
    /// Everything unsynced is lost: the state as of the last syncs. Finds missing syncs.
    DropUnsynced,
    /// Per file, a random prefix of the unsynced writes survives in order, the last survivor
    /// possibly torn at a random byte; a random prefix of all unsynced directory changes
    /// survives. A disk that writes back in submission order.
    PrefixOrdered,
    /// Each unsynced write independently lands whole, is lost, or is torn (only a
    /// random-length prefix lands); each size change and each directory change
    /// independently survives or not. The default: no ordering between unsynced writes.
    AnySubset,
    /// [`CrashModel::AnySubset`], and every 512-byte sector that a lost or torn write
    /// touched (within the post-crash length) is filled with random bytes: a sector the
    /// disk was writing when power failed may read back as anything. Rewriting a sector that
    /// holds acknowledged bytes is therefore punished here.
    Paranoid,
}

impl CrashModel {
    /// Every model, from kindest to harshest, for tests that sweep them.
    pub const ALL: [CrashModel; 4] = [
        CrashModel::DropUnsynced,
        CrashModel::PrefixOrdered,
        CrashModel::AnySubset,
        CrashModel::Paranoid,
    ];
}

/// A kind of call that faults can target and that [`SimStats`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// `Fs::open`, and `Fs::lock_exclusive` (which opens the lock file).
    Open,
    /// `File::read_at` (and so every `read_exact_at` step).
    Read,
    /// `File::write_all_at` (and so `append`).
    Write,
    /// `File::sync_data`.
    SyncData,
    /// `Fs::sync_dir`.
    SyncDir,
    /// `File::set_len`.
    SetLen,
    /// `File::preallocate`.
    Preallocate,
    /// `Fs::rename`.
    Rename,
    /// `Fs::remove_file`.
    Remove,
    /// `Fs::list_dir`.
    List,
}

impl OpKind {
    /// Every op kind, for tests that sweep them.
    pub const ALL: [OpKind; 10] = [
        OpKind::Open,
        OpKind::Read,
        OpKind::Write,
        OpKind::SyncData,
        OpKind::SyncDir,
        OpKind::SetLen,
        OpKind::Preallocate,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::List,
    ];
}

/// The error an injected fault returns. Both are raw OS errors so that code under test sees
/// exactly what the kernel would hand it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `EIO`: the device failed.
    Eio,
    /// `ENOSPC`: the device is full.
    Enospc,
}

impl FaultKind {
    /// The `io::Error` this fault returns.
    pub fn to_error(self) -> io::Error {
        match self {
            FaultKind::Eio => io::Error::from_raw_os_error(libc::EIO),
            FaultKind::Enospc => io::Error::from_raw_os_error(libc::ENOSPC),
        }
    }
}

/// Call counters since the `SimFs` was made. A call counts when it is attempted, including
/// calls that fail (injected faults, `ENOENT`, alignment); byte counts only count successes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// [`OpKind::Open`] calls.
    pub opens: u64,
    /// [`OpKind::Read`] calls.
    pub reads: u64,
    /// [`OpKind::Write`] calls.
    pub writes: u64,
    /// [`OpKind::SyncData`] calls.
    pub sync_datas: u64,
    /// [`OpKind::SyncDir`] calls.
    pub sync_dirs: u64,
    /// [`OpKind::SetLen`] calls.
    pub set_lens: u64,
    /// [`OpKind::Preallocate`] calls.
    pub preallocates: u64,
    /// [`OpKind::Rename`] calls.
    pub renames: u64,
    /// [`OpKind::Remove`] calls.
    pub removes: u64,
    /// [`OpKind::List`] calls.
    pub lists: u64,
    /// Bytes accepted by successful writes.
    pub bytes_written: u64,
    /// Bytes returned by successful reads.
    pub bytes_read: u64,
    /// Calls failed by an injected fault (not by capacity or validation).
    pub faults_injected: u64,
    /// Simulated crashes.
    pub crashes: u64,
}

impl SimStats {
    /// How many calls of `op` were attempted.
    pub fn calls(&self, op: OpKind) -> u64 {
        match op {
            OpKind::Open => self.opens,
            OpKind::Read => self.reads,
            OpKind::Write => self.writes,
            OpKind::SyncData => self.sync_datas,
            OpKind::SyncDir => self.sync_dirs,
            OpKind::SetLen => self.set_lens,
            OpKind::Preallocate => self.preallocates,
            OpKind::Rename => self.renames,
            OpKind::Remove => self.removes,
            OpKind::List => self.lists,
        }
    }

    pub(super) fn calls_mut(&mut self, op: OpKind) -> &mut u64 {
        match op {
            OpKind::Open => &mut self.opens,
            OpKind::Read => &mut self.reads,
            OpKind::Write => &mut self.writes,
            OpKind::SyncData => &mut self.sync_datas,
            OpKind::SyncDir => &mut self.sync_dirs,
            OpKind::SetLen => &mut self.set_lens,
            OpKind::Preallocate => &mut self.preallocates,
            OpKind::Rename => &mut self.renames,
            OpKind::Remove => &mut self.removes,
            OpKind::List => &mut self.lists,
        }
    }
}

/// Armed faults: one-shot ones keyed by the absolute call index they fire at, and
/// persistent ones that fire on every call of their kind.
#[derive(Debug, Default)]
pub(super) struct Faults {
    one_shot: Vec<(OpKind, u64, FaultKind)>,
    always: BTreeMap<OpKind, FaultKind>,
}

impl Faults {
    pub(super) fn arm_once(&mut self, op: OpKind, call_index: u64, kind: FaultKind) {
        self.one_shot.push((op, call_index, kind));
    }

    pub(super) fn arm_always(&mut self, op: OpKind, kind: FaultKind) {
        self.always.insert(op, kind);
    }

    pub(super) fn clear(&mut self) {
        self.one_shot.clear();
        self.always.clear();
    }

    /// The fault that fires for call number `call_index` of `op`, consuming a one-shot one.
    pub(super) fn take(&mut self, op: OpKind, call_index: u64) -> Option<FaultKind> {
        let once = self
            .one_shot
            .iter()
            .position(|&(o, i, _)| o == op && i == call_index);
        let once = once.map(|pos| self.one_shot.remove(pos).2);
        once.or_else(|| self.always.get(&op).copied())
    }
}
