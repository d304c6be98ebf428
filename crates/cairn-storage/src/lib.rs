//! cairn-storage (being written).
