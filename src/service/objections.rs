//! Objections (异议): the merchant says a record about it is wrong and why. It enters the
//! regulators' queue with a deadline in working days; while it is open the public page marks the
//! record "商户已提出异议，核查中"; the regulator upholds the record, corrects it, or removes it
//! from publicity, with a reason the merchant sees. The merchant may attach evidence (photos or
//! PDF, see [`super::evidence`]).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{policy, CurrentUser};
use crate::db;
use crate::db::audit::Actor;
use crate::db::objections::{Corrected, ObjectionRow, Outcome};
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::evidence::{EvidenceUpload, EvidenceView};
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
    /// `open`, `upheld` (the record stands), `corrected` (the record was rewritten) or
    /// `removed` (taken out of publicity).
    pub status: String,
    pub filed_at: DateTime<Utc>,
    /// The regulator decides by this day.
    pub deadline: NaiveDate,
    pub decided_at: Option<DateTime<Utc>>,
    /// The regulator's reason.
    pub decision_note: Option<String>,
    /// Files the merchant attached (never public).
    pub evidence: Vec<EvidenceView>,
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
            evidence: Vec::new(),
        }
    }
}

impl super::evidence::HasEvidence for ObjectionView {
    const OBJECTION: bool = true;
    fn id(&self) -> i64 {
        self.id
    }
    fn set_evidence(&mut self, files: Vec<EvidenceView>) {
        self.evidence = files;
    }
}

/// The records an objection can be about (a complaint is answered, not objected to).
pub const KINDS: &[&str] = &["inspection", "credit_record"];

/// An objection as the merchant sends it.
pub struct ObjectionInput<'a> {
    /// `inspection` or `credit_record`.
    pub record_kind: &'a str,
    pub record_id: i64,
    pub reason: &'a str,
    pub evidence: Vec<EvidenceUpload>,
}

/// Files an objection to one of the merchant's records: the merchant itself only (regulators
/// 403, others 404), a record of its own (404), a reason (422); one open objection per record
/// (409 `objection_open`).
pub async fn file(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    input: ObjectionInput<'_>,
) -> AppResult<ObjectionView> {
    let ObjectionInput {
        record_kind: kind,
        record_id,
        reason,
        evidence,
    } = input;
    let mut conn = state.pool.get().await?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, merchant_id).await?;
    policy::reply_to_record(user, merchant_id, &region).check()?;
    if !KINDS.contains(&kind)
        || !db::replies::record_belongs(&mut conn, kind, record_id, merchant_id).await?
    {
        return Err(AppError::NotFound);
    }
    let reason = super::required_text("reason", reason, 2000)?;
    // Images are decoded without holding a pooled connection.
    drop(conn);
    let evidence = super::evidence::prepare(evidence, 0).await?;
    let mut conn = state.pool.get().await?;
    let today = today();
    let cal = db::calendar::load_range(&mut conn, today, today + chrono::Days::new(800)).await?;
    let days = db::repairs::review_days(&mut conn, "objection").await?;
    let deadline = cal.add_working_days(today, days);
    let row = db::objections::insert(
        &mut conn,
        &actor,
        merchant_id,
        (kind, record_id),
        &reason,
        deadline,
        &evidence,
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
    Ok(super::evidence::fill(&mut conn, vec![row.into()])
        .await?
        .remove(0))
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
    let views = db::objections::of_merchant(&mut conn, merchant_id)
        .await?
        .into_iter()
        .map(ObjectionView::from)
        .collect();
    super::evidence::fill(&mut conn, views).await
}

/// The record an objection is about, as it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ObjectedRecord {
    Inspection(crate::db::merchants::InspectionRow),
    CreditRecord(crate::db::merchants::CreditRecordRow),
}

/// One line of the regulators' queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedObjection {
    #[serde(flatten)]
    pub objection: ObjectionView,
    pub merchant_name: String,
    /// The record objected to, as it stands.
    pub record: Option<ObjectedRecord>,
}

/// The records these objections are about (two queries).
async fn objected_records(
    conn: &mut AsyncPgConnection,
    rows: &[ObjectionRow],
) -> AppResult<Vec<Option<ObjectedRecord>>> {
    use crate::db::merchants::{CreditRecordRow, InspectionRow};
    use crate::db::schema::{credit_records, inspections};
    let ids = |kind: &str| -> Vec<i64> {
        rows.iter()
            .filter(|r| r.record_kind == kind)
            .map(|r| r.record_id)
            .collect()
    };
    let found_inspections: Vec<InspectionRow> = inspections::table
        .filter(inspections::id.eq_any(ids("inspection")))
        .select(InspectionRow::as_select())
        .load(conn)
        .await?;
    let found_credits: Vec<CreditRecordRow> = credit_records::table
        .filter(credit_records::id.eq_any(ids("credit_record")))
        .select(CreditRecordRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .iter()
        .map(|o| match o.record_kind.as_str() {
            "inspection" => found_inspections
                .iter()
                .find(|i| i.id == o.record_id)
                .cloned()
                .map(ObjectedRecord::Inspection),
            _ => found_credits
                .iter()
                .find(|c| c.id == o.record_id)
                .cloned()
                .map(ObjectedRecord::CreditRecord),
        })
        .collect())
}

/// Open objections in the caller's jurisdiction, deadline first.
pub async fn queue(state: &AppState, user: &CurrentUser) -> AppResult<Vec<QueuedObjection>> {
    policy::publish_warnings(user).check()?;
    let mut conn = state.pool.get().await?;
    let regions = super::dashboard::visible_regions(&mut conn, user).await?;
    let rows = db::objections::queue(&mut conn, regions, 500).await?;
    let names: Vec<String> = rows.iter().map(|(_, n)| n.clone()).collect();
    let rows: Vec<ObjectionRow> = rows.into_iter().map(|(o, _)| o).collect();
    let records = objected_records(&mut conn, &rows).await?;
    let views = super::evidence::fill(
        &mut conn,
        rows.into_iter().map(ObjectionView::from).collect(),
    )
    .await?;
    Ok(views
        .into_iter()
        .zip(names)
        .zip(records)
        .map(|((objection, merchant_name), record)| QueuedObjection {
            objection,
            merchant_name,
            record,
        })
        .collect())
}

/// A corrected record: the fields to change, the others kept. An inspection takes `kind`,
/// `inspected_on`, `department`, `result`, `summary`; a credit record `kind`, `department`,
/// `decision_no`, `decided_on`, `summary`, `publicity_until`. Validated as a new record would be.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCorrection {
    pub kind: Option<String>,
    pub department: Option<String>,
    pub summary: Option<String>,
    /// Inspections only.
    pub inspected_on: Option<String>,
    /// Inspections only: `pass`, `fail`, `rectify`.
    pub result: Option<String>,
    /// Credit records only.
    pub decision_no: Option<String>,
    /// Credit records only.
    pub decided_on: Option<String>,
    /// Credit records only: last day of public display.
    pub publicity_until: Option<String>,
}

fn prefixed(errors: Vec<FieldError>) -> AppError {
    AppError::Validation(
        errors
            .into_iter()
            .map(|mut e| {
                e.field = format!("correction.{}", e.field);
                e
            })
            .collect(),
    )
}

/// The record as corrected: its current values overlaid with `c`, validated as a new record
/// (422 on `correction.<field>`; `correction` `no_change` when nothing changes).
async fn corrected(
    conn: &mut AsyncPgConnection,
    o: &ObjectionRow,
    c: &RecordCorrection,
    by: i64,
) -> AppResult<Corrected> {
    use crate::db::merchants::{CreditRecordRow, InspectionRow};
    use crate::db::schema::{credit_records, inspections};
    let pick = |given: &Option<String>, current: String| given.clone().unwrap_or(current);
    let today = today();
    if o.record_kind == "inspection" {
        let misplaced: Vec<FieldError> = [
            ("decision_no", &c.decision_no),
            ("decided_on", &c.decided_on),
            ("publicity_until", &c.publicity_until),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(f, _)| FieldError::new(f, "not_applicable", "an inspection has no such field"))
        .collect();
        if !misplaced.is_empty() {
            return Err(prefixed(misplaced));
        }
        let cur: InspectionRow = inspections::table
            .find(o.record_id)
            .select(InspectionRow::as_select())
            .first(conn)
            .await?;
        let req = super::records::InspectionRequest {
            kind: Some(pick(&c.kind, cur.kind.clone())),
            inspected_on: Some(pick(&c.inspected_on, cur.inspected_on.to_string())),
            department: Some(pick(&c.department, cur.department.clone())),
            result: Some(pick(&c.result, cur.result.clone())),
            summary: Some(pick(&c.summary, cur.summary.clone())),
        };
        let n = super::records::validate_inspection(&req, o.merchant_id, by, today)
            .map_err(prefixed)?;
        if (
            &n.kind,
            n.inspected_on,
            &n.department,
            &n.result,
            &n.summary,
        ) == (
            &cur.kind,
            cur.inspected_on,
            &cur.department,
            &cur.result,
            &cur.summary,
        ) {
            return Err(no_change());
        }
        Ok(Corrected::Inspection(n))
    } else {
        let misplaced: Vec<FieldError> = [("inspected_on", &c.inspected_on), ("result", &c.result)]
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(f, _)| FieldError::new(f, "not_applicable", "a credit record has no such field"))
            .collect();
        if !misplaced.is_empty() {
            return Err(prefixed(misplaced));
        }
        let cur: CreditRecordRow = credit_records::table
            .find(o.record_id)
            .select(CreditRecordRow::as_select())
            .first(conn)
            .await?;
        let req = super::records::CreditRecordRequest {
            kind: Some(pick(&c.kind, cur.kind.clone())),
            department: Some(pick(&c.department, cur.department.clone())),
            decision_no: Some(pick(&c.decision_no, cur.decision_no.clone())),
            decided_on: Some(pick(&c.decided_on, cur.decided_on.to_string())),
            summary: Some(pick(&c.summary, cur.summary.clone())),
            publicity_until: c
                .publicity_until
                .clone()
                .or_else(|| cur.publicity_until.map(|d| d.to_string())),
        };
        let n = super::records::validate_credit_record(&req, o.merchant_id, by, today)
            .map_err(prefixed)?;
        if (
            &n.kind,
            &n.department,
            &n.decision_no,
            n.decided_on,
            &n.summary,
            n.publicity_until,
        ) == (
            &cur.kind,
            &cur.department,
            &cur.decision_no,
            cur.decided_on,
            &cur.summary,
            cur.publicity_until,
        ) {
            return Err(no_change());
        }
        Ok(Corrected::Credit(n))
    }
}

fn no_change() -> AppError {
    AppError::validation(FieldError::new(
        "correction",
        "no_change",
        "the correction changes nothing: uphold the record instead, or change a field",
    ))
}

/// A regulator's decision: `uphold` (the record stands), `correct` (the record is rewritten
/// with `correction`; required then, refused otherwise) or `remove` (out of publicity from
/// today), each reassessing the grade, with a note the merchant sees. 404 outside the
/// jurisdiction, 409 `objection_decided` when it is no longer open.
pub async fn decide(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    id: i64,
    decision: &str,
    note: &str,
    correction: Option<&RecordCorrection>,
) -> AppResult<ObjectionView> {
    let mut conn = state.pool.get().await?;
    let o = db::objections::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let region = crate::service::merchants::region_of_merchant(&mut conn, o.merchant_id).await?;
    policy::manage_merchant(user, o.merchant_id, &region).check()?;
    let note_checked = super::required_text("note", note, 2000);
    let outcome: AppResult<Outcome> = async {
        Ok(match (decision.trim(), correction) {
            ("remove", None) => Outcome::Remove,
            ("uphold", None) => Outcome::Uphold,
            ("correct", Some(c)) => {
                if o.status != "open" {
                    return Err::<Outcome, AppError>(decided());
                }
                Outcome::Correct(corrected(&mut conn, &o, c, user.id).await?)
            }
            ("correct", None) => {
                return Err::<Outcome, AppError>(AppError::validation(FieldError::new(
                    "correction",
                    "required",
                    "a correction needs the corrected fields",
                )))
            }
            ("remove" | "uphold", Some(_)) => {
                return Err::<Outcome, AppError>(AppError::validation(FieldError::new(
                    "correction",
                    "not_applicable",
                    "send corrected fields only with the decision `correct`",
                )))
            }
            _ => {
                return Err::<Outcome, AppError>(AppError::validation(FieldError::new(
                    "decision",
                    "invalid_decision",
                    "decision must be one of uphold, correct, remove",
                )))
            }
        })
    }
    .await;
    // Every field error at once: the decision's and the note's.
    let (outcome, note) = match (outcome, note_checked) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(AppError::Validation(mut a)), Err(AppError::Validation(b))) => {
            a.extend(b);
            return Err(AppError::Validation(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let yesterday = today().pred_opt().unwrap_or(today());
    let row = db::objections::decide(&mut conn, &actor, id, &outcome, &note, yesterday)
        .await?
        .ok_or_else(decided)?;
    state
        .pages
        .invalidate_merchants(&mut conn, &[o.merchant_id])
        .await;
    Ok(super::evidence::fill(&mut conn, vec![row.into()])
        .await?
        .remove(0))
}

fn decided() -> AppError {
    AppError::Conflict {
        code: "objection_decided",
        detail: "this objection has been decided already".into(),
    }
}
