//! `information_schema` as PostgreSQL clients read it. DataFusion's own names column types
//! the Arrow way (`Int64`, `Utf8`, `Timestamp(ns, "UTC")`); Grafana's column picker, ORMs and
//! schema browsers show and compare PostgreSQL's names (`bigint`, `text`,
//! `timestamp with time zone`). PostgreSQL sessions use this schema instead: `tables`,
//! `columns`, `schemata` and `views`, built from the session's catalog when queried.

use std::sync::{Arc, Weak};

use arrow_pg::datatypes::into_pg_type;
use async_trait::async_trait;
use cairn_query::arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use cairn_query::arrow::datatypes::{DataType, Field, Schema};
use cairn_query::datafusion::catalog::{CatalogProvider, MemTable, SchemaProvider, TableProvider};
use cairn_query::datafusion::error::{DataFusionError, Result};
use pgwire::api::Type;

/// The schema's name.
pub const NAME: &str = "information_schema";
const TABLES: [&str; 4] = ["tables", "columns", "schemata", "views"];

/// `information_schema` over a catalog (held weakly: the catalog holds this schema).
#[derive(Debug)]
pub struct InfoSchema {
    catalog_name: String,
    catalog: Weak<dyn CatalogProvider>,
}

impl InfoSchema {
    pub fn new(catalog_name: &str, catalog: &Arc<dyn CatalogProvider>) -> InfoSchema {
        InfoSchema {
            catalog_name: catalog_name.to_owned(),
            catalog: Arc::downgrade(catalog),
        }
    }

    fn catalog(&self) -> Result<Arc<dyn CatalogProvider>> {
        self.catalog
            .upgrade()
            .ok_or_else(|| DataFusionError::Plan("the session's catalog is gone".into()))
    }

    /// Every schema's tables, as (schema, table, is a view).
    fn relations(&self, catalog: &Arc<dyn CatalogProvider>) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        let mut schemas = catalog.schema_names();
        schemas.sort();
        for schema in schemas {
            if schema == NAME {
                out.extend(
                    TABLES
                        .iter()
                        .map(|t| (schema.clone(), (*t).to_owned(), true)),
                );
                continue;
            }
            let Some(provider) = catalog.schema(&schema) else {
                continue;
            };
            let mut names = provider.table_names();
            names.sort();
            out.extend(names.into_iter().map(|t| (schema.clone(), t, false)));
        }
        out
    }

    fn tables(&self) -> Result<RecordBatch> {
        let catalog = self.catalog()?;
        let mut cols = Columns::new(&["table_catalog", "table_schema", "table_name", "table_type"]);
        for (schema, table, view) in self.relations(&catalog) {
            cols.text(0, &self.catalog_name);
            cols.text(1, &schema);
            cols.text(2, &table);
            cols.text(3, if view { "VIEW" } else { "BASE TABLE" });
        }
        cols.finish(&[])
    }

    fn schemata(&self) -> Result<RecordBatch> {
        let catalog = self.catalog()?;
        let mut cols = Columns::new(&["catalog_name", "schema_name", "schema_owner"]);
        let mut names = catalog.schema_names();
        names.sort();
        for name in names {
            cols.text(0, &self.catalog_name);
            cols.text(1, &name);
            cols.text(2, "cairn");
        }
        cols.finish(&[])
    }

    fn views(&self) -> Result<RecordBatch> {
        Columns::new(&[
            "table_catalog",
            "table_schema",
            "table_name",
            "view_definition",
        ])
        .finish(&[])
    }

    async fn columns(&self) -> Result<RecordBatch> {
        let catalog = self.catalog()?;
        let text = [
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "column_default",
            "is_nullable",
            "data_type",
            "udt_name",
        ];
        let mut cols = Columns::new(&text);
        let mut ordinal = Int64Builder::new();
        for (schema, table, view) in self.relations(&catalog) {
            // This schema's own tables are built by this very query: not listed.
            if view {
                continue;
            }
            let fields = match catalog.schema(&schema) {
                Some(p) => match p.table(&table).await? {
                    Some(t) => t.schema(),
                    None => continue,
                },
                None => continue,
            };
            for (i, f) in fields.fields().iter().enumerate() {
                let (data_type, udt) = pg_type_names(f.data_type());
                cols.text(0, &self.catalog_name);
                cols.text(1, &schema);
                cols.text(2, &table);
                cols.text(3, f.name());
                cols.null(4);
                cols.text(5, if f.is_nullable() { "YES" } else { "NO" });
                cols.text(6, data_type);
                cols.text(7, udt);
                ordinal.append_value(i64::try_from(i + 1).unwrap_or(i64::MAX));
            }
        }
        cols.finish(&[("ordinal_position", Arc::new(ordinal.finish()))])
    }
}

#[async_trait]
impl SchemaProvider for InfoSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| (*t).to_owned()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let batch = match name.to_ascii_lowercase().as_str() {
            "tables" => self.tables()?,
            "columns" => Box::pin(self.columns()).await?,
            "schemata" => self.schemata()?,
            "views" => self.views()?,
            _ => return Ok(None),
        };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name.to_ascii_lowercase().as_str())
    }
}

/// PostgreSQL's `data_type` and `udt_name` for an Arrow type (`bigint`, `int8`).
pub fn pg_type_names(t: &DataType) -> (&'static str, &'static str) {
    let t = match t {
        DataType::Dictionary(_, value) => value.as_ref(),
        other => other,
    };
    let Ok(pg) = into_pg_type(t) else {
        return ("USER-DEFINED", "unknown");
    };
    let data_type = match pg {
        Type::INT2 => "smallint",
        Type::INT4 => "integer",
        Type::INT8 => "bigint",
        Type::NUMERIC => "numeric",
        Type::FLOAT4 => "real",
        Type::FLOAT8 => "double precision",
        Type::BOOL => "boolean",
        Type::TEXT => "text",
        Type::VARCHAR => "character varying",
        Type::BYTEA => "bytea",
        Type::DATE => "date",
        Type::TIME => "time without time zone",
        Type::TIMESTAMP => "timestamp without time zone",
        Type::TIMESTAMPTZ => "timestamp with time zone",
        Type::INTERVAL => "interval",
        _ if pg.name().starts_with('_') => "ARRAY",
        _ => "USER-DEFINED",
    };
    let udt = match pg {
        Type::INT2 => "int2",
        Type::INT4 => "int4",
        Type::INT8 => "int8",
        Type::NUMERIC => "numeric",
        Type::FLOAT4 => "float4",
        Type::FLOAT8 => "float8",
        Type::BOOL => "bool",
        Type::TEXT => "text",
        Type::VARCHAR => "varchar",
        Type::BYTEA => "bytea",
        Type::DATE => "date",
        Type::TIME => "time",
        Type::TIMESTAMP => "timestamp",
        Type::TIMESTAMPTZ => "timestamptz",
        Type::INTERVAL => "interval",
        _ => "unknown",
    };
    (data_type, udt)
}

/// Nullable text columns being filled row by row.
struct Columns {
    names: Vec<String>,
    builders: Vec<StringBuilder>,
}

impl Columns {
    fn new(names: &[&str]) -> Columns {
        Columns {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            builders: names.iter().map(|_| StringBuilder::new()).collect(),
        }
    }

    fn text(&mut self, i: usize, v: &str) {
        if let Some(b) = self.builders.get_mut(i) {
            b.append_value(v);
        }
    }

    fn null(&mut self, i: usize) {
        if let Some(b) = self.builders.get_mut(i) {
            b.append_null();
        }
    }

    /// The batch of the text columns, then `extra` (non-text columns, in order).
    fn finish(mut self, extra: &[(&str, ArrayRef)]) -> Result<RecordBatch> {
        let mut fields: Vec<Field> = self
            .names
            .iter()
            .map(|n| Field::new(n, DataType::Utf8, true))
            .collect();
        let mut arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        for (name, array) in extra {
            fields.push(Field::new(*name, array.data_type().clone(), true));
            arrays.push(array.clone());
        }
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
    }
}
