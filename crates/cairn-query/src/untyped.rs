//! PostgreSQL's "unknown" type for what the SQL text leaves untyped, where DataFusion would
//! otherwise refuse a statement PostgreSQL runs:
//! - a string literal compared with a BOOLEAN (`ok = 'true'`, `ok IN ('t', 'f')`) is read as a
//!   boolean, as PostgreSQL reads `'true'`, `'t'`, `'yes'`, `'on'`, `'1'` and their opposites;
//!   anything else is an error (22P02), never a silent false. pgjdbc's simple protocol inlines
//!   boolean parameters this way.
//! - a `LIMIT $1` / `OFFSET $1` placeholder is a BIGINT (node-postgres sends parameters
//!   untyped; DataFusion would otherwise take them as text).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::expr::{InList, Placeholder};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::error::QueryError;

/// Reads string literals compared with booleans as booleans. Runs before DataFusion's type
/// coercion, which would refuse `Boolean = Utf8`.
#[derive(Debug, Default)]
pub struct UntypedLiterals;

impl AnalyzerRule for UntypedLiterals {
    fn name(&self) -> &str {
        "cairn_untyped_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> DfResult<LogicalPlan> {
        plan.transform_up_with_subqueries(rewrite_node)
            .map(|t| t.data)
    }
}

/// The same reading while the SQL is planned: a select-list comparison (`SELECT ok = 't'`)
/// needs its type before any analyzer rule runs.
#[derive(Debug, Default)]
pub struct BooleanComparisons;

impl ExprPlanner for BooleanComparisons {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> DfResult<PlannerResult<RawBinaryExpr>> {
        use BinaryOperator as B;
        if !matches!(
            expr.op,
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq
        ) {
            return Ok(PlannerResult::Original(expr));
        }
        let RawBinaryExpr { op, left, right } = expr;
        let (left, right) = match (is_boolean(&left, schema), is_boolean(&right, schema)) {
            (true, false) => (left, as_boolean(right)?),
            (false, true) => (as_boolean(left)?, right),
            _ => (left, right),
        };
        Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }))
    }
}

fn rewrite_node(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    let mut schema = merge_schema(&plan.inputs());
    if let LogicalPlan::TableScan(ts) = &plan {
        schema.merge(&DFSchema::try_from_qualified_schema(
            ts.table_name.clone(),
            &ts.source.schema(),
        )?);
    }
    let names = NamePreserver::new(&plan);
    let out = plan.map_expressions(|expr| {
        let name = names.save(&expr);
        expr.transform_up(|e| rewrite_expr(e, &schema))
            .map(|t| t.update_data(|e| name.restore(e)))
    })?;
    if out.transformed {
        out.map_data(|p| p.recompute_schema())
    } else {
        Ok(out)
    }
}

fn rewrite_expr(expr: Expr, schema: &DFSchema) -> DfResult<Transformed<Expr>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            let (left, right) = match (is_boolean(&left, schema), is_boolean(&right, schema)) {
                (true, false) => (left, Box::new(as_boolean(*right)?)),
                (false, true) => (Box::new(as_boolean(*left)?), right),
                _ => {
                    return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                        left,
                        op,
                        right,
                    })));
                }
            };
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                left,
                op,
                right,
            })))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) if is_boolean(&expr, schema) => {
            let list = list.into_iter().map(as_boolean).collect::<DfResult<_>>()?;
            Ok(Transformed::yes(Expr::InList(InList {
                expr,
                list,
                negated,
            })))
        }
        other => Ok(Transformed::no(other)),
    }
}

fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn is_boolean(expr: &Expr, schema: &DFSchema) -> bool {
    !matches!(expr, Expr::Literal(..)) && matches!(expr.get_type(schema), Ok(DataType::Boolean))
}

/// A string literal as the boolean PostgreSQL reads it; any other expression unchanged.
fn as_boolean(expr: Expr) -> DfResult<Expr> {
    let text = match &expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => s,
        _ => return Ok(expr),
    };
    match parse_pg_bool(text) {
        Some(b) => Ok(Expr::Literal(ScalarValue::Boolean(Some(b)), None)),
        None => Err(DataFusionError::External(Box::new(
            QueryError::InvalidText(format!("invalid input syntax for type boolean: \"{text}\"")),
        ))),
    }
}

/// PostgreSQL's boolean input: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0` and any unique
/// prefix of them (`t`, `f`, `y`, `n`), case-insensitive, surrounding blanks ignored.
pub fn parse_pg_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || t == "on" || t == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// Gives untyped `LIMIT` / `OFFSET` placeholders the type BIGINT.
pub fn type_limit_placeholders(plan: LogicalPlan) -> DfResult<LogicalPlan> {
    let mut any = false;
    plan.apply_with_subqueries(|p| {
        if let LogicalPlan::Limit(l) = p {
            any |= [&l.skip, &l.fetch].into_iter().flatten().any(|e| {
                matches!(
                    e.as_ref(),
                    Expr::Placeholder(Placeholder { field: None, .. })
                )
            });
        }
        Ok(if any {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if !any {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|p| match p {
        LogicalPlan::Limit(mut l) => {
            for e in [&mut l.skip, &mut l.fetch].into_iter().flatten() {
                if let Expr::Placeholder(Placeholder { id, field: None }) = e.as_ref() {
                    **e = Expr::Placeholder(Placeholder {
                        id: id.clone(),
                        field: Some(Arc::new(Field::new(id, DataType::Int64, true))),
                    });
                }
            }
            Ok(Transformed::yes(LogicalPlan::Limit(l)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

#[cfg(test)]
mod tests {
    use super::parse_pg_bool;

    #[test]
    fn booleans_as_postgresql_reads_them() {
        for t in ["true", "t", "TRUE", " yes ", "y", "on", "1", "tr"] {
            assert_eq!(parse_pg_bool(t), Some(true), "{t}");
        }
        for f in ["false", "f", "no", "n", "off", "of", "0", "FALSE"] {
            assert_eq!(parse_pg_bool(f), Some(false), "{f}");
        }
        for bad in ["", "o", "2", "truee", "yess", "nope", "maybe"] {
            assert_eq!(parse_pg_bool(bad), None, "{bad}");
        }
    }
}
