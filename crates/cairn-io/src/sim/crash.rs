//! Simulated power loss: rebuilds the post-crash state from the durable state plus whatever
//! part of the unsynced operations the crash model lets through, chosen by the seeded RNG.

use rand::rngs::StdRng;
use rand::{Rng, RngCore};

use super::sectors::SECTOR_BYTES;
use super::state::{Inner, Inode, PendingOp, write_into};
use super::types::CrashModel;

/// Crashes the whole file system: every inode's content and every directory's entries
/// become what the model lets survive; handles and locks from before die with the epoch.
pub(super) fn crash(inner: &mut Inner, model: CrashModel) {
    for inode in inner.inodes.values_mut() {
        crash_inode(inode, model, &mut inner.rng);
    }
    let ops = std::mem::take(&mut inner.pending_dir_ops);
    let kept: Vec<bool> = match model {
        CrashModel::DropUnsynced => vec![false; ops.len()],
        CrashModel::PrefixOrdered => {
            let survivors = inner.rng.random_range(0..=ops.len());
            (0..ops.len()).map(|i| i < survivors).collect()
        }
        CrashModel::AnySubset | CrashModel::Paranoid => {
            ops.iter().map(|_| inner.rng.random_bool(0.5)).collect()
        }
    };
    for (op, kept) in ops.iter().zip(kept) {
        if kept {
            op.apply_durable(&mut inner.dirs);
        }
    }
    for inode in inner.inodes.values_mut() {
        inode.links = 0;
    }
    for (dir_path, dir) in &mut inner.dirs {
        dir.current = dir.durable.clone();
        for (name, ino) in &dir.current {
            if let Some(inode) = inner.inodes.get_mut(ino) {
                inode.links += 1;
                inode.path = dir_path.join(name);
            }
        }
    }
    inner.collect_garbage();
    inner.locks.clear();
    inner.epoch += 1;
    inner.stats.crashes += 1;
}

/// Replays onto the durable content the part of the pending operations that survives.
fn crash_inode(inode: &mut Inode, model: CrashModel, rng: &mut StdRng) {
    let pending = std::mem::take(&mut inode.pending);
    let content = &mut inode.durable;
    match model {
        CrashModel::DropUnsynced => {}
        CrashModel::PrefixOrdered => {
            let survivors = rng.random_range(0..=pending.len());
            for (i, op) in pending[..survivors].iter().enumerate() {
                match op {
                    PendingOp::Write { offset, bytes }
                        if i + 1 == survivors && !bytes.is_empty() && rng.random_bool(0.5) =>
                    {
                        let landed = rng.random_range(0..bytes.len());
                        write_into(content, *offset, &bytes[..landed]);
                    }
                    _ => op.apply(content),
                }
            }
        }
        CrashModel::AnySubset | CrashModel::Paranoid => {
            for op in &pending {
                match op {
                    PendingOp::Write { offset, bytes } if !bytes.is_empty() => {
                        let landed = match rng.random_range(0..3u8) {
                            0 => bytes.len(),
                            1 => 0,
                            _ => rng.random_range(0..bytes.len()),
                        };
                        write_into(content, *offset, &bytes[..landed]);
                        if model == CrashModel::Paranoid && landed < bytes.len() {
                            let start = *offset + landed as u64;
                            garble_sectors(content, start, *offset + bytes.len() as u64, rng);
                        }
                    }
                    _ => {
                        if rng.random_bool(0.5) {
                            op.apply(content);
                        }
                    }
                }
            }
        }
    }
    inode.durable_written.truncate_bytes(content.len() as u64);
    inode.current = content.clone();
    inode.open_handles = 0;
}

/// Fills every sector touched by bytes `[start, end)` with random bytes, within the file.
fn garble_sectors(content: &mut [u8], start: u64, end: u64, rng: &mut StdRng) {
    let first = (start / SECTOR_BYTES * SECTOR_BYTES) as usize;
    let last = (end.div_ceil(SECTOR_BYTES) * SECTOR_BYTES).min(content.len() as u64) as usize;
    if first < last {
        rng.fill_bytes(&mut content[first..last]);
    }
}
