//! The [`Fs`] trait for [`SimFs`]: names, directories and locks, with POSIX error codes.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::SimFs;
use super::file::{SimFile, lock};
use super::state::{Inner, normalize, os_error, split};
use super::types::OpKind;
use crate::{DirEntry, FileRef, Fs, LockGuard, OpenOptions};

/// Releases a simulated lock when the [`LockGuard`] holding it drops, unless a crash already
/// released every lock.
struct SimLockToken {
    shared: Arc<Mutex<Inner>>,
    path: PathBuf,
    epoch: u64,
}

impl Drop for SimLockToken {
    fn drop(&mut self) {
        let mut inner = lock(&self.shared);
        if inner.epoch == self.epoch {
            inner.locks.remove(&self.path);
        }
    }
}

/// Opens or creates the file at `path` and returns its inode (no handle is counted).
fn open_inode(inner: &mut Inner, path: &Path, create: bool, create_new: bool) -> io::Result<u64> {
    let path = normalize(path);
    let (dir, name) = split(&path).ok_or_else(|| os_error(libc::EISDIR))?;
    let existing = inner.dir(&dir)?.current.get(&name).copied();
    if inner.dirs.contains_key(&path) {
        return Err(os_error(libc::EISDIR));
    }
    match existing {
        Some(_) if create_new => Err(os_error(libc::EEXIST)),
        Some(ino) => Ok(ino),
        None if create || create_new => {
            let ino = inner.new_inode();
            inner.link(&dir, &name, ino);
            Ok(ino)
        }
        None => Err(os_error(libc::ENOENT)),
    }
}

impl Fs for SimFs {
    fn open(&self, path: &Path, options: OpenOptions) -> io::Result<FileRef> {
        let mut inner = self.lock();
        inner.enter(OpKind::Open)?;
        if (options.create || options.create_new) && !options.write {
            return Err(os_error(libc::EINVAL));
        }
        let ino = open_inode(&mut inner, path, options.create, options.create_new)?;
        inner.inode_mut(ino)?.open_handles += 1;
        Ok(Arc::new(SimFile {
            shared: Arc::clone(&self.shared),
            ino,
            epoch: inner.epoch,
            writable: options.write,
            direct: options.direct,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.enter(OpKind::Rename)?;
        let (from_dir, from_name, ino) = inner.resolve_file(from).map_err(|e| {
            if e.raw_os_error() == Some(libc::EISDIR) {
                io::Error::new(
                    io::ErrorKind::Unsupported,
                    "SimFs does not rename directories",
                )
            } else {
                e
            }
        })?;
        let to = normalize(to);
        let (to_dir, to_name) = split(&to).ok_or_else(|| os_error(libc::EISDIR))?;
        inner.dir(&to_dir)?;
        if inner.dirs.contains_key(&to) {
            return Err(os_error(libc::EISDIR));
        }
        if (from_dir.as_path(), from_name.as_str()) == (to_dir.as_path(), to_name.as_str()) {
            return Ok(());
        }
        inner.rename((&from_dir, &from_name), (&to_dir, &to_name), ino);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.enter(OpKind::Remove)?;
        let (dir, name, ino) = inner.resolve_file(path)?;
        inner.unlink(&dir, &name, ino);
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        let path = normalize(path);
        let mut at = PathBuf::from("/");
        for component in path.iter().skip(1) {
            let name = component.to_string_lossy().into_owned();
            let parent = at.clone();
            at.push(component);
            if inner.dirs.contains_key(&at) {
                continue;
            }
            let parent_dir = inner.dir_mut(&parent)?;
            if parent_dir.current.contains_key(&name) {
                return Err(os_error(libc::EEXIST));
            }
            parent_dir.subdirs.insert(name);
            inner.dirs.insert(at.clone(), Default::default());
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut inner = self.lock();
        inner.enter(OpKind::List)?;
        let dir = inner.dir(&normalize(path))?;
        let mut out = Vec::with_capacity(dir.current.len() + dir.subdirs.len());
        for (name, &ino) in &dir.current {
            let len_bytes = inner.inode(ino)?.current.len() as u64;
            out.push(DirEntry {
                name: name.clone(),
                len_bytes,
                is_dir: false,
            });
        }
        for name in &dir.subdirs {
            out.push(DirEntry {
                name: name.clone(),
                len_bytes: 0,
                is_dir: true,
            });
        }
        Ok(out)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.enter(OpKind::SyncDir)?;
        let path = normalize(path);
        inner.dir(&path)?;
        inner.commit_dir_ops(|op| op.keys().iter().any(|(dir, _)| *dir == path));
        inner.collect_garbage();
        Ok(())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let inner = self.lock();
        let path = normalize(path);
        Ok(inner.dirs.contains_key(&path) || inner.file_at(&path).is_some())
    }

    fn lock_exclusive(&self, path: &Path) -> io::Result<LockGuard> {
        let mut inner = self.lock();
        inner.enter(OpKind::Open)?;
        let normalized = normalize(path);
        if inner.locks.contains(&normalized) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is locked by another holder", path.display()),
            ));
        }
        open_inode(&mut inner, &normalized, true, false)?;
        inner.locks.insert(normalized.clone());
        let token = SimLockToken {
            shared: Arc::clone(&self.shared),
            path: normalized,
            epoch: inner.epoch,
        };
        Ok(LockGuard::new(Box::new(token), path.to_path_buf()))
    }
}
