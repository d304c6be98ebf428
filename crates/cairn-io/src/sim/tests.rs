//! Behaviour of the simulated file system: POSIX-like names and handles, and what each crash
//! model keeps.

use std::io;
use std::path::Path;

use super::*;
use crate::{FileRef, Fs, OpenOptions};

fn p(s: &str) -> &Path {
    Path::new(s)
}

/// A file system with `/d/f` created, its entry synced, and `synced` written and synced.
fn with_synced_file(seed: u64, synced: &[u8]) -> (SimFs, FileRef) {
    let fs = SimFs::new(seed);
    fs.create_dir_all(p("/d")).unwrap();
    let f = fs.open(p("/d/f"), OpenOptions::create_new()).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    f.write_all_at(synced, 0).unwrap();
    f.sync_data().unwrap();
    (fs, f)
}

#[test]
fn sim_fs_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<SimFs>();
    let fs = SimFs::new(1);
    fs.clone().write_file_durable(p("/x"), b"abc").unwrap();
    assert_eq!(fs.read_file(p("/x")).unwrap(), b"abc");
}

#[test]
fn reads_writes_and_sizes() {
    let fs = SimFs::new(1);
    let f = fs.open(p("/f"), OpenOptions::create_new()).unwrap();
    f.write_all_at(b"hello", 3).unwrap();
    assert_eq!(f.len_bytes().unwrap(), 8);
    assert_eq!(fs.read_file(p("/f")).unwrap(), b"\0\0\0hello");
    let mut buf = [0u8; 10];
    assert_eq!(
        f.read_at(&mut buf, 6).unwrap(),
        2,
        "partial read near the end"
    );
    assert_eq!(&buf[..2], b"lo");
    assert_eq!(f.read_at(&mut buf, 8).unwrap(), 0, "0 at end of file");
    assert_eq!(f.read_at(&mut buf, 100).unwrap(), 0, "0 past end of file");
    f.write_all_at(b"", 100).unwrap();
    assert_eq!(f.len_bytes().unwrap(), 8, "an empty write does not extend");
    f.set_len(4).unwrap();
    assert_eq!(fs.read_file(p("/f")).unwrap(), b"\0\0\0h");
    f.set_len(6).unwrap();
    assert_eq!(fs.read_file(p("/f")).unwrap(), b"\0\0\0h\0\0");
    f.preallocate(3).unwrap();
    assert_eq!(f.len_bytes().unwrap(), 6, "preallocate never shrinks");
    f.preallocate(10).unwrap();
    assert_eq!(fs.read_file(p("/f")).unwrap(), b"\0\0\0h\0\0\0\0\0\0");
    assert_eq!(f.append(b"xy").unwrap(), 10);
    assert_eq!(f.len_bytes().unwrap(), 12);
    assert!(!f.is_direct());
    let ro = fs.open(p("/f"), OpenOptions::read()).unwrap();
    assert_eq!(
        ro.write_all_at(b"z", 0).unwrap_err().raw_os_error(),
        Some(libc::EBADF)
    );
    assert_eq!(
        ro.set_len(0).unwrap_err().raw_os_error(),
        Some(libc::EINVAL)
    );
}

#[test]
fn names_behave_like_posix() {
    let fs = SimFs::new(2);
    let err = fs
        .open(p("/nodir/f"), OpenOptions::create_new())
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "parent must exist");
    assert_eq!(
        fs.open(p("/f"), OpenOptions::read()).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    let create_ro = OpenOptions {
        create: true,
        ..OpenOptions::read()
    };
    assert_eq!(
        fs.open(p("/f"), create_ro).unwrap_err().raw_os_error(),
        Some(libc::EINVAL)
    );
    fs.create_dir_all(p("a/b/../c/./d")).unwrap();
    assert!(fs.exists(p("/a/c/d")).unwrap() && fs.exists(p("/a")).unwrap());
    assert!(!fs.exists(p("/a/b")).unwrap());
    let f = fs.open(p("/a/c/f"), OpenOptions::create_new()).unwrap();
    f.write_all_at(b"12345", 0).unwrap();
    let again = fs.open(p("/a/c/f"), OpenOptions::create_new()).unwrap_err();
    assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    let mut listed = fs.list_dir(p("/a/c")).unwrap();
    listed.sort_by(|x, y| x.name.cmp(&y.name));
    let summary: Vec<_> = listed
        .iter()
        .map(|e| (e.name.as_str(), e.len_bytes, e.is_dir))
        .collect();
    assert_eq!(summary, vec![("d", 0, true), ("f", 5, false)]);
    assert_eq!(fs.file_names(p("/a/c")).unwrap(), vec!["f".to_string()]);
    let dir_open = fs.open(p("/a/c/d"), OpenOptions::read_write()).unwrap_err();
    assert_eq!(dir_open.raw_os_error(), Some(libc::EISDIR));
    assert_eq!(
        fs.list_dir(p("/a/c/f")).unwrap_err().raw_os_error(),
        Some(libc::ENOTDIR)
    );
    assert_eq!(
        fs.remove_file(p("/a/nope")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );

    // Rename replaces the target atomically; the open handle follows its inode.
    fs.write_file_durable(p("/a/c/g"), b"old target").unwrap();
    fs.rename(p("/a/c/f"), p("/a/c/g")).unwrap();
    assert!(!fs.exists(p("/a/c/f")).unwrap());
    f.write_all_at(b"!", 5).unwrap();
    assert_eq!(fs.read_file(p("/a/c/g")).unwrap(), b"12345!");
    assert_eq!(
        fs.rename(p("/a/c/f"), p("/x")).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );

    // After removal the handle still works on an inode nobody can see.
    fs.remove_file(p("/a/c/g")).unwrap();
    f.write_all_at(b"gone", 0).unwrap();
    let mut back = [0u8; 4];
    f.read_exact_at(&mut back, 0).unwrap();
    assert_eq!(&back, b"gone");
    assert!(fs.file_names(p("/a/c")).unwrap().is_empty());
    assert!(!fs.exists(p("/a/c/g")).unwrap());
}

#[test]
fn locks_exclude_until_dropped_or_crash() {
    let fs = SimFs::new(3);
    let held = fs.lock_exclusive(p("/LOCK")).unwrap();
    assert_eq!(held.path(), p("/LOCK"));
    assert!(fs.exists(p("/LOCK")).unwrap(), "the lock file is created");
    let err = fs.lock_exclusive(p("/LOCK")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    drop(held);
    let again = fs.lock_exclusive(p("/LOCK")).unwrap();
    fs.crash();
    let after_crash = fs.lock_exclusive(p("/LOCK")).unwrap();
    drop(again); // From before the crash: must not release the new holder's lock.
    assert_eq!(
        fs.lock_exclusive(p("/LOCK")).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    drop(after_crash);
}

#[test]
fn synced_data_survives_every_model_over_many_seeds() {
    let synced: Vec<u8> = (0..1536u32).map(|i| (i * 7 + 1) as u8).collect();
    for model in CrashModel::ALL {
        for seed in 0..200 {
            let (fs, f) = with_synced_file(seed, &synced);
            // Unsynced sector-aligned appends and a size change after the synced bytes.
            f.write_all_at(&[0xAA; 700], 1536).unwrap();
            f.preallocate(8192).unwrap();
            f.write_all_at(&[0xBB; 512], 4096).unwrap();
            fs.crash_with(model);
            let after = fs.read_file(p("/d/f")).unwrap();
            assert!(
                after.len() >= synced.len(),
                "{model:?} seed {seed}: synced length lost"
            );
            assert_eq!(&after[..synced.len()], &synced[..], "{model:?} seed {seed}");
        }
    }
}

#[test]
fn drop_unsynced_loses_exactly_the_unsynced_changes() {
    let (fs, f) = with_synced_file(4, b"durable");
    f.write_all_at(b"volatile", 7).unwrap();
    f.set_len(3).unwrap();
    let g = fs.open(p("/d/g"), OpenOptions::create_new()).unwrap();
    g.write_all_at(b"synced data, unsynced entry", 0).unwrap();
    g.sync_data().unwrap();
    fs.crash_with(CrashModel::DropUnsynced);
    assert_eq!(fs.read_file(p("/d/f")).unwrap(), b"durable");
    assert!(
        !fs.exists(p("/d/g")).unwrap(),
        "a file whose creation was not synced vanishes"
    );
}

#[test]
fn any_subset_keeps_loses_and_tears_but_never_touches_synced_bytes() {
    let synced = [0x11u8; 512];
    let (mut whole, mut lost, mut torn) = (0, 0, 0);
    for seed in 0..300 {
        let (fs, f) = with_synced_file(seed, &synced);
        f.write_all_at(&[0x22; 512], 1024).unwrap();
        fs.crash_with(CrashModel::AnySubset);
        let after = fs.read_file(p("/d/f")).unwrap();
        assert_eq!(&after[..512], &synced[..], "seed {seed}");
        match after.len() {
            512 => lost += 1,
            1536 => whole += 1,
            n => {
                assert!(n > 1024 && n < 1536, "seed {seed}: length {n}");
                torn += 1;
            }
        }
        if after.len() > 512 {
            assert!(after[512..1024].iter().all(|&b| b == 0), "gap is zeros");
            assert!(
                after[1024..].iter().all(|&b| b == 0x22),
                "landed bytes are the written ones"
            );
        }
    }
    assert!(
        whole > 0 && lost > 0 && torn > 0,
        "whole {whole} lost {lost} torn {torn}"
    );
}

#[test]
fn prefix_ordered_keeps_only_prefixes() {
    let mut later_survived = 0;
    for seed in 0..300 {
        let (fs, f) = with_synced_file(seed, &[1u8; 512]);
        f.write_all_at(&[2u8; 512], 512).unwrap();
        f.write_all_at(&[3u8; 512], 1024).unwrap();
        fs.crash_with(CrashModel::PrefixOrdered);
        let after = fs.read_file(p("/d/f")).unwrap();
        if after.len() > 1024 {
            later_survived += 1;
            assert!(
                after[512..1024].iter().all(|&b| b == 2),
                "seed {seed}: a hole before a survivor"
            );
        }
    }
    assert!(later_survived > 0);
}

#[test]
fn paranoid_garbles_sectors_of_lost_writes_including_shared_synced_bytes() {
    let mut garbled_synced = 0;
    for seed in 0..100 {
        // 100 synced bytes share sector 0 with the unsynced write at 100: a rewrite.
        let (fs, f) = with_synced_file(seed, &[5u8; 100]);
        f.write_all_at(&[6u8; 100], 100).unwrap();
        fs.crash_with(CrashModel::Paranoid);
        let after = fs.read_file(p("/d/f")).unwrap();
        let intact = after[..100].iter().all(|&b| b == 5);
        let whole = after.len() == 200 && after[100..].iter().all(|&b| b == 6);
        if !intact {
            garbled_synced += 1;
        }
        assert!(
            intact || !whole,
            "seed {seed}: garbage although the write landed whole"
        );
    }
    assert!(
        garbled_synced > 0,
        "Paranoid must punish rewriting a synced sector"
    );
}

#[test]
fn creates_renames_and_removes_need_sync_dir() {
    let fs = SimFs::new(5);
    fs.create_dir_all(p("/d")).unwrap();
    fs.write_file_durable(p("/d/old"), b"x").unwrap();
    fs.write_file_durable(p("/d/doomed"), b"y").unwrap();
    fs.rename(p("/d/old"), p("/d/new")).unwrap();
    fs.remove_file(p("/d/doomed")).unwrap();
    fs.open(p("/d/created"), OpenOptions::create_new()).unwrap();
    fs.crash_with(CrashModel::DropUnsynced);
    assert_eq!(fs.file_names(p("/d")).unwrap(), vec!["doomed", "old"]);

    fs.rename(p("/d/old"), p("/d/new")).unwrap();
    fs.remove_file(p("/d/doomed")).unwrap();
    fs.open(p("/d/created"), OpenOptions::create_new()).unwrap();
    fs.sync_dir(p("/d")).unwrap();
    fs.crash_with(CrashModel::AnySubset);
    assert_eq!(fs.file_names(p("/d")).unwrap(), vec!["created", "new"]);
    assert_eq!(fs.read_file(p("/d/new")).unwrap(), b"x");
}

#[test]
fn unsynced_rename_is_atomic_under_any_subset() {
    let (mut renamed, mut not_renamed) = (0, 0);
    for seed in 0..100 {
        let fs = SimFs::new(seed);
        fs.write_file_durable(p("/dst"), b"previous").unwrap();
        fs.write_file_durable(p("/tmp"), b"next").unwrap();
        fs.rename(p("/tmp"), p("/dst")).unwrap();
        fs.crash();
        let names = fs.file_names(p("/")).unwrap();
        let dst = fs.read_file(p("/dst")).unwrap();
        if names == ["dst"] {
            assert_eq!(dst, b"next");
            renamed += 1;
        } else {
            assert_eq!(names, ["dst", "tmp"]);
            assert_eq!(dst, b"previous");
            not_renamed += 1;
        }
    }
    assert!(renamed > 0 && not_renamed > 0);
}

#[test]
fn cross_directory_rename_synced_by_the_target_directory() {
    let fs = SimFs::new(6);
    fs.create_dir_all(p("/a")).unwrap();
    fs.create_dir_all(p("/b")).unwrap();
    let f = fs.open(p("/a/tmp"), OpenOptions::create_new()).unwrap();
    f.write_all_at(b"data", 0).unwrap();
    f.sync_data().unwrap();
    fs.rename(p("/a/tmp"), p("/b/final")).unwrap();
    fs.sync_dir(p("/b")).unwrap();
    for model in CrashModel::ALL {
        fs.crash_with(model);
        assert!(
            fs.file_names(p("/a")).unwrap().is_empty(),
            "{model:?}: source resurrected"
        );
        assert_eq!(fs.read_file(p("/b/final")).unwrap(), b"data");
    }
}

#[test]
fn handles_from_before_a_crash_fail_every_call() {
    let (fs, f) = with_synced_file(7, b"abc");
    fs.crash();
    let mut buf = [0u8; 3];
    let errors = [
        f.read_at(&mut buf, 0).unwrap_err(),
        f.write_all_at(b"x", 0).unwrap_err(),
        f.sync_data().unwrap_err(),
        f.len_bytes().unwrap_err(),
        f.set_len(0).unwrap_err(),
        f.preallocate(10).unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert_eq!(err.to_string(), "handle from before a simulated crash");
    }
    let fresh = fs.open(p("/d/f"), OpenOptions::read_write()).unwrap();
    fresh.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"abc");
    drop(f);
    fresh.write_all_at(b"z", 0).unwrap();
}

/// A fixed workload mixing synced and unsynced writes, renames and creates; returns every
/// file's post-crash content.
fn scripted_run(seed: u64, model: CrashModel) -> Vec<(String, Vec<u8>)> {
    let fs = SimFs::with_crash_model(seed, model);
    fs.create_dir_all(p("/w")).unwrap();
    let a = fs.open(p("/w/a"), OpenOptions::create_new()).unwrap();
    let b = fs.open(p("/w/b"), OpenOptions::create_new()).unwrap();
    fs.sync_dir(p("/w")).unwrap();
    for i in 0..20u8 {
        a.write_all_at(&[i; 300], u64::from(i) * 300).unwrap();
        b.write_all_at(&[i ^ 0x5A; 777], u64::from(i) * 50).unwrap();
        if i % 7 == 3 {
            a.sync_data().unwrap();
        }
    }
    fs.write_garbage(p("/w/b"), 10, 20).unwrap();
    fs.rename(p("/w/b"), p("/w/c")).unwrap();
    fs.open(p("/w/d"), OpenOptions::create_new()).unwrap();
    fs.crash();
    let names = fs.file_names(p("/w")).unwrap();
    names
        .into_iter()
        .map(|n| (n.clone(), fs.read_file(&Path::new("/w").join(n)).unwrap()))
        .collect()
}

#[test]
fn same_seed_same_operations_same_post_crash_state() {
    for model in CrashModel::ALL {
        for seed in 0..20 {
            assert_eq!(
                scripted_run(seed, model),
                scripted_run(seed, model),
                "{model:?} {seed}"
            );
        }
    }
    let outcomes: std::collections::BTreeSet<_> = (0..20)
        .map(|seed| scripted_run(seed, CrashModel::AnySubset))
        .collect();
    assert!(
        outcomes.len() > 1,
        "different seeds should crash differently"
    );
}

#[test]
fn corruption_helpers_hit_durable_and_current_content() {
    let fs = SimFs::new(8);
    fs.write_file_durable(p("/dir/f"), &[0u8; 16]).unwrap();
    fs.flip_bit(p("/dir/f"), 3, 1).unwrap();
    fs.zero_range(p("/dir/f"), 0, 2).unwrap();
    fs.write_garbage(p("/dir/f"), 8, 8).unwrap();
    let current = fs.read_file(p("/dir/f")).unwrap();
    assert_eq!(current[3], 2);
    assert_eq!(fs.read_file_durable(p("/dir/f")).unwrap(), current);
    assert!(
        current[8..].iter().any(|&b| b != 0),
        "8 random bytes are not all zero"
    );
    assert_eq!(
        fs.flip_bit(p("/dir/f"), 16, 0).unwrap_err().raw_os_error(),
        Some(libc::EINVAL)
    );
    fs.truncate_file(p("/dir/f"), 4).unwrap();
    fs.crash();
    assert_eq!(fs.read_file(p("/dir/f")).unwrap(), vec![0, 0, 0, 2]);
    assert_eq!(
        fs.flip_bit(p("/dir/missing"), 0, 0).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
}
