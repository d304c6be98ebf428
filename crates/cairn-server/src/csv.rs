//! CSV into a collection (being written).
