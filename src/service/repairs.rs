//! Credit repair (信用修复): once a penalty, an abnormal-list entry or a serious-violation
//! listing has been public for the minimum time its kind's rule sets (data, editable by an
//! administrator; defaults 90, 0 and 365 days), the merchant applies with a statement; a
//! regulator approves (the record leaves publicity that day and the grade is reassessed) or
//! refuses with a reason the merchant sees.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::repairs::{RepairRow, RepairRule};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::evidence::{EvidenceUpload, EvidenceView};
use crate::service::today;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepairView {
    pub id: i64,
    pub merchant_id: i64,
    /// The credit record to be taken out of publicity.
    pub record_id: i64,
    pub statement: String,
    /// `open`, `approved` or `refused`.
    pub status: String,
    pub filed_at: DateTime<Utc>,
    pub deadline: NaiveDate,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    /// Files the merchant attached (never public).
    pub evidence: Vec<EvidenceView>,
}

impl From<RepairRow> for RepairView {
    fn from(r: RepairRow) -> Self {
        Self {
            id: r.id,
            merchant_id: r.merchant_id,
            record_id: r.record_id,
            statement: r.statement,
            status: r.status,
            filed_at: r.filed_at,
            deadline: r.deadline,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            evidence: Vec::new(),
        }
    }
}

impl super::evidence::HasEvidence for RepairView {
    const OBJECTION: bool = false;
    fn id(&self) -> i64 {
        self.id
    }
    fn set_evidence(&mut self, files: Vec<EvidenceView>) {
        self.evidence = files;
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedRepair {
    #[serde(flatten)]
    pub repair: RepairView,
    pub merchant_name: String,
}

/// The rules (anyone signed in may read them: merchants see when they may apply).
pub async fn rules(state: &AppState) -> AppResult<Vec<RepairRule>> {
    let mut conn = state.pool.get().await?;
    Ok(db::repairs::rules(&mut conn).await?)
}

/// Sets the minimum days in publicity for a kind (administrators).
pub async fn set_rule(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    kind: &str,
    days: i32,
) -> AppResult<RepairRule> {
    policy::administer(user).check()?;
    if !["penalty", "abnormal_list", "serious_violation"].contains(&kind) {
        return Err(AppError::NotFound);
    }
    if !(0..=3650).contains(&days) {
        return Err(AppError::validation(FieldError::new(
            "min_days_in_publicity",
            "out_of_range",
            "min_days_in_publicity is 0–3650",
        )));
    }
    let mut conn = state.pool.get().await?;
    Ok(db::repairs::set_rule(&mut conn, &actor, kind, days).await?)
}

/// The merchant applies for repair of one of its public credit records: the merchant itself
/// only (regulators 403, others 404); a public record of its own of a repairable kind (404, or
/// 422 `not_repairable`); after the rule's minimum time (422 `too_early`, naming the first
/// day); one open application per record (409 `repair_open`).
pub async fn apply(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    record_id: i64,
    statement: &str,
    evidence: Vec<EvidenceUpload>,
) -> AppResult<RepairView> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::reply_to_record(user, merchant_id, &region).check()?;
    let today = today();
    let (kind, decided_on) = db::repairs::public_record(&mut conn, record_id, merchant_id, today)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(rule) = db::repairs::rule(&mut conn, &kind).await? else {
        return Err(AppError::validation(FieldError::new(
            "record_id",
            "not_repairable",
            format!("a {kind} record is not repaired; it ends with its publicity"),
        )));
    };
    let first_day =
        decided_on + chrono::Days::new(u64::try_from(rule.min_days_in_publicity).unwrap_or(0));
    if today < first_day {
        return Err(AppError::validation(FieldError::new(
            "record_id",
            "too_early",
            format!(
                "a {kind} record may be repaired after {} days in publicity: from {first_day}",
                rule.min_days_in_publicity
            ),
        )));
    }
    let statement = super::required_text("reason", statement, 2000)?;
    // Images are decoded without holding a pooled connection.
    drop(conn);
    let evidence = super::evidence::prepare(evidence, 0).await?;
    let mut conn = state.pool.get().await?;
    let cal = db::calendar::load_range(&mut conn, today, today + chrono::Days::new(800)).await?;
    let days = db::repairs::review_days(&mut conn, "credit_repair").await?;
    let deadline = cal.add_working_days(today, days);
    let row = db::repairs::insert(
        &mut conn,
        &actor,
        merchant_id,
        record_id,
        &statement,
        deadline,
        &evidence,
    )
    .await?
    .ok_or_else(|| AppError::Conflict {
        code: "repair_open",
        detail: "this record already has an open repair application".into(),
    })?;
    Ok(super::evidence::fill(&mut conn, vec![row.into()])
        .await?
        .remove(0))
}

pub async fn of_merchant(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
) -> AppResult<Vec<RepairView>> {
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::view_merchant(user, merchant_id, &region).check()?;
    let views = db::repairs::of_merchant(&mut conn, merchant_id)
        .await?
        .into_iter()
        .map(RepairView::from)
        .collect();
    super::evidence::fill(&mut conn, views).await
}

pub async fn queue(state: &AppState, user: &CurrentUser) -> AppResult<Vec<QueuedRepair>> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    let rows = db::repairs::queue(&mut conn, regions, 500).await?;
    let names: Vec<String> = rows.iter().map(|(_, n)| n.clone()).collect();
    let views =
        super::evidence::fill(&mut conn, rows.into_iter().map(|(r, _)| r.into()).collect()).await?;
    Ok(views
        .into_iter()
        .zip(names)
        .map(|(repair, merchant_name)| QueuedRepair {
            repair,
            merchant_name,
        })
        .collect())
}

/// A regulator's decision: `approve` or `refuse`, with a note the merchant sees.
pub async fn decide(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    decision: &str,
    note: &str,
) -> AppResult<RepairView> {
    let mut conn = state.pool.get().await?;
    let r = db::repairs::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, r.merchant_id).await?;
    policy::manage_merchant(user, r.merchant_id, &region).check()?;
    let approve = match decision.trim() {
        "approve" => true,
        "refuse" => false,
        _ => {
            return Err(AppError::validation(FieldError::new(
                "decision",
                "invalid_decision",
                "decision must be one of approve, refuse",
            )))
        }
    };
    let note = super::required_text("note", note, 2000)?;
    let row = db::repairs::decide(&mut conn, &actor, id, approve, &note, today())
        .await?
        .ok_or_else(|| AppError::Conflict {
            code: "repair_decided",
            detail: "this application has been decided already".into(),
        })?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[r.merchant_id])
        .await;
    Ok(super::evidence::fill(&mut conn, vec![row.into()])
        .await?
        .remove(0))
}

/// How long regulators have to decide objections and repair applications.
pub async fn review_deadlines(state: &AppState) -> AppResult<Vec<db::repairs::ReviewDeadline>> {
    let mut conn = state.pool.get().await?;
    Ok(db::repairs::review_deadlines(&mut conn).await?)
}

/// Sets the working days regulators have to decide `objection`s or `credit_repair`s
/// (administrators; 1–365).
pub async fn set_review_days(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    kind: &str,
    days: i32,
) -> AppResult<db::repairs::ReviewDeadline> {
    policy::administer(user).check()?;
    if !["objection", "credit_repair"].contains(&kind) {
        return Err(AppError::NotFound);
    }
    if !(1..=365).contains(&days) {
        return Err(AppError::validation(FieldError::new(
            "working_days",
            "out_of_range",
            "working_days is 1–365",
        )));
    }
    let mut conn = state.pool.get().await?;
    Ok(db::repairs::set_review_days(&mut conn, &actor, kind, days).await?)
}
