//! A collection's manifest: which partition files hold its data, and up to which WAL LSN each
//! time partition's rows are in files.
//!
//! The manifest is one small file replaced atomically ([`crate::files::replace_durably`]). A
//! flush writes the partition file first and then a manifest naming it; compaction writes the
//! merged file first and then a manifest naming it instead of its sources. A crash between the
//! steps leaves a file no manifest names, which the next open deletes: the old state. Files a
//! manifest no longer names are deleted only when no reader holds them.
//!
//! ```text
//! "CMAN" | u16 version=1 | u64 manifest sequence | u64 next_file_id
//! | u32 n | n × file: u64 file_id | i64 partition_start | u64 rows | i64 min_ts | i64 max_ts
//!                     | u64 len_bytes | u64 max_lsn | u8 encrypted
//! | u32 m | m × flushed: i64 partition_start | u64 lsn
//! | u32 CRC32C of all before
//! ```

use std::collections::BTreeMap;

use cairn_codec::bytes::{Reader, put_i64, put_u16, put_u32, put_u64};

const MAGIC: &[u8; 4] = b"CMAN";
const VERSION: u16 = 1;

/// One partition file as the manifest records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub file_id: u64,
    /// Start of the time partition (nanoseconds, a multiple of the partition interval).
    pub partition: i64,
    pub rows: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub len_bytes: u64,
    /// Every row in the file was logged at or below this LSN.
    pub max_lsn: u64,
    /// The file was written encrypted; opening refuses a file that is not (a downgrade).
    pub encrypted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub sequence: u64,
    pub next_file_id: u64,
    /// Ordered by (partition, file_id).
    pub files: Vec<FileMeta>,
    /// Per time partition: every logged row of that partition with LSN ≤ this value is in
    /// `files` (or was dropped by retention). Recovery skips those rows.
    pub flushed: BTreeMap<i64, u64>,
}

impl Manifest {
    /// Whether a row of `partition` logged at `lsn` is already in files.
    pub fn covers(&self, partition: i64, lsn: u64) -> bool {
        self.flushed.get(&partition).is_some_and(|&f| lsn <= f)
    }

    pub fn mark_flushed(&mut self, partition: i64, lsn: u64) {
        let e = self.flushed.entry(partition).or_insert(0);
        *e = (*e).max(lsn);
    }

    pub fn sort(&mut self) {
        self.files.sort_by_key(|f| (f.partition, f.file_id));
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.files.len() * 57 + self.flushed.len() * 16);
        out.extend_from_slice(MAGIC);
        put_u16(&mut out, VERSION);
        put_u64(&mut out, self.sequence);
        put_u64(&mut out, self.next_file_id);
        put_u32(&mut out, self.files.len() as u32);
        for f in &self.files {
            put_u64(&mut out, f.file_id);
            put_i64(&mut out, f.partition);
            put_u64(&mut out, f.rows);
            put_i64(&mut out, f.min_ts);
            put_i64(&mut out, f.max_ts);
            put_u64(&mut out, f.len_bytes);
            put_u64(&mut out, f.max_lsn);
            out.push(u8::from(f.encrypted));
        }
        put_u32(&mut out, self.flushed.len() as u32);
        for (&p, &lsn) in &self.flushed {
            put_i64(&mut out, p);
            put_u64(&mut out, lsn);
        }
        let crc = crc32c::crc32c(&out);
        put_u32(&mut out, crc);
        out
    }

    /// Decodes a manifest; on failure the byte offset and what was wrong.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, (u64, String)> {
        if bytes.len() < 4 + 2 + 16 + 8 + 4 {
            return Err((
                0,
                format!("{} bytes is too short for a manifest", bytes.len()),
            ));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err((body.len() as u64, "checksum mismatch".into()));
        }
        if &body[..4] != MAGIC {
            return Err((0, "bad magic, expected \"CMAN\"".into()));
        }
        let mut r = Reader::new(&body[4..]);
        let at =
            |r: &Reader<'_>, e: cairn_codec::CodecError| (4 + r.position() as u64, e.to_string());
        macro_rules! get {
            ($m:ident, $what:expr) => {{
                let v = r.$m($what);
                v.map_err(|e| at(&r, e))?
            }};
        }
        let version = get!(u16, "version");
        if version != VERSION {
            return Err((
                4,
                format!("manifest version {version}, this build reads {VERSION}"),
            ));
        }
        let mut m = Manifest {
            sequence: get!(u64, "sequence"),
            next_file_id: get!(u64, "next file id"),
            ..Manifest::default()
        };
        let n = get!(u32, "file count") as usize;
        if n > r.remaining() / 57 {
            return Err((
                4 + r.position() as u64,
                format!("{n} files do not fit in the manifest"),
            ));
        }
        for _ in 0..n {
            m.files.push(FileMeta {
                file_id: get!(u64, "file id"),
                partition: get!(i64, "partition"),
                rows: get!(u64, "rows"),
                min_ts: get!(i64, "min ts"),
                max_ts: get!(i64, "max ts"),
                len_bytes: get!(u64, "length"),
                max_lsn: get!(u64, "max lsn"),
                encrypted: match get!(u8, "encrypted flag") {
                    0 => false,
                    1 => true,
                    v => return Err((4 + r.position() as u64, format!("encrypted flag {v}"))),
                },
            });
        }
        for _ in 0..get!(u32, "flushed count") {
            let p = get!(i64, "partition");
            let lsn = get!(u64, "lsn");
            m.flushed.insert(p, lsn);
        }
        r.finish("manifest").map_err(|e| at(&r, e))?;
        Ok(m)
    }
}
