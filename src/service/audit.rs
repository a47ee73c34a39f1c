//! Reading the audit log: staff see the entries of their jurisdiction (admins everything), each
//! with the fields that changed, before → after.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::{AuditEntry, AuditFilter};
use crate::domain::time::china_offset;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::paging::{Page, PageQuery};
use crate::state::AppState;

/// Any JSON value, spelled out (the spec's consumers and its refinement need a type list).
fn any_json() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Type};
    let t = |ty: Type| ObjectBuilder::new().schema_type(ty).build();
    AnyOfBuilder::new()
        .item(t(Type::String))
        .item(t(Type::Number))
        .item(t(Type::Boolean))
        .item(t(Type::Object))
        .item(ArrayBuilder::new().build())
        .item(t(Type::Null))
        .build()
        .into()
}

/// One field that changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// Any JSON value (`null` when the field was absent).
    #[schema(schema_with = any_json)]
    pub before: Value,
    /// Any JSON value (`null` when the field is gone).
    #[schema(schema_with = any_json)]
    pub after: Value,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The username who acted, or `cli` / `system`.
    pub actor: String,
    /// E.g. `merchant.update`, `qrcode.revoke`, `user.disable`.
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// The top-level fields whose value differs between before and after (all of them for a
    /// creation or a deletion).
    pub changes: Vec<FieldChange>,
}

/// The fields that differ between two JSON objects (or the whole value, as `value`).
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    match (before, after) {
        (b, a) if b.is_none_or(Value::is_object) && a.is_none_or(Value::is_object) => {
            let b = b.and_then(Value::as_object).unwrap_or(&empty);
            let a = a.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| !matches!(k.as_str(), "updated_at" | "version"))
                .filter_map(|k| {
                    let (x, y) = (
                        b.get(k).cloned().unwrap_or(Value::Null),
                        a.get(k).cloned().unwrap_or(Value::Null),
                    );
                    (x != y).then(|| FieldChange {
                        field: k.clone(),
                        before: x,
                        after: y,
                    })
                })
                .collect()
        }
        (b, a) => vec![FieldChange {
            field: "value".into(),
            before: b.cloned().unwrap_or(Value::Null),
            after: a.cloned().unwrap_or(Value::Null),
        }],
    }
}

fn view(e: AuditEntry) -> AuditView {
    AuditView {
        changes: changes(e.before.as_ref(), e.after.as_ref()),
        id: e.id,
        at: e.at,
        actor: e.actor_label,
        action: e.action,
        entity: e.entity,
        entity_id: e.entity_id,
    }
}

/// The log's filters, as given.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor: Option<String>,
    /// First day (China time), inclusive.
    pub from: Option<String>,
    /// Last day (China time), inclusive.
    pub to: Option<String>,
}

fn word(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(crate::domain::text::clean_ident)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn day_start(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.and_hms_opt(0, 0, 0)?
        .and_local_timezone(china_offset())
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The audit log of the caller's jurisdiction (admins: all), newest first.
pub async fn list(
    state: &AppState,
    user: &CurrentUser,
    q: &AuditQuery,
    paging: &PageQuery,
) -> AppResult<Page<AuditView>> {
    policy::read_audit(user).check()?;
    let mut errors = Vec::new();
    let (page, per_page) = match paging.parse() {
        Ok(p) => p,
        Err(AppError::Validation(e)) => {
            errors.extend(e);
            (1, 1)
        }
        Err(e) => return Err(e),
    };
    let mut date = |field: &str, v: &Option<String>| -> Option<NaiveDate> {
        let raw = word(v)?;
        match crate::domain::time::parse_date(&raw) {
            Some(d) => Some(d),
            None => {
                errors.push(FieldError::new(
                    field,
                    "invalid_date",
                    format!("{field} is a date (YYYY-MM-DD)"),
                ));
                None
            }
        }
    };
    let from = date("from", &q.from);
    let to = date("to", &q.to);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    let filter = AuditFilter {
        regions,
        caller: Some(user.id),
        entity: word(&q.entity),
        entity_id: word(&q.entity_id),
        actor: q
            .actor
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase),
        from: from.and_then(day_start),
        until: to.and_then(|d| d.succ_opt()).and_then(day_start),
    };
    let (rows, total) = db::audit::list(&mut conn, &filter, page, per_page).await?;
    Ok(Page {
        items: rows.into_iter().map(view).collect(),
        total,
        page,
        per_page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_list_the_fields_that_differ() {
        let b = json!({"name": "甲", "phone": "1", "version": 1});
        let a = json!({"name": "甲", "phone": "2", "version": 2});
        let c = changes(Some(&b), Some(&a));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "phone");
        assert_eq!(c[0].before, json!("1"));
        assert_eq!(c[0].after, json!("2"));
        let created = changes(None, Some(&a));
        assert_eq!(created.len(), 2, "name and phone, not the version");
        let scalar = changes(None, Some(&json!(3)));
        assert_eq!(scalar[0].field, "value");
    }
}
