//! Per-page encryption of a partition file.
//!
//! The file key is HKDF-SHA256(ring key `key_id`, the file's random 128-bit salt,
//! "cairn-partition v1 page key"), so keys are never shared between files and nonces only
//! need to be unique within one file. Each encrypted region has a fixed 96-bit nonce from its
//! position: `kind u32 LE ‖ column u32 LE ‖ page u32 LE` with kind 1 data page, 2 dictionary
//! page, 3 sparse index, 4 footer. A stored region is ciphertext followed by the 16-byte GCM
//! tag. The footer stays plaintext: it is authenticated by a tag over its bytes (GCM over an
//! empty message with the footer as associated data), so pruning and range planning work
//! on an encrypted file, and nothing in it can be changed unnoticed.

use cairn_crypto::{GcmKey, KEY_CHECK_BYTES, KeyRing, NONCE_BYTES, SALT_BYTES, TAG_BYTES};

const PAGE_KEY_INFO: &[u8] = b"cairn-partition v1 page key";
const KEY_CHECK_INFO: &[u8] = b"cairn-partition v1 key check";

/// Which region of the file a nonce is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Data { column: u32, page: u32 },
    Dictionary { column: u32 },
    SparseIndex,
    Footer,
}

impl Region {
    fn nonce(self) -> [u8; NONCE_BYTES] {
        let (kind, column, page) = match self {
            Region::Data { column, page } => (1u32, column, page),
            Region::Dictionary { column } => (2, column, 0),
            Region::SparseIndex => (3, 0, 0),
            Region::Footer => (4, 0, 0),
        };
        let mut n = [0u8; NONCE_BYTES];
        n[0..4].copy_from_slice(&kind.to_le_bytes());
        n[4..8].copy_from_slice(&column.to_le_bytes());
        n[8..12].copy_from_slice(&page.to_le_bytes());
        n
    }
}

/// The cipher of one file.
#[derive(Debug)]
pub struct FileCipher {
    key: GcmKey,
}

/// The key check value stored in the footer for `master` and `salt`.
pub fn key_check(master: &[u8; 32], salt: &[u8; SALT_BYTES]) -> [u8; KEY_CHECK_BYTES] {
    cairn_crypto::key_check(master, salt, KEY_CHECK_INFO, 0)
}

impl FileCipher {
    pub fn new(master: &[u8; 32], salt: &[u8; SALT_BYTES]) -> Self {
        Self {
            key: GcmKey::derive(master, salt, PAGE_KEY_INFO, 0),
        }
    }

    /// A new random salt for a file written with `ring`'s current key.
    pub fn for_new_file(
        ring: &KeyRing,
    ) -> std::io::Result<(Self, u32, [u8; SALT_BYTES], [u8; KEY_CHECK_BYTES])> {
        let key_id = ring.current_id();
        let master = ring
            .key(key_id)
            .ok_or_else(|| std::io::Error::other("the key ring has no current key"))?;
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt)
            .map_err(|e| std::io::Error::other(format!("random salt: {e}")))?;
        Ok((
            Self::new(master, &salt),
            key_id,
            salt,
            key_check(master, &salt),
        ))
    }

    /// Encrypts `data` in place and appends the tag.
    pub fn seal(&self, region: Region, data: &mut Vec<u8>) {
        let tag = self.key.seal(region.nonce(), &[], data);
        data.extend_from_slice(&tag);
    }

    /// Authenticates and decrypts `stored` (ciphertext ‖ tag) in place, leaving the
    /// plaintext; false if authentication fails.
    pub fn open(&self, region: Region, stored: &mut Vec<u8>) -> bool {
        let Some(split) = stored.len().checked_sub(TAG_BYTES) else {
            return false;
        };
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&stored[split..]);
        stored.truncate(split);
        self.key.open(region.nonce(), &[], stored, &tag)
    }

    /// The tag that authenticates a footer body.
    pub fn footer_tag(&self, body: &[u8]) -> [u8; TAG_BYTES] {
        self.key.seal(Region::Footer.nonce(), body, &mut [])
    }

    pub fn footer_authentic(&self, body: &[u8], tag: &[u8; TAG_BYTES]) -> bool {
        self.key.open(Region::Footer.nonce(), body, &mut [], tag)
    }
}
