//! The 14-byte tail at the end of every partition file:
//!
//! ```text
//! u32 LE  footer length (bytes of the footer body, including its GCM tag if encrypted)
//! u32 LE  CRC32C of the footer body
//! u16 LE  format version
//! [u8; 4] magic "CRNP"
//! ```

/// The magic at the very end of a partition file.
pub const MAGIC: [u8; 4] = *b"CRNP";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
pub const TAIL_BYTES: usize = 14;
/// Largest footer accepted (checked before the footer is read).
pub const MAX_FOOTER_BYTES: u64 = 256 << 20;

/// A decoded tail (magic and version are checked by [`Tail::decode`]'s caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    pub footer_len: u32,
    pub footer_crc: u32,
    pub version: u16,
    pub magic: [u8; 4],
}

impl Tail {
    pub fn new(footer_len: u32, footer_crc: u32) -> Self {
        Self {
            footer_len,
            footer_crc,
            version: FORMAT_VERSION,
            magic: MAGIC,
        }
    }

    pub fn encode(&self) -> [u8; TAIL_BYTES] {
        let mut out = [0u8; TAIL_BYTES];
        out[0..4].copy_from_slice(&self.footer_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.footer_crc.to_le_bytes());
        out[8..10].copy_from_slice(&self.version.to_le_bytes());
        out[10..14].copy_from_slice(&self.magic);
        out
    }

    /// Splits the 14 bytes into fields; never fails (the fields are checked by the reader).
    pub fn decode(b: &[u8; TAIL_BYTES]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Self {
            footer_len: u32_at(0),
            footer_crc: u32_at(4),
            version: u16::from_le_bytes([b[8], b[9]]),
            magic: [b[10], b[11], b[12], b[13]],
        }
    }
}
