//! Read-only views of the engine's own files and WAL records, for `cairn inspect`.
//!
//! Everything here decodes untrusted bytes with the engine's one decoder of each format and
//! returns a typed value or `(byte offset, reason)`; nothing opens a database, takes its lock
//! or writes a file.

use crate::catalog::DdlOp;
pub use crate::catalog::{CollectionDef, DatabaseDef};
pub use crate::files::{
    CATALOG, LOCK, MANIFEST, PARTITION_EXT, WAL_DIR, parse_collection_dir,
    parse_partition_file_name, partition_file_name,
};
pub use crate::manifest::{FileMeta, Manifest};

/// WAL record type of a write (a columnar batch, `batch_codec`).
pub const RECORD_WRITE: u16 = crate::db::REC_WRITE;
/// WAL record type of a catalog change.
pub const RECORD_DDL: u16 = crate::db::REC_DDL;
/// Record flag: more records of the same atomic write follow.
pub const FLAG_CONTINUED: u16 = crate::db::FLAG_CONTINUED;
/// Record flag: the payload is LZ4-compressed.
pub const FLAG_LZ4: u16 = crate::payload::FLAG_LZ4;

/// A decoded CATALOG file.
#[derive(Debug, Clone)]
pub struct CatalogView {
    /// LSN of the last DDL record the file includes (later ones are in the WAL).
    pub lsn: u64,
    pub next_id: u64,
    /// In id order.
    pub databases: Vec<DatabaseDef>,
    /// In id order.
    pub collections: Vec<CollectionDef>,
}

/// Decodes a CATALOG file (checksum, magic, version, structure).
pub fn catalog(bytes: &[u8]) -> Result<CatalogView, (u64, String)> {
    let c = crate::catalog::codec::decode_catalog(bytes)?;
    Ok(CatalogView {
        lsn: c.lsn,
        next_id: c.next_id,
        databases: c.databases.into_values().collect(),
        collections: c.collections.into_values().collect(),
    })
}

/// Decodes a MANIFEST file (checksum, magic, version, structure).
pub fn manifest(bytes: &[u8]) -> Result<Manifest, (u64, String)> {
    Manifest::decode(bytes)
}

/// The name of an engine record type, or `None` for a type the engine does not write.
pub fn record_type_name(record_type: u16) -> Option<&'static str> {
    match record_type {
        RECORD_WRITE => Some("WRITE"),
        RECORD_DDL => Some("DDL"),
        _ => None,
    }
}

/// Decodes the plaintext payload of an engine WAL record and summarises it in one line
/// (a WRITE's collection id and rows, a DDL record's change). `Err` says why it does not
/// decode.
pub fn describe_record(record_type: u16, flags: u16, payload: &[u8]) -> Result<String, String> {
    match record_type {
        RECORD_WRITE => {
            let raw = crate::payload::unpack(payload, flags)?;
            let b = crate::batch_codec::decode(&raw).map_err(|e| e.to_string())?;
            Ok(format!(
                "collection id {}: {} rows, {} columns",
                b.collection_id,
                b.batch.num_rows(),
                b.columns.len()
            ))
        }
        RECORD_DDL => {
            let op = crate::catalog::codec::decode_ddl(payload)
                .map_err(|(at, why)| format!("at byte {at}: {why}"))?;
            Ok(describe_ddl(&op))
        }
        other => Err(format!("record type {other} is not one the engine writes")),
    }
}

fn describe_ddl(op: &DdlOp) -> String {
    match op {
        DdlOp::CreateDatabase(d) => format!("create database {:?} (id {})", d.name, d.id),
        DdlOp::DropDatabase { id } => format!("drop database id {id}"),
        DdlOp::CreateCollection(c) => format!(
            "create collection {:?} (id {}, database id {}, {} columns)",
            c.name,
            c.id,
            c.database_id,
            c.schema.columns.len()
        ),
        DdlOp::DropCollection { id } => format!("drop collection id {id}"),
        DdlOp::AddColumns { id, columns } => {
            format!("add {} columns to collection id {id}", columns.len())
        }
        DdlOp::SetOptions { id, .. } => format!("set options of collection id {id}"),
    }
}
