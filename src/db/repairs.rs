//! Credit repair (信用修复): rules and applications.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit::{self, Actor};
use super::schema::{credit_records, credit_repair_rules, credit_repairs, merchants};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = credit_repair_rules, check_for_backend(diesel::pg::Pg))]
pub struct RepairRule {
    /// `penalty`, `abnormal_list` or `serious_violation`.
    pub kind: String,
    /// Days a record must have been public before the merchant may apply.
    pub min_days_in_publicity: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = credit_repairs, check_for_backend(diesel::pg::Pg))]
pub struct RepairRow {
    pub id: i64,
    pub merchant_id: i64,
    pub record_id: i64,
    pub statement: String,
    pub status: String,
    pub filed_by: Option<i64>,
    pub filed_at: DateTime<Utc>,
    pub deadline: NaiveDate,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

pub async fn rules(conn: &mut AsyncPgConnection) -> QueryResult<Vec<RepairRule>> {
    credit_repair_rules::table
        .order(credit_repair_rules::kind.asc())
        .select(RepairRule::as_select())
        .load(conn)
        .await
}

pub async fn rule(conn: &mut AsyncPgConnection, kind: &str) -> QueryResult<Option<RepairRule>> {
    credit_repair_rules::table
        .find(kind)
        .select(RepairRule::as_select())
        .first(conn)
        .await
        .optional()
}

/// Sets a rule, audited with the one it replaces.
pub async fn set_rule(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    kind: &str,
    days: i32,
) -> QueryResult<RepairRule> {
    conn.transaction(async |conn| {
        let before = credit_repair_rules::table
            .find(kind)
            .select(RepairRule::as_select())
            .first(conn)
            .await
            .optional()?;
        let after: RepairRule = diesel::insert_into(credit_repair_rules::table)
            .values((
                credit_repair_rules::kind.eq(kind),
                credit_repair_rules::min_days_in_publicity.eq(days),
            ))
            .on_conflict(credit_repair_rules::kind)
            .do_update()
            .set((
                credit_repair_rules::min_days_in_publicity.eq(days),
                credit_repair_rules::updated_at.eq(diesel::dsl::now),
            ))
            .returning(RepairRule::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "credit_repair_rule.put",
            "credit_repair_rule",
            kind,
            before.as_ref(),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<RepairRow>> {
    credit_repairs::table
        .find(id)
        .select(RepairRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn of_merchant(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
) -> QueryResult<Vec<RepairRow>> {
    credit_repairs::table
        .filter(credit_repairs::merchant_id.eq(merchant_id))
        .order(credit_repairs::id.desc())
        .limit(500)
        .select(RepairRow::as_select())
        .load(conn)
        .await
}

/// Open applications in these regions (None: all), deadline first, with the shop's name.
pub async fn queue(
    conn: &mut AsyncPgConnection,
    regions: Option<Vec<String>>,
    limit: i64,
) -> QueryResult<Vec<(RepairRow, String)>> {
    let mut q = credit_repairs::table
        .inner_join(merchants::table)
        .filter(credit_repairs::status.eq("open"))
        .into_boxed::<diesel::pg::Pg>();
    if let Some(r) = regions {
        q = q.filter(merchants::region_code.eq_any(r));
    }
    q.order((credit_repairs::deadline.asc(), credit_repairs::id.asc()))
        .limit(limit)
        .select((RepairRow::as_select(), merchants::name))
        .load(conn)
        .await
}

/// Files an application, audited; `Ok(None)` if the record already has an open one.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    merchant_id: i64,
    record_id: i64,
    statement: &str,
    deadline: NaiveDate,
    evidence: &[super::evidence::NewEvidence],
) -> QueryResult<Option<RepairRow>> {
    conn.transaction(async |conn| {
        let row: Option<RepairRow> = diesel::insert_into(credit_repairs::table)
            .values((
                credit_repairs::merchant_id.eq(merchant_id),
                credit_repairs::record_id.eq(record_id),
                credit_repairs::statement.eq(statement),
                credit_repairs::filed_by.eq(actor.user_id),
                credit_repairs::deadline.eq(deadline),
            ))
            .on_conflict_do_nothing()
            .returning(RepairRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(r) = &row {
            audit::record(
                conn,
                actor,
                "credit_repair.apply",
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
                super::evidence::Parent::Repair(r.id),
                evidence,
            )
            .await?;
        }
        Ok(row)
    })
    .await
}

/// Decides an open application: approval withdraws the record from publicity that day and
/// reassesses the grade. Audited; `Ok(None)` when it was no longer open.
pub async fn decide(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    approve: bool,
    note: &str,
    today: NaiveDate,
) -> QueryResult<Option<RepairRow>> {
    conn.transaction(async |conn| {
        let before: Option<RepairRow> = credit_repairs::table
            .find(id)
            .select(RepairRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some(before) = before.filter(|b| b.status == "open") else {
            return Ok(None);
        };
        let after: RepairRow = diesel::update(credit_repairs::table.find(id))
            .set((
                credit_repairs::status.eq(if approve { "approved" } else { "refused" }),
                credit_repairs::decided_by.eq(actor.user_id),
                credit_repairs::decided_at.eq(diesel::dsl::now),
                credit_repairs::decision_note.eq(note),
            ))
            .returning(RepairRow::as_returning())
            .get_result(conn)
            .await?;
        if approve {
            diesel::update(credit_records::table.find(before.record_id))
                .set(credit_records::withdrawn_at.eq(diesel::dsl::now))
                .execute(conn)
                .await?;
            let a = super::merchants::assess(conn, before.merchant_id, today).await?;
            super::merchants::store_grade(conn, before.merchant_id, &a).await?;
        }
        audit::record(
            conn,
            actor,
            if approve {
                "credit_repair.approve"
            } else {
                "credit_repair.refuse"
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

/// The kind and decision day of credit record `id` if it belongs to `merchant_id`, is still
/// public on `today` and not withdrawn.
pub async fn public_record(
    conn: &mut AsyncPgConnection,
    id: i64,
    merchant_id: i64,
    today: NaiveDate,
) -> QueryResult<Option<(String, NaiveDate)>> {
    credit_records::table
        .filter(credit_records::id.eq(id))
        .filter(credit_records::merchant_id.eq(merchant_id))
        .filter(credit_records::withdrawn_at.is_null())
        .filter(
            credit_records::publicity_until
                .is_null()
                .or(credit_records::publicity_until.ge(today)),
        )
        .select((credit_records::kind, credit_records::decided_on))
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = super::schema::review_deadlines, check_for_backend(diesel::pg::Pg))]
pub struct ReviewDeadline {
    /// `objection` or `credit_repair`.
    pub kind: String,
    /// Working days a regulator has to decide.
    pub working_days: i32,
    pub updated_at: DateTime<Utc>,
}

pub async fn review_deadlines(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ReviewDeadline>> {
    use super::schema::review_deadlines as d;
    d::table
        .order(d::kind.asc())
        .select(ReviewDeadline::as_select())
        .load(conn)
        .await
}

/// The working days for `kind` (15 if the row is missing).
pub async fn review_days(conn: &mut AsyncPgConnection, kind: &str) -> QueryResult<u32> {
    use super::schema::review_deadlines as d;
    let days: Option<i32> = d::table
        .find(kind)
        .select(d::working_days)
        .first(conn)
        .await
        .optional()?;
    Ok(days.and_then(|n| u32::try_from(n).ok()).unwrap_or(15))
}

/// Sets a review deadline, audited with the one it replaces.
pub async fn set_review_days(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    kind: &str,
    days: i32,
) -> QueryResult<ReviewDeadline> {
    use super::schema::review_deadlines as d;
    conn.transaction(async |conn| {
        let before = d::table
            .find(kind)
            .select(ReviewDeadline::as_select())
            .first(conn)
            .await
            .optional()?;
        let after: ReviewDeadline = diesel::insert_into(d::table)
            .values((d::kind.eq(kind), d::working_days.eq(days)))
            .on_conflict(d::kind)
            .do_update()
            .set((d::working_days.eq(days), d::updated_at.eq(diesel::dsl::now)))
            .returning(ReviewDeadline::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "review_deadline.put",
            "review_deadline",
            kind,
            before.as_ref(),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}
