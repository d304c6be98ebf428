//! Optional LZ4 compression of WRITE record payloads. The WAL's write bandwidth bounds
//! durable ingest (every row is written to the log before it is acknowledged), and a
//! columnar batch of repetitive telemetry compresses several-fold at a cost far below the
//! disk time it saves.
//!
//! A compressed payload (record flag [`FLAG_LZ4`]) is `u32 LE raw length | LZ4 block`. The
//! raw length is checked against [`MAX_RAW_BYTES`] before anything is allocated, and the
//! block must decompress to exactly that length.

/// Record flag: the payload is LZ4-compressed.
pub const FLAG_LZ4: u16 = 2;
/// Largest raw payload a compressed record may claim.
pub const MAX_RAW_BYTES: usize = cairn_wal::MAX_PAYLOAD_BYTES;

/// `raw`, compressed when that saves at least an eighth; returns the payload and its flags.
pub fn pack(raw: Vec<u8>, compress: bool) -> (Vec<u8>, u16) {
    if !compress || raw.len() < 512 || raw.len() > MAX_RAW_BYTES {
        return (raw, 0);
    }
    let mut out = vec![0u8; 4 + lz4_flex::block::get_maximum_output_size(raw.len())];
    out[..4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
    match lz4_flex::block::compress_into(&raw, &mut out[4..]) {
        Ok(n) if 4 + n <= raw.len() - raw.len() / 8 => {
            out.truncate(4 + n);
            (out, FLAG_LZ4)
        }
        _ => (raw, 0),
    }
}

/// The raw payload of a record with `flags`.
pub fn unpack(payload: &[u8], flags: u16) -> Result<std::borrow::Cow<'_, [u8]>, String> {
    if flags & FLAG_LZ4 == 0 {
        return Ok(std::borrow::Cow::Borrowed(payload));
    }
    let Some((len, block)) = payload.split_first_chunk::<4>() else {
        return Err(format!(
            "a compressed payload of {} bytes has no length",
            payload.len()
        ));
    };
    let raw = u32::from_le_bytes(*len) as usize;
    if raw > MAX_RAW_BYTES {
        return Err(format!(
            "claims {raw} raw bytes, more than the {MAX_RAW_BYTES} allowed"
        ));
    }
    match lz4_flex::block::decompress(block, raw) {
        Ok(out) if out.len() == raw => Ok(std::borrow::Cow::Owned(out)),
        Ok(out) => Err(format!(
            "decompressed to {} bytes, expected {raw}",
            out.len()
        )),
        Err(e) => Err(format!("LZ4: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_incompressible_input() {
        let raw: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 17).to_le_bytes())
            .collect();
        let (packed, flags) = pack(raw.clone(), true);
        assert_eq!(flags, FLAG_LZ4);
        assert!(packed.len() < raw.len() / 4);
        assert_eq!(unpack(&packed, flags).unwrap().as_ref(), &raw[..]);
        // Random bytes do not compress: kept raw, flag clear.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(pack(noise.clone(), true), (noise.clone(), 0));
        assert_eq!(pack(raw.clone(), false), (raw, 0));
        assert_eq!(unpack(&noise, 0).unwrap().as_ref(), &noise[..]);
    }

    #[test]
    fn damaged_payloads_are_errors() {
        let raw = vec![7u8; 4096];
        let (packed, flags) = pack(raw, true);
        assert!(unpack(&packed[..2], flags).is_err());
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack(&huge, flags).unwrap_err().contains("raw bytes"));
        let mut short = packed.clone();
        short[..4].copy_from_slice(&100u32.to_le_bytes());
        assert!(unpack(&short, flags).is_err());
        for cut in 4..packed.len() {
            assert!(unpack(&packed[..cut], flags).is_err());
        }
        for i in 4..packed.len() {
            let mut bad = packed.clone();
            bad[i] ^= 0x55;
            let _outcome = unpack(&bad, flags);
        }
    }
}
