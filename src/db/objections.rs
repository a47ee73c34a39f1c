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
    kind: &str,
    record_id: i64,
    reason: &str,
    deadline: NaiveDate,
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
        }
        Ok(row)
    })
    .await
}

/// Decides an open objection: `removed` withdraws the record from publicity (it stays on file,
/// no longer shown or counted; the grade is reassessed as of the day after `last_day`). Audited with the record before and
/// after; `Ok(None)` when it was no longer open.
pub async fn decide(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: i64,
    remove: bool,
    note: &str,
    last_day: NaiveDate,
) -> QueryResult<Option<ObjectionRow>> {
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
                objections::status.eq(if remove { "removed" } else { "upheld" }),
                objections::decided_by.eq(actor.user_id),
                objections::decided_at.eq(diesel::dsl::now),
                objections::decision_note.eq(note),
            ))
            .returning(ObjectionRow::as_returning())
            .get_result(conn)
            .await?;
        if remove {
            match before.record_kind.as_str() {
                "credit_record" => {
                    diesel::update(credit_records::table.find(before.record_id))
                        .set(credit_records::withdrawn_at.eq(diesel::dsl::now))
                        .execute(conn)
                        .await?;
                }
                _ => {
                    diesel::update(inspections::table.find(before.record_id))
                        .set(inspections::withdrawn_at.eq(diesel::dsl::now))
                        .execute(conn)
                        .await?;
                }
            }
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
            if remove {
                "objection.remove_record"
            } else {
                "objection.uphold_record"
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
