//! Payloads: (cycle, thread, seq) plus deterministic filler, checkable on their own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

/// What a record's payload identifies: the child (cycle), its thread and the thread's
/// sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Id {
    pub(crate) cycle: u32,
    pub(crate) thread: u32,
    pub(crate) seq: u64,
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(cycle {}, thread {}, seq {})",
            self.cycle, self.thread, self.seq
        )
    }
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn id_hash(id: Id) -> u64 {
    splitmix(splitmix((u64::from(id.cycle) << 32) | u64::from(id.thread)) ^ id.seq)
}

pub(crate) fn encode_payload(id: Id) -> Vec<u8> {
    let h = id_hash(id);
    let filler = (h % MAX_FILLER) as usize;
    let mut p = Vec::with_capacity(ID_BYTES + filler);
    p.extend_from_slice(&MAGIC);
    p.extend_from_slice(&id.cycle.to_le_bytes());
    p.extend_from_slice(&id.thread.to_le_bytes());
    p.extend_from_slice(&id.seq.to_le_bytes());
    p.extend_from_slice(&common::payload(h, filler));
    p
}

/// The id a payload claims, if its whole content is exactly what the child writes for it.
pub(crate) fn decode_payload(p: &[u8]) -> Result<Id, String> {
    if p.len() < ID_BYTES {
        return Err(format!("payload of {} bytes is too short", p.len()));
    }
    if p[0..4] != MAGIC {
        return Err(format!("bad payload magic {:02x?}", &p[0..4]));
    }
    let id = Id {
        cycle: u32::from_le_bytes(p[4..8].try_into().unwrap()),
        thread: u32::from_le_bytes(p[8..12].try_into().unwrap()),
        seq: u64::from_le_bytes(p[12..20].try_into().unwrap()),
    };
    if id.thread >= THREADS {
        return Err(format!("payload names thread {}", id.thread));
    }
    let expected = encode_payload(id);
    if p != expected.as_slice() {
        return Err(format!(
            "payload claims {id} but its {} bytes differ from the expected {} bytes",
            p.len(),
            expected.len()
        ));
    }
    Ok(id)
}
