//! The simulated file system's state behind its one mutex: inodes holding durable content
//! plus the unsynced operations since, directories holding durable entries plus the unsynced
//! entry changes since, and the bookkeeping (faults, counters, locks, capacity).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path, PathBuf};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::sectors::SectorSet;
use super::types::{CrashModel, Faults, OpKind, SimStats};

/// Inode number: the identity a handle keeps across renames and removals.
pub(super) type Ino = u64;

/// Largest file the simulation lets a write, `set_len` or `preallocate` reach (`EFBIG`
/// beyond): contents live in memory, and a stray huge offset should fail, not abort.
pub(super) const MAX_FILE_BYTES: u64 = 1 << 40;

/// One content-changing call not yet made durable by `sync_data`, in call order.
#[derive(Debug, Clone)]
pub(super) enum PendingOp {
    Write { offset: u64, bytes: Vec<u8> },
    SetLen(u64),
    Preallocate(u64),
}

impl PendingOp {
    /// Applies the whole operation to `content`.
    pub(super) fn apply(&self, content: &mut Vec<u8>) {
        match self {
            PendingOp::Write { offset, bytes } => write_into(content, *offset, bytes),
            PendingOp::SetLen(len) => content.resize(*len as usize, 0),
            PendingOp::Preallocate(len) => {
                if (content.len() as u64) < *len {
                    content.resize(*len as usize, 0);
                }
            }
        }
    }
}

/// Writes `bytes` at `offset`, zero-filling any gap past the end. An empty write changes
/// nothing (like `pwrite` of zero bytes, it does not extend the file).
pub(super) fn write_into(content: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let start = offset as usize;
    let end = start + bytes.len();
    if content.len() < end {
        content.resize(end, 0);
    }
    content[start..end].copy_from_slice(bytes);
}

/// A file's data. `current` is what reads see; it always equals `durable` with `pending`
/// applied in order.
#[derive(Debug, Default)]
pub(super) struct Inode {
    pub(super) durable: Vec<u8>,
    pub(super) current: Vec<u8>,
    pub(super) pending: Vec<PendingOp>,
    /// Sectors of `durable` that hold bytes a synced write put there (not zero fill): the
    /// overwrite detector's "acknowledged" sectors.
    pub(super) durable_written: SectorSet,
    /// Current directory entries naming this inode (0 or 1: there are no hard links).
    pub(super) links: u32,
    /// Live handles from `open` in the current epoch.
    pub(super) open_handles: u32,
    /// The path it was last linked at, for messages.
    pub(super) path: PathBuf,
}

impl Inode {
    /// Makes every pending operation durable, as `fdatasync` does.
    pub(super) fn sync(&mut self) {
        for op in std::mem::take(&mut self.pending) {
            match &op {
                PendingOp::Write { offset, bytes } => {
                    self.durable_written
                        .insert_bytes(*offset, bytes.len() as u64);
                }
                PendingOp::SetLen(len) => self.durable_written.truncate_bytes(*len),
                PendingOp::Preallocate(_) => {}
            }
            op.apply(&mut self.durable);
        }
    }
}

/// A directory. Directories themselves are always durable; only their file entries have an
/// unsynced state.
#[derive(Debug, Default)]
pub(super) struct Dir {
    pub(super) durable: BTreeMap<String, Ino>,
    pub(super) current: BTreeMap<String, Ino>,
    pub(super) subdirs: BTreeSet<String>,
}

/// One directory-entry change not yet made durable by `sync_dir`. Removals and renames name
/// the inode they expect so that, replayed over an older durable state, they never remove an
/// entry that by then names another file.
#[derive(Debug, Clone)]
pub(super) enum DirOp {
    Link {
        dir: PathBuf,
        name: String,
        ino: Ino,
    },
    Unlink {
        dir: PathBuf,
        name: String,
        ino: Ino,
    },
    Rename {
        from_dir: PathBuf,
        from_name: String,
        to_dir: PathBuf,
        to_name: String,
        ino: Ino,
    },
}

impl DirOp {
    /// The `(directory, name)` entries the change touches.
    pub(super) fn keys(&self) -> Vec<(&Path, &str)> {
        match self {
            DirOp::Link { dir, name, .. } | DirOp::Unlink { dir, name, .. } => vec![(dir, name)],
            DirOp::Rename {
                from_dir,
                from_name,
                to_dir,
                to_name,
                ..
            } => {
                vec![(from_dir, from_name), (to_dir, to_name)]
            }
        }
    }

    pub(super) fn ino(&self) -> Ino {
        match self {
            DirOp::Link { ino, .. } | DirOp::Unlink { ino, .. } | DirOp::Rename { ino, .. } => *ino,
        }
    }

    /// Applies the change to the durable entries, as a whole (renames are atomic).
    pub(super) fn apply_durable(&self, dirs: &mut BTreeMap<PathBuf, Dir>) {
        let mut unlink_if = |dir: &Path, name: &str, ino: Ino| {
            if let Some(d) = dirs.get_mut(dir)
                && d.durable.get(name) == Some(&ino)
            {
                d.durable.remove(name);
            }
        };
        match self {
            DirOp::Link { dir, name, ino } => {
                if let Some(d) = dirs.get_mut(dir) {
                    d.durable.insert(name.clone(), *ino);
                }
            }
            DirOp::Unlink { dir, name, ino } => unlink_if(dir, name, *ino),
            DirOp::Rename {
                from_dir,
                from_name,
                to_dir,
                to_name,
                ino,
            } => {
                unlink_if(from_dir, from_name, *ino);
                if let Some(d) = dirs.get_mut(to_dir) {
                    d.durable.insert(to_name.clone(), *ino);
                }
            }
        }
    }
}

/// Everything a `SimFs` and its handles share.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) rng: StdRng,
    pub(super) crash_model: CrashModel,
    /// Bumped by every crash; handles remember the epoch they were opened in.
    pub(super) epoch: u64,
    pub(super) next_ino: Ino,
    pub(super) inodes: BTreeMap<Ino, Inode>,
    /// Keyed by normalised absolute path; `/` always exists.
    pub(super) dirs: BTreeMap<PathBuf, Dir>,
    pub(super) pending_dir_ops: Vec<DirOp>,
    pub(super) locks: BTreeSet<PathBuf>,
    pub(super) faults: Faults,
    pub(super) stats: SimStats,
    pub(super) capacity_bytes: Option<u64>,
    pub(super) forbid_durable_overwrite: bool,
    pub(super) overwrite_violations: Vec<String>,
}

/// A raw OS error, so that kinds and codes match what the kernel returns.
pub(super) fn os_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// Normalises by components into an absolute path: relative paths are taken relative to
/// `/`, `.` is dropped and `..` pops (there are no symlinks to make that wrong).
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

/// Splits a normalised path into its parent directory and final name; `None` for `/`.
pub(super) fn split(path: &Path) -> Option<(PathBuf, String)> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some((path.parent()?.to_path_buf(), name))
}

impl Inner {
    pub(super) fn new(seed: u64, crash_model: CrashModel) -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::from("/"), Dir::default());
        Self {
            rng: StdRng::seed_from_u64(seed),
            crash_model,
            epoch: 0,
            next_ino: 1,
            inodes: BTreeMap::new(),
            dirs,
            pending_dir_ops: Vec::new(),
            locks: BTreeSet::new(),
            faults: Faults::default(),
            stats: SimStats::default(),
            capacity_bytes: None,
            forbid_durable_overwrite: false,
            overwrite_violations: Vec::new(),
        }
    }

    /// Counts a call of `op` and fails it if a fault is armed for it.
    pub(super) fn enter(&mut self, op: OpKind) -> io::Result<()> {
        let index = self.stats.calls(op);
        *self.stats.calls_mut(op) += 1;
        match self.faults.take(op, index) {
            Some(kind) => {
                self.stats.faults_injected += 1;
                Err(kind.to_error())
            }
            None => Ok(()),
        }
    }

    /// The directory at normalised `path`: `ENOTDIR` if a file has that name, else `ENOENT`.
    pub(super) fn dir(&self, path: &Path) -> io::Result<&Dir> {
        match self.dirs.get(path) {
            Some(dir) => Ok(dir),
            None if self.file_at(path).is_some() => Err(os_error(libc::ENOTDIR)),
            None => Err(os_error(libc::ENOENT)),
        }
    }

    pub(super) fn dir_mut(&mut self, path: &Path) -> io::Result<&mut Dir> {
        self.dir(path)?;
        self.dirs
            .get_mut(path)
            .ok_or_else(|| os_error(libc::ENOENT))
    }

    /// The inode currently named by normalised `path`, if it names a file.
    pub(super) fn file_at(&self, path: &Path) -> Option<Ino> {
        let (dir, name) = split(path)?;
        self.dirs.get(&dir)?.current.get(&name).copied()
    }

    /// Resolves `path` to `(parent, name, inode)` of an existing file.
    pub(super) fn resolve_file(&self, path: &Path) -> io::Result<(PathBuf, String, Ino)> {
        let path = normalize(path);
        let (dir, name) = split(&path).ok_or_else(|| os_error(libc::EISDIR))?;
        match self.dir(&dir)?.current.get(&name) {
            Some(&ino) => Ok((dir, name, ino)),
            None if self.dirs.contains_key(&path) => Err(os_error(libc::EISDIR)),
            None => Err(os_error(libc::ENOENT)),
        }
    }

    pub(super) fn inode(&self, ino: Ino) -> io::Result<&Inode> {
        self.inodes
            .get(&ino)
            .ok_or_else(|| io::Error::other(format!("simulated inode {ino} vanished")))
    }

    pub(super) fn inode_mut(&mut self, ino: Ino) -> io::Result<&mut Inode> {
        self.inodes
            .get_mut(&ino)
            .ok_or_else(|| io::Error::other(format!("simulated inode {ino} vanished")))
    }

    pub(super) fn new_inode(&mut self) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode::default());
        ino
    }

    /// Points the current entry `dir/name` at `ino` (dropping the link of any file it named)
    /// and returns the inode it replaced. Records nothing as pending.
    fn set_current_entry(&mut self, dir: &Path, name: &str, ino: Ino) -> Option<Ino> {
        let replaced = self
            .dirs
            .get_mut(dir)
            .and_then(|d| d.current.insert(name.to_string(), ino));
        if let Some(old) = replaced.and_then(|old| self.inodes.get_mut(&old)) {
            old.links = old.links.saturating_sub(1);
        }
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.links += 1;
            inode.path = dir.join(name);
        }
        replaced
    }

    /// Creates the entry `dir/name` for a new inode (current only until `sync_dir`).
    pub(super) fn link(&mut self, dir: &Path, name: &str, ino: Ino) {
        self.set_current_entry(dir, name, ino);
        let (dir, name) = (dir.to_path_buf(), name.to_string());
        self.pending_dir_ops.push(DirOp::Link { dir, name, ino });
    }

    /// Removes the entry `dir/name` naming `ino` (current only until `sync_dir`).
    pub(super) fn unlink(&mut self, dir: &Path, name: &str, ino: Ino) {
        if let Some(d) = self.dirs.get_mut(dir) {
            d.current.remove(name);
        }
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.links = inode.links.saturating_sub(1);
        }
        let (dir, name) = (dir.to_path_buf(), name.to_string());
        self.pending_dir_ops.push(DirOp::Unlink { dir, name, ino });
    }

    /// Moves `ino` from `from` to `to`, replacing what `to` named (current only).
    pub(super) fn rename(&mut self, from: (&Path, &str), to: (&Path, &str), ino: Ino) {
        if let Some(d) = self.dirs.get_mut(from.0) {
            d.current.remove(from.1);
        }
        if let Some(inode) = self.inodes.get_mut(&ino) {
            inode.links = inode.links.saturating_sub(1);
        }
        self.set_current_entry(to.0, to.1, ino);
        self.pending_dir_ops.push(DirOp::Rename {
            from_dir: from.0.to_path_buf(),
            from_name: from.1.to_string(),
            to_dir: to.0.to_path_buf(),
            to_name: to.1.to_string(),
            ino,
        });
    }

    /// Makes durable every pending directory change that `select` picks, plus every earlier
    /// change to an entry those touch (so a durable rename never resurrects its source from
    /// a later-replayed create), in order.
    pub(super) fn commit_dir_ops(&mut self, select: impl Fn(&DirOp) -> bool) {
        let ops = std::mem::take(&mut self.pending_dir_ops);
        let mut chosen: Vec<bool> = ops.iter().map(&select).collect();
        for i in (0..ops.len()).rev() {
            if chosen[i] {
                continue;
            }
            let keys = ops[i].keys();
            let later_touches = (i + 1..ops.len())
                .any(|j| chosen[j] && ops[j].keys().iter().any(|key| keys.contains(key)));
            chosen[i] = later_touches;
        }
        for (op, chosen) in ops.into_iter().zip(chosen) {
            if chosen {
                op.apply_durable(&mut self.dirs);
            } else {
                self.pending_dir_ops.push(op);
            }
        }
    }

    /// Drops inodes nothing can reach any more: no current or durable entry, no pending
    /// directory change and no open handle.
    pub(super) fn collect_garbage(&mut self) {
        let mut reachable: BTreeSet<Ino> = BTreeSet::new();
        for dir in self.dirs.values() {
            reachable.extend(dir.durable.values().chain(dir.current.values()));
        }
        reachable.extend(self.pending_dir_ops.iter().map(DirOp::ino));
        self.inodes
            .retain(|ino, inode| inode.open_handles > 0 || reachable.contains(ino));
    }

    /// Sum of the current sizes of the files that occupy space: named or open.
    pub(super) fn usage_bytes(&self) -> u64 {
        let live = self
            .inodes
            .values()
            .filter(|i| i.links > 0 || i.open_handles > 0);
        live.map(|i| i.current.len() as u64).sum()
    }

    /// `ENOSPC` if growing the files by `growth_bytes` would pass the capacity.
    pub(super) fn check_capacity(&self, growth_bytes: u64) -> io::Result<()> {
        match self.capacity_bytes {
            Some(cap) if growth_bytes > 0 && self.usage_bytes() + growth_bytes > cap => {
                Err(os_error(libc::ENOSPC))
            }
            _ => Ok(()),
        }
    }
}
