//! The cipher alone: AES-256-GCM over WAL-sized records on one thread, with the library the
//! WAL uses (ring). Tells whether an encryption cost comes from the cipher or from how
//! the WAL uses it.

use std::time::{Duration, Instant};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::{mb_per_sec, thread_cpu_time};
use crate::error::{CliError, Result};

/// The associated data of a WAL record: segment header (128 B) and record header (40 B).
const AAD_BYTES: usize = 168;

/// Encrypt and decrypt throughput of one thread.
#[derive(Debug, Clone, Copy)]
pub struct CipherSpeed {
    pub record_bytes: usize,
    pub total_bytes: u64,
    pub encrypt_elapsed: Duration,
    pub encrypt_mb_per_sec: f64,
    /// Megabytes per second of this thread's CPU time (not skewed by other load).
    pub encrypt_mb_per_cpu_sec: f64,
    pub decrypt_elapsed: Duration,
    pub decrypt_mb_per_sec: f64,
    pub decrypt_mb_per_cpu_sec: f64,
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

/// Encrypts, then decrypts (authenticating), `total_bytes` in records of `record_bytes`.
pub fn aes_256_gcm(record_bytes: usize, total_bytes: u64) -> Result<CipherSpeed> {
    let failed = || CliError::Invalid("AES-256-GCM failed on a benchmark record".into());
    let key = UnboundKey::new(&AES_256_GCM, &[7u8; 32]).map_err(|_| failed())?;
    let cipher = LessSafeKey::new(key);
    let aad = [0x11u8; AAD_BYTES];
    let records = total_bytes.div_ceil(record_bytes as u64).max(1);
    let mut data = vec![0x5Au8; record_bytes];

    let (start, cpu_start) = (Instant::now(), thread_cpu_time());
    let mut last_tag = None;
    for i in 0..records {
        let tag = cipher
            .seal_in_place_separate_tag(nonce(i), Aad::from(&aad[..]), &mut data)
            .map_err(|_| failed())?;
        last_tag = Some(tag);
    }
    let (encrypt_elapsed, encrypt_cpu) = (start.elapsed(), thread_cpu_time() - cpu_start);
    std::hint::black_box(&data);

    // Decrypt the last ciphertext over and over (restoring it each time).
    let tag = last_tag.ok_or_else(failed)?;
    let ciphertext = data.clone();
    let (start, cpu_start) = (Instant::now(), thread_cpu_time());
    for _ in 0..records {
        data.copy_from_slice(&ciphertext);
        cipher
            .open_in_place_separate_tag(
                nonce(records - 1),
                Aad::from(&aad[..]),
                tag,
                &mut data,
                0..,
            )
            .map_err(|_| failed())?;
    }
    let (decrypt_elapsed, decrypt_cpu) = (start.elapsed(), thread_cpu_time() - cpu_start);
    let processed_bytes = records * record_bytes as u64;
    Ok(CipherSpeed {
        record_bytes,
        total_bytes: processed_bytes,
        encrypt_elapsed,
        encrypt_mb_per_sec: mb_per_sec(processed_bytes, encrypt_elapsed),
        encrypt_mb_per_cpu_sec: mb_per_sec(processed_bytes, encrypt_cpu),
        decrypt_elapsed,
        decrypt_mb_per_sec: mb_per_sec(processed_bytes, decrypt_elapsed),
        decrypt_mb_per_cpu_sec: mb_per_sec(processed_bytes, decrypt_cpu),
    })
}
