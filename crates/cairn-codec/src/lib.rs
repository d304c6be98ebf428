//! cairn-codec: the column codecs of cairn's partition files. Pure functions over slices:
//! no I/O, no threads, no Arrow types (the decoded buffers have Arrow's layouts, so the
//! engine wraps them without copying).
//!
//! It owns the bytes of one *page*: a run of values of one column, with a 16-byte header
//! naming the value type, the leaf codec and the outer (LZ4/zstd) stage, so a reader never
//! guesses. [`page::encode_page`] picks the codec chain per page by sampling (smallest
//! output among the fast-decoding chains); [`page::decode_page`] takes untrusted bytes and
//! returns the values or a [`CodecError`].
//!
//! It must never panic on input bytes, allocate more than a header (checked against the
//! format's caps) justifies, or change a value: every codec is bit-exact, floats included
//! (NaN payloads, -0.0, infinities). The byte layouts are in `docs/formats/partition.md`.

pub mod bitmap;
pub mod bitpack;
pub mod bytes;
pub mod error;
pub mod float;
pub mod int;
pub mod outer;
pub mod page;
pub mod string;

pub use bitmap::{Bitmap, BitmapRef};
pub use error::{CodecError, Result};
pub use page::{
    DecodedPage, DecodedValues, EncodeOptions, LeafCodec, PageHeader, PageInput, PageValues,
    ValueType, decode_page, encode_page,
};
