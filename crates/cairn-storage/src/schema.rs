//! The schema stored in a partition file's footer: column names, types and roles.

use cairn_codec::ValueType;

use crate::error::{Result, StorageError};

/// Longest column name, in bytes.
pub const MAX_COLUMN_NAME_BYTES: usize = 255;
/// Most columns one file may hold.
pub const MAX_COLUMNS: usize = 4096;

/// A column's logical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ColumnType {
    /// Nanoseconds since the Unix epoch, UTC, as i64.
    Timestamp = 1,
    I64 = 2,
    U64 = 3,
    F64 = 4,
    Bool = 5,
    /// UTF-8 text.
    String = 6,
}

impl ColumnType {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            1 => ColumnType::Timestamp,
            2 => ColumnType::I64,
            3 => ColumnType::U64,
            4 => ColumnType::F64,
            5 => ColumnType::Bool,
            6 => ColumnType::String,
            _ => return None,
        })
    }

    /// The codec-level value type of its data pages (strings may instead be stored as
    /// dictionary codes; see [`ColumnSpec`]).
    pub fn value_type(self) -> ValueType {
        match self {
            ColumnType::Timestamp | ColumnType::I64 => ValueType::I64,
            ColumnType::U64 => ValueType::U64,
            ColumnType::F64 => ValueType::F64,
            ColumnType::Bool => ValueType::Bool,
            ColumnType::String => ValueType::Utf8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Timestamp => "timestamp",
            ColumnType::I64 => "i64",
            ColumnType::U64 => "u64",
            ColumnType::F64 => "f64",
            ColumnType::Bool => "bool",
            ColumnType::String => "string",
        }
    }
}

/// What a column means to the time-series engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ColumnRole {
    Field = 0,
    /// A series-identifying string column (dictionary-encoded).
    Tag = 1,
    /// The time column the partition is ordered and pruned by (at most one, a Timestamp).
    TimeKey = 2,
}

impl ColumnRole {
    pub fn id(self) -> u8 {
        self as u8
    }

    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => ColumnRole::Field,
            1 => ColumnRole::Tag,
            2 => ColumnRole::TimeKey,
            _ => return None,
        })
    }
}

/// One column of a partition file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnSpec {
    pub name: String,
    pub column_type: ColumnType,
    pub role: ColumnRole,
    pub nullable: bool,
}

impl ColumnSpec {
    pub fn new(name: impl Into<String>, column_type: ColumnType, role: ColumnRole) -> Self {
        Self {
            name: name.into(),
            column_type,
            role,
            nullable: role != ColumnRole::TimeKey,
        }
    }

    pub fn field(name: impl Into<String>, column_type: ColumnType) -> Self {
        Self::new(name, column_type, ColumnRole::Field)
    }

    pub fn tag(name: impl Into<String>) -> Self {
        Self::new(name, ColumnType::String, ColumnRole::Tag)
    }

    pub fn time_key(name: impl Into<String>) -> Self {
        Self::new(name, ColumnType::Timestamp, ColumnRole::TimeKey)
    }
}

/// The columns of a partition file, in storage order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Schema {
    pub columns: Vec<ColumnSpec>,
}

impl Schema {
    pub fn new(columns: Vec<ColumnSpec>) -> Result<Self> {
        let s = Self { columns };
        s.validate().map_err(StorageError::InvalidInput)?;
        Ok(s)
    }

    /// Index of the column named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Index of the TIME_KEY column, if the schema has one.
    pub fn time_key(&self) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.role == ColumnRole::TimeKey)
    }

    /// Checks names (non-empty, at most 255 bytes, unique), the column count, and the roles
    /// (at most one TIME_KEY, a non-nullable Timestamp; tags are strings).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.columns.is_empty() || self.columns.len() > MAX_COLUMNS {
            return Err(format!(
                "a partition holds 1..={MAX_COLUMNS} columns, not {}",
                self.columns.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut time_keys = 0;
        for c in &self.columns {
            if c.name.is_empty() || c.name.len() > MAX_COLUMN_NAME_BYTES {
                return Err(format!("column name {:?} must be 1..=255 bytes", c.name));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(format!("duplicate column name {:?}", c.name));
            }
            match c.role {
                ColumnRole::TimeKey => {
                    time_keys += 1;
                    if c.column_type != ColumnType::Timestamp || c.nullable {
                        return Err(format!(
                            "TIME_KEY column {:?} must be a non-nullable timestamp",
                            c.name
                        ));
                    }
                }
                ColumnRole::Tag if c.column_type != ColumnType::String => {
                    return Err(format!("tag column {:?} must be a string", c.name));
                }
                _ => {}
            }
        }
        if time_keys > 1 {
            return Err("more than one TIME_KEY column".to_string());
        }
        Ok(())
    }
}
