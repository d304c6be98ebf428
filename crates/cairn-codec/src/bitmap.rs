//! Bitmaps in Arrow's layout: bit `i` is bit `i % 8` of byte `i / 8` (LSB first); for a
//! validity bitmap 1 means "value present". Used for booleans and for nulls.

/// An owned bitmap of `len` bits. Bits past `len` in the last byte are zero.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bitmap {
    bytes: Vec<u8>,
    len: usize,
}

/// A borrowed bitmap of `len` bits starting at bit 0 of `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitmapRef<'a> {
    bytes: &'a [u8],
    len: usize,
}

/// Bytes needed for `bits` bits.
pub const fn bytes_for(bits: usize) -> usize {
    bits.div_ceil(8)
}

impl Bitmap {
    /// `len` bits, all `value`.
    pub fn new(len: usize, value: bool) -> Self {
        let mut b = Self {
            bytes: vec![if value { 0xff } else { 0 }; bytes_for(len)],
            len,
        };
        b.clear_tail();
        b
    }

    /// Wraps `bytes` (at least `bytes_for(len)` long; extra bytes are dropped, bits past
    /// `len` cleared). `None` if `bytes` is too short.
    pub fn from_bytes(mut bytes: Vec<u8>, len: usize) -> Option<Self> {
        if bytes.len() < bytes_for(len) {
            return None;
        }
        bytes.truncate(bytes_for(len));
        let mut b = Self { bytes, len };
        b.clear_tail();
        Some(b)
    }

    pub fn from_bools(values: &[bool]) -> Self {
        let mut b = Self::new(values.len(), false);
        for (i, &v) in values.iter().enumerate() {
            if v {
                b.set(i, true);
            }
        }
        b
    }

    fn clear_tail(&mut self) {
        let rem = self.len % 8;
        if rem != 0
            && let Some(last) = self.bytes.last_mut()
        {
            *last &= (1u8 << rem) - 1;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> bool {
        self.as_ref().get(i)
    }

    /// Sets bit `i` (`i < len`; out-of-range indexes are ignored).
    pub fn set(&mut self, i: usize, v: bool) {
        if i >= self.len {
            return;
        }
        let mask = 1u8 << (i % 8);
        if v {
            self.bytes[i / 8] |= mask;
        } else {
            self.bytes[i / 8] &= !mask;
        }
    }

    pub fn as_ref(&self) -> BitmapRef<'_> {
        BitmapRef {
            bytes: &self.bytes,
            len: self.len,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn count_ones(&self) -> usize {
        self.as_ref().count_ones()
    }
}

impl<'a> BitmapRef<'a> {
    /// `None` if `bytes` is shorter than `len` bits need.
    pub fn new(bytes: &'a [u8], len: usize) -> Option<Self> {
        (bytes.len() >= bytes_for(len)).then_some(Self { bytes, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`; false past the end.
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    /// The bytes covering `len` bits (bits past `len` in the last byte may be set).
    pub fn bytes(&self) -> &'a [u8] {
        &self.bytes[..bytes_for(self.len)]
    }

    /// Bits `start..start + len` as a new bitmap; `start` must be a multiple of 8 for the
    /// zero-copy form, which is what pages use (page row counts are multiples of 1024).
    pub fn slice_bytes(&self, start: usize, len: usize) -> Option<BitmapRef<'a>> {
        if !start.is_multiple_of(8) || start.checked_add(len)? > self.len {
            return None;
        }
        BitmapRef::new(&self.bytes[start / 8..], len)
    }

    pub fn count_ones(&self) -> usize {
        let full = self.len / 8;
        let mut n: usize = self.bytes[..full]
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum();
        let rem = self.len % 8;
        if rem != 0 {
            n += (self.bytes[full] & ((1u8 << rem) - 1)).count_ones() as usize;
        }
        n
    }

    pub fn to_owned(&self) -> Bitmap {
        let mut b = Bitmap {
            bytes: self.bytes().to_vec(),
            len: self.len,
        };
        b.clear_tail();
        b
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn set_get_count_and_tail() {
        let mut b = Bitmap::new(13, true);
        assert_eq!(b.count_ones(), 13);
        assert_eq!(b.bytes()[1], 0b1_1111);
        b.set(3, false);
        assert!(!b.get(3) && b.get(4) && !b.get(13));
        assert_eq!(b.count_ones(), 12);
        let r = Bitmap::from_bools(&[true, false, true]).as_ref().to_owned();
        assert_eq!(r.bytes(), &[0b101]);
        assert!(BitmapRef::new(&[0], 9).is_none());
        let s = b.as_ref().slice_bytes(8, 5).unwrap();
        assert_eq!(s.count_ones(), 5);
        assert!(b.as_ref().slice_bytes(3, 2).is_none());
    }
}
