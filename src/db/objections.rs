//! Objections to records (异议).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit::{self, Actor};
use super::schema::{credit_records, inspections, merchants, objections};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = objections, check_for_backend(diesel::pg::Pg))]
pub struct ObjectionRow {
    pub id: i64,
    pub merchant_id: i64,
    pub record_kind: String,
    pub record_id: i64,
    pub reason: String,
    pub status: String,
    pub filed_by: Option<i64>,
    pub filed_at: DateTime<Utc>,
    pub deadline: NaiveDate,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<ObjectionRow>> {
    objections::table
        .find(id)
        .select(ObjectionRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn of_merchant(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
) -> QueryResult<Vec<ObjectionRow>> {
    objections::table
        .filter(objections::merchant_id.eq(merchant_id))
        .order(objections::id.desc())
        .limit(500)
        .select(ObjectionRow::as_select())
        .load(conn)
        .await
}

/// The open objections of a merchant (the public page marks their records).
pub async fn open_of<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send>(
    conn: &mut C,
    merchant_id: i64,
) -> QueryResult<Vec<(String, i64)>> {
    objections::table
        .filter(objections::merchant_id.eq(merchant_id))
        .filter(objections::status.eq("open"))
        .select((objections::record_kind, objections::record_id))
        .load(conn)
        .await
}

/// The open objections in these regions (None: all), deadline first, with the shop's name.
pub async fn queue(
    conn: &mut AsyncPgConnection,
    regions: Option<Vec<String>>,
    limit: i64,
) -> QueryResult<Vec<(ObjectionRow, String)>> {
    let mut q = objections::table
        .inner_join(merchants::table)
        .filter(objections::status.eq("open"))
        .into_boxed::<diesel::pg::Pg>();
    if let Some(r) = regions {
        q = q.filter(merchants::region_code.eq_any(r));
    }
    q.order((objections::deadline.asc(), objections::id.asc()))
        .limit(limit)
        .select((ObjectionRow::as_select(), merchants::name))
        .load(conn)
        .await
}

/// Files an objection, audited; `Ok(None)` if the record already has an open one.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    merchant_id: i64,
    (kind, record_id): (&str, i64),
    reason: &str,
    deadline: NaiveDate,
    evidence: &[super::evidence::NewEvidence],
) -> QueryResult<Option<ObjectionRow>> {
    conn.transaction(async |conn| {
        let row: Option<ObjectionRow> = diesel::insert_into(objections::table)
            .values((
                objections::merchant_id.eq(merchant_id),
                objections::record_kind.eq(kind),
                objections::record_id.eq(record_id),
                objections::reason.eq(reason),
                objections::filed_by.eq(actor.user_id),
                objections::deadline.eq(deadline),
            ))
            .on_conflict_do_nothing()
            .returning(ObjectionRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(r) = &row {
            audit::record(
                conn,
                actor,
                "objection.file",
                "merchant",
                &merchant_id.to_string(),
                None::<&()>,
                Some(r),
            )
            .await?;
            super::evidence::store(
                conn,
                actor,
                merchant_id,
                super::evidence::Parent::Objection(r.id),
                evidence,
            )
            .await?;
        }
        Ok(row)
    })
    .await
}

/// What a regulator decided about an objection.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The record stands.
    Uphold,
    /// The record is corrected to these values (it stays public).
    Correct(Corrected),
    /// The record leaves publicity.
    Remove,
}

/// A record's corrected values (its id, merchant and author are kept).
#[derive(Debug, Clone)]
pub enum Corrected {
    Inspection(super::merchants::NewInspection),
    Credit(super::merchants::NewCreditRecord),
}

impl Outcome {
    fn status(&self) -> &'static str {
        match self {
            Outcome::Uphold => "upheld",
            Outcome::Correct(_) => "corrected",
            Outcome::Remove => "removed",
        }
    }
}

/// Decides an open objection. `Remove` withdraws the record from publicity (it stays on file,
/// no longer shown or counted); `Correct` rewrites the record's fields (audited as the record's
/// own change, before and after). Either reassesses the grade as of the day after `last_day`.
/// Audited with the objection before and after; `Ok(None)` when it was no longer open.
pub async fn decide(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    outcome: &Outcome,
    note: &str,
    last_day: NaiveDate,
) -> QueryResult<Option<ObjectionRow>> {
    use super::merchants::{CreditRecordRow, InspectionRow};
    conn.transaction(async |conn| {
        let before: Option<ObjectionRow> = objections::table
            .find(id)
            .select(ObjectionRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some(before) = before.filter(|b| b.status == "open") else {
            return Ok(None);
        };
        let after: ObjectionRow = diesel::update(objections::table.find(id))
            .set((
                objections::status.eq(outcome.status()),
                objections::decided_by.eq(actor.user_id),
                objections::decided_at.eq(diesel::dsl::now),
                objections::decision_note.eq(note),
            ))
            .returning(ObjectionRow::as_returning())
            .get_result(conn)
            .await?;
        let record = before.record_id;
        match (outcome, before.record_kind.as_str()) {
            (Outcome::Uphold, _) => {}
            (Outcome::Remove, "credit_record") => {
                diesel::update(credit_records::table.find(record))
                    .set(credit_records::withdrawn_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
            }
            (Outcome::Remove, _) => {
                diesel::update(inspections::table.find(record))
                    .set(inspections::withdrawn_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
            }
            (Outcome::Correct(Corrected::Inspection(n)), "inspection") => {
                let old: InspectionRow = inspections::table
                    .find(record)
                    .select(InspectionRow::as_select())
                    .for_update()
                    .first(conn)
                    .await?;
                let new: InspectionRow = diesel::update(inspections::table.find(record))
                    .set((
                        inspections::kind.eq(&n.kind),
                        inspections::inspected_on.eq(n.inspected_on),
                        inspections::department.eq(&n.department),
                        inspections::result.eq(&n.result),
                        inspections::summary.eq(&n.summary),
                    ))
                    .returning(InspectionRow::as_returning())
                    .get_result(conn)
                    .await?;
                audit::record(
                    conn,
                    actor,
                    "inspection.correct",
                    "inspection",
                    &record.to_string(),
                    Some(&old),
                    Some(&new),
                )
                .await?;
            }
            (Outcome::Correct(Corrected::Credit(n)), "credit_record") => {
                let old: CreditRecordRow = credit_records::table
                    .find(record)
                    .select(CreditRecordRow::as_select())
                    .for_update()
                    .first(conn)
                    .await?;
                let new: CreditRecordRow = diesel::update(credit_records::table.find(record))
                    .set((
                        credit_records::kind.eq(&n.kind),
                        credit_records::department.eq(&n.department),
                        credit_records::decision_no.eq(&n.decision_no),
                        credit_records::decided_on.eq(n.decided_on),
                        credit_records::summary.eq(&n.summary),
                        credit_records::publicity_until.eq(n.publicity_until),
                    ))
                    .returning(CreditRecordRow::as_returning())
                    .get_result(conn)
                    .await?;
                audit::record(
                    conn,
                    actor,
                    "credit_record.correct",
                    "credit_record",
                    &record.to_string(),
                    Some(&old),
                    Some(&new),
                )
                .await?;
            }
            // A correction of the other kind of record is refused before this point.
            (Outcome::Correct(_), _) => return Err(diesel::result::Error::RollbackTransaction),
        }
        if !matches!(outcome, Outcome::Uphold) {
            let a = super::merchants::assess(
                conn,
                before.merchant_id,
                last_day.succ_opt().unwrap_or(last_day),
            )
            .await?;
            super::merchants::store_grade(conn, before.merchant_id, &a).await?;
        }
        audit::record(
            conn,
            actor,
            match outcome {
                Outcome::Uphold => "objection.uphold_record",
                Outcome::Correct(_) => "objection.correct_record",
                Outcome::Remove => "objection.remove_record",
            },
            "merchant",
            &before.merchant_id.to_string(),
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(Some(after))
    })
    .await
}
