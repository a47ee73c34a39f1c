//! Merchants' replies to their records (right of reply).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit::{self, Actor};
use super::schema::{complaints, credit_records, inspections, record_replies};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize)]
#[diesel(table_name = record_replies, check_for_backend(diesel::pg::Pg))]
pub struct ReplyRow {
    pub id: i64,
    pub merchant_id: i64,
    pub record_kind: String,
    pub record_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub seen_at: Option<DateTime<Utc>>,
    pub seen_by: Option<i64>,
    pub hidden_at: Option<DateTime<Utc>>,
    pub hidden_by: Option<i64>,
    pub hidden_reason: Option<String>,
}

/// Whether record `id` of `kind` belongs to merchant `merchant_id`.
pub async fn record_belongs(
    conn: &mut AsyncPgConnection,
    kind: &str,
    id: i64,
    merchant_id: i64,
) -> QueryResult<bool> {
    let n: i64 = match kind {
        "inspection" => {
            inspections::table
                .filter(inspections::id.eq(id))
                .filter(inspections::merchant_id.eq(merchant_id))
                .count()
                .get_result(conn)
                .await?
        }
        "credit_record" => {
            credit_records::table
                .filter(credit_records::id.eq(id))
                .filter(credit_records::merchant_id.eq(merchant_id))
                .count()
                .get_result(conn)
                .await?
        }
        // A complaint is answered in public once it is closed.
        "complaint" => {
            complaints::table
                .filter(complaints::id.eq(id))
                .filter(complaints::merchant_id.eq(merchant_id))
                .filter(complaints::closed_at.is_not_null())
                .count()
                .get_result(conn)
                .await?
        }
        _ => 0,
    };
    Ok(n > 0)
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    kind: &str,
    record_id: i64,
) -> QueryResult<Option<ReplyRow>> {
    record_replies::table
        .filter(record_replies::record_kind.eq(kind))
        .filter(record_replies::record_id.eq(record_id))
        .select(ReplyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Every reply of a merchant (hidden ones too: the merchant sees why).
pub async fn of_merchant(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
) -> QueryResult<Vec<ReplyRow>> {
    record_replies::table
        .filter(record_replies::merchant_id.eq(merchant_id))
        .order(record_replies::id.asc())
        .limit(1000)
        .select(ReplyRow::as_select())
        .load(conn)
        .await
}

/// A public reply; for a reply to a complaint, the complaint's category and closing time.
pub type PublicReplyRow = (ReplyRow, Option<String>, Option<DateTime<Utc>>);

/// The replies the public sees (not hidden).
pub async fn public_of<C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send>(
    conn: &mut C,
    merchant_id: i64,
) -> QueryResult<Vec<PublicReplyRow>> {
    record_replies::table
        .left_join(
            complaints::table.on(complaints::id
                .eq(record_replies::record_id)
                .and(record_replies::record_kind.eq("complaint"))),
        )
        .filter(record_replies::merchant_id.eq(merchant_id))
        .filter(record_replies::hidden_at.is_null())
        .order(record_replies::id.asc())
        .limit(1000)
        .select((
            ReplyRow::as_select(),
            complaints::category.nullable(),
            complaints::closed_at.nullable(),
        ))
        .load(conn)
        .await
}

/// Writes (or rewrites) the reply, audited; `Ok(None)` when it is locked (seen or hidden).
pub async fn put(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    merchant_id: i64,
    kind: &str,
    record_id: i64,
    body: &str,
) -> QueryResult<Option<ReplyRow>> {
    conn.transaction(async |conn| {
        let before: Option<ReplyRow> = record_replies::table
            .filter(record_replies::record_kind.eq(kind))
            .filter(record_replies::record_id.eq(record_id))
            .select(ReplyRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        if before
            .as_ref()
            .is_some_and(|b| b.seen_at.is_some() || b.hidden_at.is_some())
        {
            return Ok(None);
        }
        let after: ReplyRow = diesel::insert_into(record_replies::table)
            .values((
                record_replies::merchant_id.eq(merchant_id),
                record_replies::record_kind.eq(kind),
                record_replies::record_id.eq(record_id),
                record_replies::body.eq(body),
            ))
            .on_conflict((record_replies::record_kind, record_replies::record_id))
            .do_update()
            .set((
                record_replies::body.eq(body),
                record_replies::updated_at.eq(diesel::dsl::now),
            ))
            .returning(ReplyRow::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "reply.put",
            "merchant",
            &merchant_id.to_string(),
            before.as_ref(),
            Some(&after),
        )
        .await?;
        Ok(Some(after))
    })
    .await
}

/// A regulator's step on a reply: seen (it is then final), or hidden with a reason. Audited.
pub async fn regulate(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    reply: &ReplyRow,
    hide_reason: Option<&str>,
) -> QueryResult<ReplyRow> {
    conn.transaction(async |conn| {
        let target = record_replies::table.find(reply.id);
        let after: ReplyRow = match hide_reason {
            Some(reason) => {
                diesel::update(target)
                    .set((
                        record_replies::hidden_at.eq(diesel::dsl::now),
                        record_replies::hidden_by.eq(actor.user_id),
                        record_replies::hidden_reason.eq(reason),
                        record_replies::seen_at.eq(diesel::dsl::sql::<
                            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
                        >(
                            "COALESCE(seen_at, now())"
                        )),
                        record_replies::seen_by.eq(actor.user_id),
                    ))
                    .returning(ReplyRow::as_returning())
                    .get_result(conn)
                    .await?
            }
            None => {
                diesel::update(target)
                    .set((
                        record_replies::seen_at.eq(diesel::dsl::now),
                        record_replies::seen_by.eq(actor.user_id),
                    ))
                    .returning(ReplyRow::as_returning())
                    .get_result(conn)
                    .await?
            }
        };
        audit::record(
            conn,
            actor,
            if hide_reason.is_some() {
                "reply.hide"
            } else {
                "reply.seen"
            },
            "merchant",
            &reply.merchant_id.to_string(),
            Some(reply),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}
