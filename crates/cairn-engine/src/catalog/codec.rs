//! Binary encoding of the catalog file and of DDL records (little-endian).
//!
//! ```text
//! CATALOG file:  "CCAT" | u16 version=1 | u64 lsn | u64 next_id
//!                | u32 n | n × database | u32 m | m × collection | u32 CRC32C of all before
//! database:      u64 id | str name | u8 auto_create_collections
//! collection:    u64 id | u64 database_id | str name | u16 k | k × column | options
//! column:        str name | u8 type id | u8 role id | u8 nullable
//! options:       i64 partition_interval_ns | i64 retention_ns (0 = none)
//!                | u64 memtable_max_bytes | u64 memtable_max_age_ms | u8 allow_new_columns
//!                | u8 sort (0 time, 1 tags then time)
//! str:           u16 length | UTF-8 bytes
//! DDL record:    u8 kind (1 create db, 2 drop db, 3 create collection, 4 drop collection,
//!                5 add columns, 6 set options) | body (a definition, or u64 id [+ columns |
//!                options]) — a record must be consumed exactly.
//! ```

use cairn_codec::bytes::{Reader, put_i64, put_u8, put_u16, put_u32, put_u64};
use cairn_storage::{ColumnRole, ColumnSpec, ColumnType, Schema};

use super::{
    Catalog, CollectionDef, CollectionOptions, DatabaseDef, DatabaseOptions, DdlOp, SortOrder,
};

const MAGIC: &[u8; 4] = b"CCAT";
const VERSION: u16 = 1;

/// A decoding failure: byte offset and what was wrong.
pub type DecodeError = (u64, String);

fn err<T>(r: &Reader<'_>, what: impl Into<String>) -> Result<T, DecodeError> {
    Err((r.position() as u64, what.into()))
}

fn map<T>(r: &Reader<'_>, v: cairn_codec::Result<T>) -> Result<T, DecodeError> {
    v.map_err(|e| (r.position() as u64, e.to_string()))
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u16(out, s.len() as u16);
    out.extend_from_slice(s.as_bytes());
}

macro_rules! get {
    ($r:expr, $m:ident, $what:expr) => {{
        let v = $r.$m($what);
        map($r, v)?
    }};
}

fn get_str(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let n = get!(r, u16, what);
    let bytes = {
        let v = r.take(usize::from(n), what);
        map(r, v)?
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => err(r, format!("{what} is not UTF-8")),
    }
}

fn put_database(out: &mut Vec<u8>, d: &DatabaseDef) {
    put_u64(out, d.id);
    put_str(out, &d.name);
    put_u8(out, u8::from(d.options.auto_create_collections));
}

fn get_database(r: &mut Reader<'_>) -> Result<DatabaseDef, DecodeError> {
    let id = get!(r, u64, "database id");
    let name = get_str(r, "database name")?;
    let auto = get_bool(r, "auto_create_collections")?;
    Ok(DatabaseDef {
        id,
        name,
        options: DatabaseOptions {
            auto_create_collections: auto,
        },
    })
}

fn get_bool(r: &mut Reader<'_>, what: &'static str) -> Result<bool, DecodeError> {
    match get!(r, u8, what) {
        0 => Ok(false),
        1 => Ok(true),
        v => err(r, format!("{what} is {v}, expected 0 or 1")),
    }
}

fn put_column(out: &mut Vec<u8>, c: &ColumnSpec) {
    put_str(out, &c.name);
    put_u8(out, c.column_type.id());
    put_u8(out, c.role.id());
    put_u8(out, u8::from(c.nullable));
}

fn get_columns(r: &mut Reader<'_>) -> Result<Vec<ColumnSpec>, DecodeError> {
    let k = get!(r, u16, "column count");
    let mut columns = Vec::with_capacity(usize::from(k).min(r.remaining() / 5));
    for _ in 0..k {
        let name = get_str(r, "column name")?;
        let t = get!(r, u8, "column type");
        let Some(column_type) = ColumnType::from_id(t) else {
            return err(r, format!("unknown column type id {t}"));
        };
        let role = get!(r, u8, "column role");
        let Some(role) = ColumnRole::from_id(role) else {
            return err(r, format!("unknown column role id {role}"));
        };
        let nullable = get_bool(r, "nullable")?;
        columns.push(ColumnSpec {
            name,
            column_type,
            role,
            nullable,
        });
    }
    Ok(columns)
}

fn put_options(out: &mut Vec<u8>, o: &CollectionOptions) {
    put_i64(out, o.partition_interval_ns);
    put_i64(out, o.retention_ns.unwrap_or(0));
    put_u64(out, o.memtable_max_bytes);
    put_u64(out, o.memtable_max_age_ms);
    put_u8(out, u8::from(o.allow_new_columns));
    put_u8(
        out,
        match o.sort {
            SortOrder::Time => 0,
            SortOrder::TagsThenTime => 1,
        },
    );
}

fn get_options(r: &mut Reader<'_>) -> Result<CollectionOptions, DecodeError> {
    let partition_interval_ns = get!(r, i64, "partition interval");
    let retention = get!(r, i64, "retention");
    let memtable_max_bytes = get!(r, u64, "memtable_max_bytes");
    let memtable_max_age_ms = get!(r, u64, "memtable_max_age_ms");
    let allow_new_columns = get_bool(r, "allow_new_columns")?;
    let sort = match get!(r, u8, "sort order") {
        0 => SortOrder::Time,
        1 => SortOrder::TagsThenTime,
        v => return err(r, format!("unknown sort order {v}")),
    };
    Ok(CollectionOptions {
        partition_interval_ns,
        retention_ns: (retention != 0).then_some(retention),
        memtable_max_bytes,
        memtable_max_age_ms,
        allow_new_columns,
        sort,
    })
}

fn put_collection(out: &mut Vec<u8>, c: &CollectionDef) {
    put_u64(out, c.id);
    put_u64(out, c.database_id);
    put_str(out, &c.name);
    put_u16(out, c.schema.columns.len() as u16);
    for col in &c.schema.columns {
        put_column(out, col);
    }
    put_options(out, &c.options);
}

fn get_collection(r: &mut Reader<'_>) -> Result<CollectionDef, DecodeError> {
    let id = get!(r, u64, "collection id");
    let database_id = get!(r, u64, "database id");
    let name = get_str(r, "collection name")?;
    let columns = get_columns(r)?;
    let options = get_options(r)?;
    Ok(CollectionDef {
        id,
        database_id,
        name,
        schema: Schema { columns },
        options,
    })
}

pub fn encode_catalog(c: &Catalog) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    put_u16(&mut out, VERSION);
    put_u64(&mut out, c.lsn);
    put_u64(&mut out, c.next_id);
    put_u32(&mut out, c.databases.len() as u32);
    for d in c.databases.values() {
        put_database(&mut out, d);
    }
    put_u32(&mut out, c.collections.len() as u32);
    for col in c.collections.values() {
        put_collection(&mut out, col);
    }
    let crc = crc32c::crc32c(&out);
    put_u32(&mut out, crc);
    out
}

pub fn decode_catalog(bytes: &[u8]) -> Result<Catalog, DecodeError> {
    if bytes.len() < 4 + 2 + 16 + 4 {
        return Err((
            0,
            format!("{} bytes is too short for a catalog", bytes.len()),
        ));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != stored {
        return Err((body.len() as u64, "checksum mismatch".into()));
    }
    if &body[..4] != MAGIC {
        return Err((0, "bad magic, expected \"CCAT\"".into()));
    }
    let mut r = Reader::new(&body[4..]);
    let version = get!(&mut r, u16, "version");
    if version != VERSION {
        return err(
            &r,
            format!("catalog version {version}, this build reads {VERSION}"),
        );
    }
    let mut c = Catalog {
        lsn: get!(&mut r, u64, "lsn"),
        next_id: get!(&mut r, u64, "next id"),
        ..Catalog::default()
    };
    for _ in 0..get!(&mut r, u32, "database count") {
        let d = get_database(&mut r)?;
        c.databases.insert(d.id, d);
    }
    for _ in 0..get!(&mut r, u32, "collection count") {
        let col = get_collection(&mut r)?;
        c.collections.insert(col.id, col);
    }
    map(&r, r.finish("catalog"))?;
    Ok(c)
}

pub fn encode_ddl(op: &DdlOp) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    match op {
        DdlOp::CreateDatabase(d) => {
            put_u8(&mut out, 1);
            put_database(&mut out, d);
        }
        DdlOp::DropDatabase { id } => {
            put_u8(&mut out, 2);
            put_u64(&mut out, *id);
        }
        DdlOp::CreateCollection(c) => {
            put_u8(&mut out, 3);
            put_collection(&mut out, c);
        }
        DdlOp::DropCollection { id } => {
            put_u8(&mut out, 4);
            put_u64(&mut out, *id);
        }
        DdlOp::AddColumns { id, columns } => {
            put_u8(&mut out, 5);
            put_u64(&mut out, *id);
            put_u16(&mut out, columns.len() as u16);
            for c in columns {
                put_column(&mut out, c);
            }
        }
        DdlOp::SetOptions { id, options } => {
            put_u8(&mut out, 6);
            put_u64(&mut out, *id);
            put_options(&mut out, options);
        }
    }
    out
}

pub fn decode_ddl(bytes: &[u8]) -> Result<DdlOp, DecodeError> {
    let mut r = Reader::new(bytes);
    let op = match get!(&mut r, u8, "ddl kind") {
        1 => DdlOp::CreateDatabase(get_database(&mut r)?),
        2 => DdlOp::DropDatabase {
            id: get!(&mut r, u64, "database id"),
        },
        3 => DdlOp::CreateCollection(get_collection(&mut r)?),
        4 => DdlOp::DropCollection {
            id: get!(&mut r, u64, "collection id"),
        },
        5 => DdlOp::AddColumns {
            id: get!(&mut r, u64, "collection id"),
            columns: get_columns(&mut r)?,
        },
        6 => DdlOp::SetOptions {
            id: get!(&mut r, u64, "collection id"),
            options: get_options(&mut r)?,
        },
        k => return err(&r, format!("unknown DDL kind {k}")),
    };
    map(&r, r.finish("DDL record"))?;
    Ok(op)
}
