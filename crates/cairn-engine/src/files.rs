//! The data directory's layout and the one way small metadata files are replaced.
//!
//! ```text
//! <dir>/LOCK                    exclusive lock: one process per data directory
//! <dir>/CATALOG                 the catalog (catalog/codec.rs)
//! <dir>/wal/                    WAL segments (cairn-wal)
//! <dir>/c<id>/MANIFEST          a collection's manifest (manifest.rs)
//! <dir>/c<id>/<file:016x>.cpf   its partition files (cairn-storage's packed format)
//! ```
//! Collection directories are named by numeric id only; names never reach a path.

use std::path::{Path, PathBuf};

use cairn_io::{Fs, OpenOptions};

use crate::error::{EngineError, Result};

pub const CATALOG: &str = "CATALOG";
pub const MANIFEST: &str = "MANIFEST";
pub const LOCK: &str = "LOCK";
pub const WAL_DIR: &str = "wal";
pub const PARTITION_EXT: &str = "cpf";

pub fn collection_dir(root: &Path, id: u64) -> PathBuf {
    root.join(format!("c{id}"))
}

/// The id of a collection directory name (`c<id>`).
pub fn parse_collection_dir(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('c')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn partition_file_name(file_id: u64) -> String {
    format!("{file_id:016x}.{PARTITION_EXT}")
}

/// The file id of a partition file name.
pub fn parse_partition_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(PARTITION_EXT)?.strip_suffix('.')?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Replaces `path` with `bytes` atomically and durably: write `<path>.tmp`, fsync it, rename
/// over `path`, fsync the directory. A crash leaves the old or the new contents.
pub fn replace_durably(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    match fs.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(EngineError::io("remove stale", &tmp, e)),
    }
    let f = fs
        .open(&tmp, OpenOptions::create_new())
        .map_err(|e| EngineError::io("create", &tmp, e))?;
    f.write_all_at(bytes, 0)
        .map_err(|e| EngineError::io("write", &tmp, e))?;
    f.sync_data()
        .map_err(|e| EngineError::io("sync", &tmp, e))?;
    drop(f);
    fs.rename(&tmp, path)
        .map_err(|e| EngineError::io("rename", &tmp, e))?;
    sync_parent(fs, path)
}

pub fn sync_parent(fs: &dyn Fs, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs.sync_dir(dir)
        .map_err(|e| EngineError::io("sync directory", dir, e))
}

/// Reads a whole (small) file, or `None` if it does not exist.
pub fn read_optional(fs: &dyn Fs, path: &Path) -> Result<Option<Vec<u8>>> {
    let f = match fs.open(path, OpenOptions::read()) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io("open", path, e)),
    };
    let len = f
        .len_bytes()
        .map_err(|e| EngineError::io("stat", path, e))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, 0)
        .map_err(|e| EngineError::io("read", path, e))?;
    Ok(Some(buf))
}
