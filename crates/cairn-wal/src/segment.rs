//! Segment files: naming and the segment header.
//!
//! A segment is named `wal-<first LSN, 20 digits>.seg`, so lexical order is LSN order. Its
//! first block (4096 bytes) holds the header below, zero-padded; frames start at offset 4096.
//!
//! ```text
//! offset size field
//!   0    8    magic            "CAIRNWAL"
//!   8    2    format_version   u16 LE = 1
//!  10    2    header_bytes     u16 LE = 128
//!  12    4    block_bytes      u32 LE = 4096 (every flush starts and ends on this boundary)
//!  16    8    segment_id       u64 LE, random, non-zero (seeds every record CRC)
//!  24    8    first_lsn        u64 LE
//!  32    8    prev_first_lsn   u64 LE, first LSN of the previous segment (0: none)
//!  40    8    created_unix_ms  u64 LE
//!  48    1    cipher           0 = none, 1 = AES-256-GCM
//!  49    3    reserved         zero
//!  52    4    key_id           u32 LE (0 when not encrypted)
//!  56   16    salt             random (zero when not encrypted)
//!  72   16    key_check        HKDF-derived check value (zero when not encrypted)
//!  88    8    prev_last_lsn    u64 LE, last LSN the previous segment holds (0: none)
//!  96   28    reserved         zero
//! 124    4    header_crc       CRC32C of bytes 0..124
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::crypto::{KEY_CHECK_BYTES, KeyRing, SALT_BYTES, SegmentCipher, key_check};
use crate::error::{Corruption, Result, WalError};
use crate::record::u64_at;

pub const SEGMENT_MAGIC: [u8; 8] = *b"CAIRNWAL";
pub const FORMAT_VERSION: u16 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 128;
/// Flush alignment and the size of the header block.
pub const BLOCK_BYTES: usize = 4096;
const CIPHER_NONE: u8 = 0;
const CIPHER_AES_256_GCM: u8 = 1;

/// The decoded header of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_id: u64,
    pub first_lsn: u64,
    pub prev_first_lsn: u64,
    /// The last LSN of the previous segment. Normally `first_lsn − 1`; larger gaps record
    /// LSNs seen on disk past a cut torn tail, which are never reused.
    pub prev_last_lsn: u64,
    pub created_unix_ms: u64,
    /// `Some((key_id, salt, key_check))` when the segment is encrypted.
    pub encryption: Option<(u32, [u8; SALT_BYTES], [u8; KEY_CHECK_BYTES])>,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut b = [0u8; SEGMENT_HEADER_BYTES];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[10..12].copy_from_slice(&(SEGMENT_HEADER_BYTES as u16).to_le_bytes());
        b[12..16].copy_from_slice(&(BLOCK_BYTES as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.segment_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_lsn.to_le_bytes());
        b[32..40].copy_from_slice(&self.prev_first_lsn.to_le_bytes());
        b[40..48].copy_from_slice(&self.created_unix_ms.to_le_bytes());
        if let Some((key_id, salt, check)) = &self.encryption {
            b[48] = CIPHER_AES_256_GCM;
            b[52..56].copy_from_slice(&key_id.to_le_bytes());
            b[56..72].copy_from_slice(salt);
            b[72..88].copy_from_slice(check);
        }
        b[88..96].copy_from_slice(&self.prev_last_lsn.to_le_bytes());
        let crc = crc32c::crc32c(&b[..124]);
        b[124..128].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Result<SegmentHeader, Corruption> {
        if b.len() < SEGMENT_HEADER_BYTES {
            return Err(Corruption::Truncated {
                len: SEGMENT_HEADER_BYTES as u64,
                available: b.len() as u64,
            });
        }
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[0..8]);
        if magic != SEGMENT_MAGIC {
            return Err(Corruption::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([b[8], b[9]]);
        if version != FORMAT_VERSION {
            return Err(Corruption::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let stored = u32::from_le_bytes([b[124], b[125], b[126], b[127]]);
        let computed = crc32c::crc32c(&b[..124]);
        if stored != computed {
            return Err(Corruption::HeaderCrc { stored, computed });
        }
        let field = |field: &'static str, detail: String| Corruption::HeaderField { field, detail };
        let header_bytes = u16::from_le_bytes([b[10], b[11]]);
        if usize::from(header_bytes) != SEGMENT_HEADER_BYTES {
            return Err(field(
                "header_bytes",
                format!("{header_bytes}, expected 128"),
            ));
        }
        let block = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
        if block as usize != BLOCK_BYTES {
            return Err(field(
                "block_bytes",
                format!("{block}, expected {BLOCK_BYTES}"),
            ));
        }
        let segment_id = u64_at(b, 16);
        if segment_id == 0 {
            return Err(field("segment_id", "zero".into()));
        }
        let first_lsn = u64_at(b, 24);
        if first_lsn == 0 {
            return Err(field("first_lsn", "zero".into()));
        }
        let max = crate::Lsn::MAX.0;
        for (name, lsn) in [
            ("first_lsn", first_lsn),
            ("prev_first_lsn", u64_at(b, 32)),
            ("prev_last_lsn", u64_at(b, 88)),
        ] {
            if lsn > max {
                return Err(field(
                    name,
                    format!("{lsn} is above the largest allowed LSN {max}"),
                ));
            }
        }
        if b[49..52].iter().chain(&b[96..124]).any(|&x| x != 0) {
            return Err(field("reserved", "reserved bytes are not zero".into()));
        }
        let prev_last_lsn = u64_at(b, 88);
        if prev_last_lsn >= first_lsn {
            return Err(field(
                "prev_last_lsn",
                format!("{prev_last_lsn} is not below first LSN {first_lsn}"),
            ));
        }
        let encryption = match b[48] {
            CIPHER_NONE => None,
            CIPHER_AES_256_GCM => {
                let key_id = u32::from_le_bytes([b[52], b[53], b[54], b[55]]);
                let mut salt = [0u8; SALT_BYTES];
                salt.copy_from_slice(&b[56..72]);
                let mut check = [0u8; KEY_CHECK_BYTES];
                check.copy_from_slice(&b[72..88]);
                Some((key_id, salt, check))
            }
            other => return Err(field("cipher", format!("unknown cipher {other}"))),
        };
        if encryption.is_none() && b[52..88].iter().any(|&x| x != 0) {
            return Err(field(
                "key_id",
                "key fields are set on an unencrypted segment".into(),
            ));
        }
        Ok(SegmentHeader {
            segment_id,
            first_lsn,
            prev_first_lsn: u64_at(b, 32),
            prev_last_lsn,
            created_unix_ms: u64_at(b, 40),
            encryption,
        })
    }
}

/// `wal-<first LSN zero-padded to 20 digits>.seg`
pub fn segment_file_name(first_lsn: u64) -> String {
    format!("wal-{first_lsn:020}.seg")
}

/// The first LSN encoded in a segment file name, or `None` if the name is not a segment's.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Everything needed to write or read the frames of one segment.
#[derive(Debug)]
pub(crate) struct SegmentCtx {
    pub header: SegmentHeader,
    pub raw_header: [u8; SEGMENT_HEADER_BYTES],
    pub cipher: Option<SegmentCipher>,
    pub path: PathBuf,
}

impl SegmentCtx {
    /// A brand-new segment: random id and salt, keyed from the ring's current key.
    pub(crate) fn create(
        dir: &Path,
        first_lsn: u64,
        prev_first_lsn: u64,
        prev_last_lsn: u64,
        keys: Option<&KeyRing>,
    ) -> Result<Arc<SegmentCtx>> {
        let mut segment_id = 0u64;
        while segment_id == 0 {
            segment_id = u64::from_le_bytes(random_bytes::<8>()?);
        }
        let encryption = match keys {
            None => None,
            Some(ring) => {
                let key_id = ring.current_id();
                let master = ring.key(key_id).ok_or_else(|| WalError::InvalidOption {
                    name: "key_ring",
                    detail: format!("current key id {key_id} has no key"),
                })?;
                let salt = random_bytes::<SALT_BYTES>()?;
                Some((key_id, salt, key_check(master, &salt, segment_id)))
            }
        };
        let created_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let header = SegmentHeader {
            segment_id,
            first_lsn,
            prev_first_lsn,
            prev_last_lsn,
            created_unix_ms,
            encryption,
        };
        let path = dir.join(segment_file_name(first_lsn));
        Self::from_header(path, header, keys)
    }

    /// The context of an existing segment; checks that the key ring holds the right key.
    pub(crate) fn from_header(
        path: PathBuf,
        header: SegmentHeader,
        keys: Option<&KeyRing>,
    ) -> Result<Arc<SegmentCtx>> {
        let raw_header = header.encode();
        let cipher = match &header.encryption {
            None => None,
            Some((key_id, salt, check)) => {
                let ring = keys.ok_or_else(|| WalError::KeyRequired {
                    segment: path.clone(),
                })?;
                let master = ring.key(*key_id).ok_or_else(|| WalError::UnknownKey {
                    segment: path.clone(),
                    key_id: *key_id,
                })?;
                if key_check(master, salt, header.segment_id) != *check {
                    return Err(WalError::WrongKey {
                        segment: path,
                        key_id: *key_id,
                    });
                }
                Some(SegmentCipher::new(
                    master,
                    salt,
                    header.segment_id,
                    header.first_lsn,
                    raw_header,
                ))
            }
        };
        Ok(Arc::new(SegmentCtx {
            header,
            raw_header,
            cipher,
            path,
        }))
    }

    pub(crate) fn id(&self) -> u64 {
        self.header.segment_id
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| WalError::Random(e.to_string()))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_and_sort() {
        assert_eq!(segment_file_name(1), "wal-00000000000000000001.seg");
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_file_name("wal-1.seg"), None);
        assert_eq!(
            parse_segment_file_name("wal-0000000000000000000a.seg"),
            None
        );
        assert_eq!(
            parse_segment_file_name("wal-00000000000000000001.seg.tmp"),
            None
        );
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn header_roundtrip_and_every_check() {
        let h = SegmentHeader {
            segment_id: 5,
            first_lsn: 17,
            prev_first_lsn: 3,
            prev_last_lsn: 16,
            created_unix_ms: 1_700_000_000_000,
            encryption: Some((2, [9; 16], [8; 16])),
        };
        let raw = h.encode();
        assert_eq!(SegmentHeader::decode(&raw).unwrap(), h);
        let mut bad = raw;
        bad[0] = b'X';
        assert!(matches!(
            SegmentHeader::decode(&bad),
            Err(Corruption::BadMagic { .. })
        ));
        let mut bad = raw;
        bad[8] = 9;
        assert!(matches!(
            SegmentHeader::decode(&bad),
            Err(Corruption::UnsupportedVersion { found: 9, .. })
        ));
        let mut bad = raw;
        bad[30] ^= 1;
        assert!(matches!(
            SegmentHeader::decode(&bad),
            Err(Corruption::HeaderCrc { .. })
        ));
        assert!(matches!(
            SegmentHeader::decode(&raw[..100]),
            Err(Corruption::Truncated { .. })
        ));
    }
}
