//! A growable byte buffer whose start address is aligned for `O_DIRECT`.

use std::alloc::{Layout, alloc_zeroed, dealloc, realloc};
use std::ptr::NonNull;

use crate::DIRECT_IO_ALIGN;

/// A `Vec<u8>`-like buffer whose allocation is aligned to [`DIRECT_IO_ALIGN`] and whose
/// capacity is a multiple of it. Bytes past `len` are unspecified: writers that pad must write
/// the padding themselves (stale bytes must never reach a disk as padding).
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    capacity: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like Vec<u8>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only allow reads of initialised bytes, like Vec<u8>.
unsafe impl Sync for AlignedBuf {}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for AlignedBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl AlignedBuf {
    pub fn new() -> Self {
        Self::with_capacity(DIRECT_IO_ALIGN)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = round_capacity(capacity);
        let layout = layout(capacity);
        // SAFETY: layout has a non-zero size (capacity >= DIRECT_IO_ALIGN).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Self {
            ptr,
            len: 0,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
    /// Shortens the buffer to `len` bytes (no effect if it is not longer).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
    /// Removes the first `count` bytes, moving the rest to the front (the start address stays
    /// aligned).
    pub fn drain_front(&mut self, count: usize) {
        let count = count.min(self.len);
        self.as_mut_slice().copy_within(count.., 0);
        self.len -= count;
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised (zeroed at allocation or written).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold &mut self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    pub fn reserve(&mut self, additional: usize) {
        let needed = self
            .len
            .checked_add(additional)
            .unwrap_or_else(|| capacity_overflow());
        if needed <= self.capacity {
            return;
        }
        let new_capacity = round_capacity(needed.max(self.capacity.saturating_mul(2)));
        let old = layout(self.capacity);
        // SAFETY: ptr was allocated with `old`; the new size is non-zero and a multiple of the
        // alignment, so the resulting layout is valid.
        let raw = unsafe { realloc(self.ptr.as_ptr(), old, new_capacity) };
        self.ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(old));
        self.capacity = new_capacity;
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        // SAFETY: reserve guaranteed room for bytes.len() more bytes; regions cannot overlap
        // because `bytes` is borrowed immutably while self is borrowed mutably.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.ptr.as_ptr().add(self.len),
                bytes.len(),
            );
        }
        self.len += bytes.len();
    }

    /// Appends `count` copies of `byte`.
    pub fn extend_filled(&mut self, byte: u8, count: usize) {
        self.reserve(count);
        // SAFETY: reserve guaranteed room for `count` more bytes.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), byte, count) };
        self.len += count;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated with this layout and is not used after this.
        unsafe { dealloc(self.ptr.as_ptr(), layout(self.capacity)) };
    }
}

fn round_capacity(capacity: usize) -> usize {
    let capacity = capacity.max(DIRECT_IO_ALIGN);
    capacity
        .checked_next_multiple_of(DIRECT_IO_ALIGN)
        .unwrap_or_else(|| capacity_overflow())
}

fn layout(capacity: usize) -> Layout {
    Layout::from_size_align(capacity, DIRECT_IO_ALIGN).unwrap_or_else(|_| capacity_overflow())
}

fn capacity_overflow() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("AlignedBuf capacity overflow")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_aligned() {
        let mut buf = AlignedBuf::with_capacity(10);
        assert_eq!(buf.capacity(), DIRECT_IO_ALIGN);
        for i in 0..10_000u32 {
            buf.extend_from_slice(&i.to_le_bytes());
        }
        assert_eq!(buf.len(), 40_000);
        assert_eq!(buf.as_slice().as_ptr() as usize % DIRECT_IO_ALIGN, 0);
        assert_eq!(buf.capacity() % DIRECT_IO_ALIGN, 0);
        assert_eq!(&buf.as_slice()[4 * 9_999..], &9_999u32.to_le_bytes());
        buf.extend_filled(0xAB, 3);
        assert_eq!(&buf.as_slice()[40_000..], &[0xAB; 3]);
        buf.drain_front(39_996);
        assert_eq!(buf.as_slice(), &[0x0f, 0x27, 0, 0, 0xAB, 0xAB, 0xAB]);
        assert_eq!(buf.as_slice().as_ptr() as usize % DIRECT_IO_ALIGN, 0);
        buf.truncate(2);
        assert_eq!(buf.as_slice(), &[0x0f, 0x27]);
        buf.clear();
        assert!(buf.is_empty());
    }
}
