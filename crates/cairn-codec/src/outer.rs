//! The optional outer stage over a whole page body: none, one LZ4 block, or one zstd frame.
//!
//! The stored form carries no length of its own: the page header holds `raw_len`, and
//! decompression must produce exactly that many bytes. It never allocates more than
//! `raw_len` bytes (the page header caps it at 256 MiB), whatever the stored bytes claim.
//!
//! ```text
//! None  stored = raw (stored.len() == raw_len)
//! Lz4   stored = one LZ4 block (no size prefix, no frame), lz4_flex::block format
//! Zstd  stored = one zstd frame (content size recorded), as zstd::bulk writes it
//! ```

use crate::error::{CodecError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Outer {
    None = 0,
    Lz4 = 1,
    Zstd = 2,
}

impl Outer {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Outer::None),
            1 => Ok(Outer::Lz4),
            2 => Ok(Outer::Zstd),
            _ => Err(CodecError::UnknownId {
                what: "outer stage",
                id,
            }),
        }
    }

    /// The stage's name in errors and tools.
    pub fn name(self) -> &'static str {
        match self {
            Outer::None => "none",
            Outer::Lz4 => "lz4",
            Outer::Zstd => "zstd",
        }
    }
}

/// Bound on LZ4's expansion (raw bytes per stored byte, with slack).
const LZ4_MAX_RATIO: usize = 256;
/// Bound on zstd's expansion: 128 KiB per block of at least 4 bytes is 32768; doubled.
const ZSTD_MAX_RATIO: usize = 65536;

/// Applies `stage` to `raw` (`zstd_level` is used by zstd only). `Outer::None` copies.
pub fn compress(stage: Outer, raw: &[u8], zstd_level: i32) -> Result<Vec<u8>> {
    match stage {
        Outer::None => Ok(raw.to_vec()),
        Outer::Lz4 => Ok(lz4_flex::block::compress(raw)),
        Outer::Zstd => zstd::bulk::compress(raw, zstd_level).map_err(|_| {
            CodecError::Unencodable("zstd compression failed (invalid level or out of memory)")
        }),
    }
}

/// Undoes `stage`; the output must be exactly `raw_len` bytes (checked, never exceeded).
pub fn decompress(stage: Outer, stored: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    let out = match stage {
        Outer::None => {
            if stored.len() != raw_len {
                return Err(length_mismatch(raw_len, stored.len()));
            }
            return Ok(stored.to_vec());
        }
        Outer::Lz4 => {
            // An LZ4 block expands at most ~255x (a length byte of 255 per 255 bytes out),
            // so a larger claim is refused before anything is allocated.
            let most = stored.len().saturating_add(1).saturating_mul(LZ4_MAX_RATIO);
            if raw_len > most {
                return Err(CodecError::Invalid {
                    field: "LZ4 raw length for its stored length",
                    value: raw_len as u64,
                    allowed: "<= 256 * (stored length + 1)",
                });
            }
            let mut out = vec![0u8; raw_len];
            let n = lz4_flex::block::decompress_into(stored, &mut out)
                .map_err(|e| failed(stage, &e))?;
            if n != raw_len {
                return Err(length_mismatch(raw_len, n));
            }
            out
        }
        Outer::Zstd => {
            // Every zstd block is at least 4 bytes and yields at most 128 KiB: a larger
            // claim is refused before anything is allocated.
            let most = stored.len().saturating_mul(ZSTD_MAX_RATIO);
            if raw_len > most {
                return Err(CodecError::Invalid {
                    field: "zstd raw length for its stored length",
                    value: raw_len as u64,
                    allowed: "<= 65536 * stored length",
                });
            }
            zstd::bulk::decompress(stored, raw_len).map_err(|e| failed(stage, &e))?
        }
    };
    if out.len() != raw_len {
        return Err(length_mismatch(raw_len, out.len()));
    }
    Ok(out)
}

fn failed(stage: Outer, e: &dyn std::fmt::Display) -> CodecError {
    CodecError::Decompress {
        stage: stage.name(),
        reason: e.to_string(),
    }
}

fn length_mismatch(expected: usize, found: usize) -> CodecError {
    CodecError::Mismatch {
        what: "outer stage output length",
        expected: expected as u64,
        found: found as u64,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const STAGES: [Outer; 3] = [Outer::None, Outer::Lz4, Outer::Zstd];

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251 / 7) as u8).collect()
    }

    #[test]
    fn ids_round_trip_and_unknown_is_an_error() {
        for s in STAGES {
            assert_eq!(Outer::from_id(s.id()).unwrap(), s);
        }
        assert!(matches!(
            Outer::from_id(3),
            Err(CodecError::UnknownId { id: 3, .. })
        ));
    }

    #[test]
    fn round_trips_including_empty() {
        for s in STAGES {
            for n in [0, 1, 7, 64, 1000, 100_000] {
                let raw = sample(n);
                let stored = compress(s, &raw, 3).unwrap();
                assert_eq!(decompress(s, &stored, n).unwrap(), raw, "{s:?} {n}");
            }
        }
    }

    #[test]
    fn compressible_input_shrinks() {
        let raw = sample(100_000);
        assert!(compress(Outer::Lz4, &raw, 3).unwrap().len() < raw.len() / 4);
        assert!(compress(Outer::Zstd, &raw, 3).unwrap().len() < raw.len() / 4);
    }

    #[test]
    fn wrong_raw_len_is_an_error() {
        for s in STAGES {
            let raw = sample(5000);
            let stored = compress(s, &raw, 3).unwrap();
            assert!(decompress(s, &stored, 4999).is_err(), "{s:?} short");
            assert!(decompress(s, &stored, 5001).is_err(), "{s:?} long");
            assert!(decompress(s, &stored, 0).is_err(), "{s:?} zero");
        }
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        let raw = sample(20_000);
        for s in [Outer::Lz4, Outer::Zstd] {
            let stored = compress(s, &raw, 3).unwrap();
            for cut in [0, 1, stored.len() / 2, stored.len() - 1] {
                assert!(
                    decompress(s, &stored[..cut], raw.len()).is_err(),
                    "{s:?} {cut}"
                );
            }
            let mut x = 0x1234_5678u32;
            for _ in 0..200 {
                let mut bad = stored.clone();
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let i = x as usize % bad.len();
                bad[i] ^= (x >> 24) as u8 | 1;
                if let Ok(out) = decompress(s, &bad, raw.len()) {
                    assert_eq!(out.len(), raw.len());
                }
            }
            assert!(decompress(s, &[0xff; 64], 1 << 20).is_err());
        }
    }

    #[test]
    fn largest_ratios_still_decode_and_larger_claims_fail_early() {
        let raw = vec![0u8; 256 << 20];
        let lz4 = compress(Outer::Lz4, &raw, 3).unwrap();
        assert!(lz4.len() * 250 < raw.len(), "{}", lz4.len());
        assert_eq!(decompress(Outer::Lz4, &lz4, raw.len()).unwrap(), raw);
        let zstd = compress(Outer::Zstd, &raw, 19).unwrap();
        assert!(zstd.len() * 32768 >= raw.len(), "{}", zstd.len());
        assert_eq!(decompress(Outer::Zstd, &zstd, raw.len()).unwrap(), raw);
        for s in [Outer::Lz4, Outer::Zstd] {
            assert!(matches!(
                decompress(s, &[0], 1 << 28),
                Err(CodecError::Invalid { .. })
            ));
        }
    }
}
