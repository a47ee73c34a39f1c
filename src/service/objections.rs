//! Objections (异议): the merchant says a record about it is wrong and why. It enters the
//! regulators' queue with a deadline in working days; while it is open the public page marks the
//! record "商户已提出异议，核查中"; the regulator upholds the record or removes it from publicity,
//! with a reason the merchant sees.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::objections::ObjectionRow;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::today;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectionView {
    pub id: i64,
    pub merchant_id: i64,
    /// `inspection` or `credit_record`.
    pub record_kind: String,
    pub record_id: i64,
    pub reason: String,
    /// `open`, `upheld` (the record stands) or `removed` (taken out of publicity).
    pub status: String,
    pub filed_at: DateTime<Utc>,
    /// The regulator decides by this day.
    pub deadline: NaiveDate,
    pub decided_at: Option<DateTime<Utc>>,
    /// The regulator's reason.
    pub decision_note: Option<String>,
}

impl From<ObjectionRow> for ObjectionView {
    fn from(r: ObjectionRow) -> Self {
        Self {
            id: r.id,
            merchant_id: r.merchant_id,
            record_kind: r.record_kind,
            record_id: r.record_id,
            reason: r.reason,
            status: r.status,
            filed_at: r.filed_at,
            deadline: r.deadline,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
        }
    }
}

/// Files an objection to one of the merchant's records: the merchant itself only (regulators
/// 403, others 404), a record of its own (404), a reason (422); one open objection per record
/// (409 `objection_open`).
pub async fn file(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    kind: &str,
    record_id: i64,
    reason: &str,
) -> AppResult<ObjectionView> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::reply_to_record(user, merchant_id, &region).check()?;
    if !crate::service::replies::KINDS.contains(&kind)
        || !db::replies::record_belongs(&mut conn, kind, record_id, merchant_id).await?
    {
        return Err(AppError::NotFound);
    }
    let reason = super::required_text("reason", reason, 2000)?;
    let today = today();
    let cal = db::calendar::load_range(&mut conn, today, today + chrono::Days::new(800)).await?;
    let days = db::repairs::review_days(&mut conn, "objection").await?;
    let deadline = cal.add_working_days(today, days);
    let row = db::objections::insert(
        &mut conn,
        &actor,
        merchant_id,
        kind,
        record_id,
        &reason,
        deadline,
    )
    .await?
    .ok_or_else(|| AppError::Conflict {
        code: "objection_open",
        detail: "this record already has an open objection".into(),
    })?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[merchant_id])
        .await;
    Ok(row.into())
}

/// The merchant's objections (the merchant and its regulators).
pub async fn of_merchant(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
) -> AppResult<Vec<ObjectionView>> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::view_merchant(user, merchant_id, &region).check()?;
    Ok(db::objections::of_merchant(&mut conn, merchant_id)
        .await?
        .into_iter()
        .map(ObjectionView::from)
        .collect())
}

/// One line of the regulators' queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedObjection {
    #[serde(flatten)]
    pub objection: ObjectionView,
    pub merchant_name: String,
}

/// Open objections in the caller's jurisdiction, deadline first.
pub async fn queue(state: &AppState, user: &CurrentUser) -> AppResult<Vec<QueuedObjection>> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    Ok(db::objections::queue(&mut conn, regions, 500)
        .await?
        .into_iter()
        .map(|(o, merchant_name)| QueuedObjection {
            objection: o.into(),
            merchant_name,
        })
        .collect())
}

/// A regulator's decision: `uphold` (the record stands) or `remove` (out of publicity from
/// today; the grade is recomputed), with a note the merchant sees. 404 outside the
/// jurisdiction, 409 `objection_decided` when it is no longer open.
pub async fn decide(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    decision: &str,
    note: &str,
) -> AppResult<ObjectionView> {
    let mut conn = state.pool.get().await?;
    let o = db::objections::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, o.merchant_id).await?;
    policy::manage_merchant(user, o.merchant_id, &region).check()?;
    let remove = match decision.trim() {
        "remove" => true,
        "uphold" => false,
        _ => {
            return Err(AppError::validation(FieldError::new(
                "decision",
                "invalid_decision",
                "decision must be one of uphold, remove",
            )))
        }
    };
    let note = super::required_text("note", note, 2000)?;
    let yesterday = today().pred_opt().unwrap_or(today());
    let row = db::objections::decide(&mut conn, &actor, id, remove, &note, yesterday)
        .await?
        .ok_or_else(|| AppError::Conflict {
            code: "objection_decided",
            detail: "this objection has been decided already".into(),
        })?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[o.merchant_id])
        .await;
    Ok(row.into())
}
