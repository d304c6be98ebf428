//! cairn-crypto: the master keys (a [`KeyRing`]) and the one key-derivation function
//! (HKDF-SHA256) that every encrypted cairn format uses, plus an AES-256-GCM key type that
//! never prints or keeps more key material than it must.
//!
//! Each format derives its own subkeys from a ring key, a random per-object salt it stores,
//! an info string naming the format and purpose, and an object id, so keys are never shared
//! between objects and a nonce only has to be unique within one object. It must never log
//! key material or choose nonces: the formats own their nonce schemes.

use std::collections::BTreeMap;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use ring::hkdf::{HKDF_SHA256, KeyType, Salt};

/// Bytes of an AES-256-GCM tag.
pub const TAG_BYTES: usize = 16;
/// Bytes of the random per-object salt fed to HKDF.
pub const SALT_BYTES: usize = 16;
/// Bytes of a key check value.
pub const KEY_CHECK_BYTES: usize = 16;
/// Bytes of an AES-256-GCM nonce.
pub const NONCE_BYTES: usize = 12;

/// The master keys: new objects are encrypted with the current key; old objects name the key
/// id they were written with, so a ring holding old and new keys reads across a rotation.
#[derive(Clone)]
pub struct KeyRing {
    keys: BTreeMap<u32, [u8; 32]>,
    current: u32,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeyRing")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

impl KeyRing {
    /// A ring with one key, used for new objects.
    pub fn new(key_id: u32, key: [u8; 32]) -> Self {
        Self {
            keys: BTreeMap::from([(key_id, key)]),
            current: key_id,
        }
    }

    /// Adds an older key that existing objects may still use.
    pub fn with_key(mut self, key_id: u32, key: [u8; 32]) -> Self {
        self.keys.insert(key_id, key);
        self
    }

    /// Adds `key` under `key_id` and makes it the key for new objects.
    pub fn rotate_to(mut self, key_id: u32, key: [u8; 32]) -> Self {
        self.keys.insert(key_id, key);
        self.current = key_id;
        self
    }

    /// The id of the key new objects are encrypted with.
    pub fn current_id(&self) -> u32 {
        self.current
    }

    /// The master key with this id, if the ring holds it.
    pub fn key(&self, key_id: u32) -> Option<&[u8; 32]> {
        self.keys.get(&key_id)
    }
}

/// An HKDF output length.
struct OutLen(usize);

impl KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with info = `info ‖ object_id (u64 LE)`
/// into `out` (16 or 32 bytes in practice).
pub fn derive(
    master: &[u8; 32],
    salt: &[u8; SALT_BYTES],
    info: &[u8],
    object_id: u64,
    out: &mut [u8],
) {
    let prk = Salt::new(HKDF_SHA256, salt).extract(master);
    let id = object_id.to_le_bytes();
    let parts = [info, &id[..]];
    // HKDF-SHA256 expands up to 8160 bytes; callers ask for 16 or 32, so this cannot fail.
    let filled = prk
        .expand(&parts, OutLen(out.len()))
        .and_then(|okm| okm.fill(out));
    if filled.is_err() {
        out.fill(0);
    }
}

/// A derived 16-byte value that shows whether a reader holds the right key without
/// attempting (and failing) authentication, so a wrong key is reported as such.
pub fn key_check(
    master: &[u8; 32],
    salt: &[u8; SALT_BYTES],
    info: &[u8],
    object_id: u64,
) -> [u8; KEY_CHECK_BYTES] {
    let mut out = [0u8; KEY_CHECK_BYTES];
    derive(master, salt, info, object_id, &mut out);
    out
}

/// An AES-256-GCM key derived for one object. The caller supplies unique nonces.
pub struct GcmKey {
    cipher: LessSafeKey,
}

impl std::fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcmKey(..)")
    }
}

impl GcmKey {
    /// Derives the object key with [`derive`] and wipes the temporary copy.
    pub fn derive(master: &[u8; 32], salt: &[u8; SALT_BYTES], info: &[u8], object_id: u64) -> Self {
        let mut key = [0u8; 32];
        derive(master, salt, info, object_id, &mut key);
        let unbound = UnboundKey::new(&AES_256_GCM, &key).unwrap_or_else(|_| unreachable_key());
        key.fill(0);
        Self {
            cipher: LessSafeKey::new(unbound),
        }
    }

    /// Encrypts `data` in place and returns the tag.
    pub fn seal(&self, nonce: [u8; NONCE_BYTES], aad: &[u8], data: &mut [u8]) -> [u8; TAG_BYTES] {
        let mut out = [0u8; TAG_BYTES];
        // Sealing fails only for messages over 64 GiB, far above every format's cap.
        if let Ok(tag) = self.cipher.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            data,
        ) {
            out.copy_from_slice(tag.as_ref());
        }
        out
    }

    /// Decrypts `data` (ciphertext without the tag) in place; false if authentication fails.
    pub fn open(
        &self,
        nonce: [u8; NONCE_BYTES],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; TAG_BYTES],
    ) -> bool {
        self.cipher
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                Tag::from(*tag),
                data,
                0..,
            )
            .is_ok()
    }
}

#[cold]
fn unreachable_key() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("ring rejected a 32-byte AES-256-GCM key")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn seal_open_tamper_and_wrong_key() {
        let k = GcmKey::derive(&[7; 32], &[1; 16], b"test", 5);
        let mut data = b"hello".to_vec();
        let tag = k.seal([0; 12], b"aad", &mut data);
        let mut copy = data.clone();
        assert!(k.open([0; 12], b"aad", &mut copy, &tag));
        assert_eq!(copy, b"hello");
        let mut copy = data.clone();
        assert!(!k.open([1; 12], b"aad", &mut copy, &tag));
        let mut copy = data.clone();
        assert!(!k.open([0; 12], b"aae", &mut copy, &tag));
        let other = GcmKey::derive(&[7; 32], &[1; 16], b"test", 6);
        let mut copy = data.clone();
        assert!(!other.open([0; 12], b"aad", &mut copy, &tag));
        assert_ne!(
            key_check(&[7; 32], &[1; 16], b"x", 1),
            key_check(&[8; 32], &[1; 16], b"x", 1)
        );
    }
}
