//! Streaming replay: records in LSN order, one segment open at a time, bounded memory.

use std::sync::Arc;

use cairn_io::FsRef;

use crate::error::{Corruption, Result, WalError};
use crate::options::RecoveryPolicy;
use crate::reader::{Frame, FrameReader, expect_lsn, open_frame};
use crate::recovery::{SegmentMeta, corrupt, open_reader};
use crate::{Lsn, WalRecord};

/// An iterator over the records with `from ≤ LSN ≤ end`, where `end` is the durable LSN when
/// the replay started. Damage is an error (the iterator then ends); under
/// [`RecoveryPolicy::Salvage`] the iterator ends at the damage instead and
/// [`Replay::salvage_stop`] says where.
pub struct Replay {
    fs: FsRef,
    segments: Arc<[SegmentMeta]>,
    index: usize,
    reader: Option<FrameReader>,
    /// The LSN the next record of the current segment must have.
    expected: u64,
    from: u64,
    end: u64,
    policy: RecoveryPolicy,
    done: bool,
    salvage_stop: Option<WalError>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("expected", &self.expected)
            .field("end", &self.end)
            .finish()
    }
}

impl Replay {
    pub(crate) fn new(
        fs: FsRef,
        segments: Arc<[SegmentMeta]>,
        from: Lsn,
        end: Lsn,
        policy: RecoveryPolicy,
    ) -> Replay {
        // Start in the last segment whose first LSN is at or below `from`.
        let from = from.0.max(1);
        let index = segments
            .partition_point(|s| s.first_lsn() <= from)
            .saturating_sub(1);
        let expected = segments.get(index).map_or(from, SegmentMeta::first_lsn);
        let done = segments.is_empty() || from > end.0;
        Replay {
            fs,
            segments,
            index,
            reader: None,
            expected,
            from,
            end: end.0,
            policy,
            done,
            salvage_stop: None,
        }
    }

    /// Where a salvage-policy replay stopped early, if it did.
    pub fn salvage_stop(&self) -> Option<&WalError> {
        self.salvage_stop.as_ref()
    }

    fn fail(&mut self, err: WalError) -> Option<Result<WalRecord>> {
        self.done = true;
        match self.policy {
            RecoveryPolicy::Strict => Some(Err(err)),
            RecoveryPolicy::Salvage => {
                tracing::warn!(error = %err, "salvage replay stops at damaged record");
                self.salvage_stop = Some(err);
                None
            }
        }
    }

    fn step(&mut self) -> Result<Option<WalRecord>, WalError> {
        loop {
            if self.expected > self.end {
                return Ok(None);
            }
            let Some(meta) = self.segments.get(self.index) else {
                return Ok(None);
            };
            // A sealed segment ends where its successor's header says.
            let sealed_last = self
                .segments
                .get(self.index + 1)
                .map(|n| n.ctx.header.prev_last_lsn);
            if sealed_last.is_some_and(|last| self.expected > last) {
                self.index += 1;
                self.reader = None;
                self.expected = self
                    .segments
                    .get(self.index)
                    .map_or(self.expected, SegmentMeta::first_lsn);
                continue;
            }
            if self.reader.is_none() {
                self.reader = Some(open_reader(&*self.fs, meta)?);
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            match reader.next_frame()? {
                Frame::Record {
                    offset,
                    header,
                    raw,
                    payload,
                } => {
                    if let Err(problem) = expect_lsn(header.lsn, self.expected) {
                        return Err(corrupt(&meta.path, offset, Some(self.expected), problem));
                    }
                    self.expected += 1;
                    if header.lsn < self.from {
                        continue;
                    }
                    return open_frame(&reader.ctx, offset, header, &raw, payload).map(Some);
                }
                Frame::Padding { .. } => {}
                Frame::End { offset } => {
                    // Durable records must all be present.
                    return Err(match self.segments.get(self.index + 1) {
                        Some(next) => WalError::LsnGap {
                            segment: next.path.clone(),
                            prev_last_lsn: self.expected - 1,
                            first_lsn: next.first_lsn(),
                        },
                        None => corrupt(
                            &meta.path,
                            offset,
                            Some(self.expected),
                            Corruption::MissingTail {
                                expected_last: self.end,
                                found_last: self.expected - 1,
                            },
                        ),
                    });
                }
                Frame::Bad { offset, problem } => {
                    return Err(corrupt(&meta.path, offset, Some(self.expected), problem));
                }
            }
        }
    }
}

impl Iterator for Replay {
    type Item = Result<WalRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => self.fail(err),
        }
    }
}
