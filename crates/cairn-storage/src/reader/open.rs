//! Opening a partition file: the tail, then the footer, checked in the order
//! `docs/formats/partition.md` lists, each failure with its own error.

use std::path::Path;

use cairn_crypto::TAG_BYTES;

use super::ReadOptions;
use crate::cipher::{self, FileCipher};
use crate::error::{Result, StorageError};
use crate::footer::Footer;
use crate::source::ByteSource;
use crate::tail::{FORMAT_VERSION, MAGIC, MAX_FOOTER_BYTES, TAIL_BYTES, Tail};

/// What `open` learned from the end of a file.
pub(super) struct Opened {
    pub len_bytes: u64,
    pub footer: Footer,
    pub cipher: Option<FileCipher>,
}

/// Reads and checks the tail, then reads, checks, authenticates (if encrypted) and decodes
/// the footer. `path` names the source in errors.
pub(super) fn open_footer(
    source: &dyn ByteSource,
    path: &Path,
    opts: &ReadOptions,
) -> Result<Opened> {
    let io = |op| {
        let p = path.to_path_buf();
        move |source| StorageError::Io {
            op,
            path: p,
            source,
        }
    };
    let len = source.len_bytes().map_err(io("stat"))?;
    if let Some(expected) = opts.expected_len
        && len < expected
    {
        return Err(StorageError::Truncated {
            path: path.to_path_buf(),
            expected_len: expected,
            actual_len: len,
        });
    }
    if len < TAIL_BYTES as u64 {
        return Err(StorageError::Truncated {
            path: path.to_path_buf(),
            expected_len: TAIL_BYTES as u64,
            actual_len: len,
        });
    }
    let first = len.saturating_sub(opts.open_read_bytes.max(TAIL_BYTES as u64));
    let mut end = vec![0u8; (len - first) as usize];
    source
        .read_exact_at(&mut end, first)
        .map_err(io("read tail of"))?;
    let mut tb = [0u8; TAIL_BYTES];
    tb.copy_from_slice(&end[end.len() - TAIL_BYTES..]);
    let tail = Tail::decode(&tb);
    if tail.magic != MAGIC {
        return Err(StorageError::BadMagic {
            path: path.to_path_buf(),
            offset: len - 4,
            found: tail.magic,
            expected: MAGIC,
        });
    }
    if tail.version != FORMAT_VERSION {
        return Err(StorageError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: tail.version,
            supported: FORMAT_VERSION,
        });
    }
    let footer_len = u64::from(tail.footer_len);
    if footer_len > len - TAIL_BYTES as u64 || footer_len > MAX_FOOTER_BYTES {
        return Err(StorageError::FooterLengthBeyondFile {
            path: path.to_path_buf(),
            footer_len,
            file_len: len,
        });
    }
    let footer_start = len - TAIL_BYTES as u64 - footer_len;
    let body = if footer_start >= first {
        let a = (footer_start - first) as usize;
        end[a..a + footer_len as usize].to_vec()
    } else {
        let mut b = vec![0u8; footer_len as usize];
        source
            .read_exact_at(&mut b, footer_start)
            .map_err(io("read footer of"))?;
        b
    };
    let computed = crc32c::crc32c(&body);
    if computed != tail.footer_crc {
        return Err(StorageError::FooterChecksum {
            path: path.to_path_buf(),
            offset: footer_start,
            stored: tail.footer_crc,
            computed,
        });
    }
    let encrypted = Footer::body_is_encrypted(&body);
    let plain_len = if encrypted {
        body.len().checked_sub(TAG_BYTES)
    } else {
        Some(body.len())
    };
    let Some(plain_len) = plain_len else {
        return Err(StorageError::FooterCorrupt {
            path: path.to_path_buf(),
            offset: 0,
            reason: "encrypted footer shorter than its tag".into(),
        });
    };
    let footer = Footer::decode(&body[..plain_len], footer_start).map_err(|e| {
        StorageError::FooterCorrupt {
            path: path.to_path_buf(),
            offset: e.offset,
            reason: e.reason.to_string(),
        }
    })?;
    let cipher = match &footer.encryption {
        None => None,
        Some(e) => {
            let ring = opts
                .keys
                .as_ref()
                .ok_or_else(|| StorageError::KeyRequired {
                    path: path.to_path_buf(),
                })?;
            let master = ring.key(e.key_id).ok_or_else(|| StorageError::MissingKey {
                path: path.to_path_buf(),
                key_id: e.key_id,
            })?;
            if cipher::key_check(master, &e.salt) != e.key_check {
                return Err(StorageError::WrongKey {
                    path: path.to_path_buf(),
                    key_id: e.key_id,
                });
            }
            let c = FileCipher::new(master, &e.salt);
            let mut tag = [0u8; TAG_BYTES];
            tag.copy_from_slice(&body[plain_len..]);
            if !c.footer_authentic(&body[..plain_len], &tag) {
                return Err(StorageError::TamperedFooter {
                    path: path.to_path_buf(),
                });
            }
            Some(c)
        }
    };
    Ok(Opened {
        len_bytes: len,
        footer,
        cipher,
    })
}
