//! Result column names as PostgreSQL gives them. DataFusion names an unaliased column after
//! its expression text (`count(*)`, `min(cpu.n)`, `Int64(1)`); PostgreSQL names it after the
//! function (`count`, `min`), the column (`n`), the type of a cast of a constant (`int4`),
//! or `?column?`. Drivers that return rows as objects (node-postgres), ORMs and Grafana read
//! columns by these names. Only the RowDescription changes: the plan keeps DataFusion's
//! names, which must be unique where PostgreSQL's need not be.

use std::sync::Arc;

use cairn_query::arrow::datatypes::{Field, Schema, SchemaRef};
use cairn_query::datafusion::sql::sqlparser::ast::{
    CastKind, DataType as SqlType, Expr, ObjectName, ObjectNamePart, Query, SelectItem, SetExpr,
    Statement,
};
use cairn_query::datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use cairn_query::datafusion::sql::sqlparser::parser::Parser;

/// PostgreSQL's name for an expression it cannot name otherwise.
const UNNAMED: &str = "?column?";

/// `schema` with its fields renamed as PostgreSQL would name the columns of `sql`; unchanged
/// when `sql` is not a query whose select list can be matched to the fields.
pub fn pg_names(sql: &str, schema: &SchemaRef) -> SchemaRef {
    let Some(items) = select_list(sql) else {
        return schema.clone();
    };
    let fields = schema.fields();
    // Items before a wildcard match the first fields, items after it the last ones.
    let star = items.iter().position(Option::is_none);
    let (head, tail) = match star {
        None if items.len() == fields.len() => (items.as_slice(), &[][..]),
        None => return schema.clone(),
        Some(i) => (&items[..i], &items[i + 1..]),
    };
    if head.len() + tail.len() > fields.len() || tail.iter().any(Option::is_none) {
        return schema.clone();
    }
    let mut names: Vec<Option<&String>> = vec![None; fields.len()];
    for (slot, item) in names.iter_mut().zip(head) {
        *slot = item.as_ref().and_then(Option::as_ref);
    }
    let offset = fields.len() - tail.len();
    for (slot, item) in names[offset..].iter_mut().zip(tail) {
        *slot = item.as_ref().and_then(Option::as_ref);
    }
    if names
        .iter()
        .zip(fields.iter())
        .all(|(n, f)| n.is_none_or(|n| n == f.name()))
    {
        return schema.clone();
    }
    let renamed: Vec<Field> = fields
        .iter()
        .zip(names)
        .map(|(f, n)| match n {
            Some(n) => f.as_ref().clone().with_name(n.clone()),
            None => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(
        renamed,
        schema.metadata().clone(),
    ))
}

/// The select list of a single query: per item `Some(Some(name))` for an unaliased
/// expression PostgreSQL names, `Some(None)` for one left as planned (aliases), `None` for a
/// wildcard.
fn select_list(sql: &str) -> Option<Vec<Option<Option<String>>>> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let query = match statements.pop()? {
        Statement::Query(q) => q,
        _ => return None,
    };
    let select = leftmost_select(&query.body)?;
    Some(
        select
            .iter()
            .map(|item| match item {
                SelectItem::UnnamedExpr(e) => Some(Some(name_of(e).unwrap_or(UNNAMED).into())),
                SelectItem::ExprWithAlias { .. } | SelectItem::ExprWithAliases { .. } => Some(None),
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => None,
            })
            .collect(),
    )
}

fn leftmost_select(body: &SetExpr) -> Option<&Vec<SelectItem>> {
    match body {
        SetExpr::Select(s) => Some(&s.projection),
        SetExpr::Query(q) => leftmost_select(&q.body),
        SetExpr::SetOperation { left, .. } => leftmost_select(left),
        _ => None,
    }
}

/// PostgreSQL's name for an unaliased select-list expression (its FigureColname), `None`
/// where it would say `?column?`.
fn name_of(e: &Expr) -> Option<&str> {
    Some(match e {
        Expr::Identifier(i) => i.value.as_str(),
        Expr::CompoundIdentifier(parts) => parts.last()?.value.as_str(),
        Expr::CompoundFieldAccess { root, .. } => return name_of(root),
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => return name_of(inner),
        Expr::Function(f) => last_part(&f.name)?,
        Expr::Cast {
            kind,
            expr,
            data_type,
            ..
        } => {
            return name_of(expr).or(match kind {
                CastKind::DoubleColon | CastKind::Cast => type_name(data_type),
                _ => None,
            });
        }
        Expr::Case { .. } => "case",
        Expr::Exists { .. } => "exists",
        Expr::Subquery(q) => return subquery_name(q),
        Expr::Array(_) => "array",
        Expr::Tuple(_) => "row",
        Expr::Extract { .. } => "extract",
        Expr::Ceil { .. } => "ceil",
        Expr::Floor { .. } => "floor",
        Expr::Position { .. } => "position",
        Expr::Substring { .. } => "substring",
        Expr::Trim { .. } => "btrim",
        Expr::Overlay { .. } => "overlay",
        Expr::AtTimeZone { .. } => "timezone",
        Expr::Interval(_) => "interval",
        Expr::TypedString(t) => return type_name(&t.data_type),
        _ => return None,
    })
}

/// A scalar subquery is named after its own single column.
fn subquery_name(q: &Query) -> Option<&str> {
    match leftmost_select(&q.body)?.as_slice() {
        [SelectItem::UnnamedExpr(e)] => name_of(e),
        [SelectItem::ExprWithAlias { alias, .. }] => Some(alias.value.as_str()),
        _ => None,
    }
}

fn last_part(name: &ObjectName) -> Option<&str> {
    match name.0.last()? {
        ObjectNamePart::Identifier(i) => Some(i.value.as_str()),
        ObjectNamePart::Function(_) => None,
    }
}

/// The internal name PostgreSQL gives a cast to `t` (`CAST(1 AS INTEGER)` is `int4`).
fn type_name(t: &SqlType) -> Option<&'static str> {
    Some(match t {
        SqlType::SmallInt(_) | SqlType::Int2(_) => "int2",
        SqlType::Int(_) | SqlType::Integer(_) | SqlType::Int4(_) => "int4",
        SqlType::BigInt(_) | SqlType::Int8(_) => "int8",
        SqlType::Real | SqlType::Float4 => "float4",
        SqlType::Double(_) | SqlType::DoublePrecision | SqlType::Float8 => "float8",
        SqlType::Float(_) => "float8",
        SqlType::Numeric(_) | SqlType::Decimal(_) => "numeric",
        SqlType::Boolean | SqlType::Bool => "bool",
        SqlType::Text => "text",
        SqlType::Varchar(_) | SqlType::CharacterVarying(_) => "varchar",
        SqlType::Char(_) | SqlType::Character(_) => "bpchar",
        SqlType::Bytea => "bytea",
        SqlType::Date => "date",
        SqlType::Interval { .. } => "interval",
        SqlType::Timestamp(_, tz) => match tz {
            cairn_query::datafusion::sql::sqlparser::ast::TimezoneInfo::WithTimeZone
            | cairn_query::datafusion::sql::sqlparser::ast::TimezoneInfo::Tz => "timestamptz",
            _ => "timestamp",
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cairn_query::arrow::datatypes::DataType;

    fn names(sql: &str, planned: &[&str]) -> Vec<String> {
        let schema: SchemaRef = Arc::new(Schema::new(
            planned
                .iter()
                .map(|n| Field::new(*n, DataType::Int64, true))
                .collect::<Vec<_>>(),
        ));
        pg_names(sql, &schema)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn named_as_postgresql_names_them() {
        assert_eq!(
            names(
                "SELECT count(*), min(n), avg(usage) AS mean, cpu.host, 1, CAST(2 AS INTEGER), \
                 n::text, CASE WHEN ok THEN 1 END, (SELECT max(n) FROM cpu), n + 1 FROM cpu",
                &[
                    "count(*)",
                    "min(cpu.n)",
                    "mean",
                    "host",
                    "Int64(1)",
                    "Int64(2)",
                    "cpu.n",
                    "CASE",
                    "sub",
                    "cpu.n + Int64(1)"
                ]
            ),
            [
                "count", "min", "mean", "host", "?column?", "int4", "n", "case", "max", "?column?"
            ]
        );
    }

    #[test]
    fn wildcards_keep_the_planned_names_and_match_the_rest_by_position() {
        assert_eq!(
            names(
                "SELECT count(*), *, max(n) FROM cpu",
                &["count(*)", "a", "b", "max(cpu.n)"]
            ),
            ["count", "a", "b", "max"]
        );
        assert_eq!(names("SELECT * FROM cpu", &["a", "b"]), ["a", "b"]);
    }

    #[test]
    fn other_statements_and_mismatches_are_left_alone() {
        assert_eq!(names("SHOW TABLES", &["count(*)"]), ["count(*)"]);
        assert_eq!(names("SELECT count(*) FROM cpu", &["a", "b"]), ["a", "b"]);
        assert_eq!(names("not sql at all", &["x"]), ["x"]);
        assert_eq!(
            names("SELECT sum(n) FROM a UNION SELECT 1", &["sum(a.n)"]),
            ["sum"]
        );
    }
}
