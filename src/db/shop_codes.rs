//! Shop codes: issue, re-issue, revoke, look up.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::schema::shop_codes;
use crate::domain::shop_code::ShopCode;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = shop_codes, check_for_backend(diesel::pg::Pg))]
pub struct ShopCodeRow {
    pub code: String,
    pub merchant_id: i64,
    pub issued_at: DateTime<Utc>,
    pub issued_by: Option<i64>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<i64>,
    pub revoke_reason: Option<String>,
}

pub async fn find(conn: &mut AsyncPgConnection, code: &str) -> QueryResult<Option<ShopCodeRow>> {
    shop_codes::table
        .find(code)
        .select(ShopCodeRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn active_for(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
) -> QueryResult<Option<ShopCodeRow>> {
    shop_codes::table
        .filter(shop_codes::merchant_id.eq(merchant_id))
        .filter(shop_codes::revoked_at.is_null())
        .select(ShopCodeRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Withdraws the merchant's active code, if any. Call in a transaction.
pub async fn revoke_active(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    by: Option<i64>,
    reason: &str,
) -> QueryResult<Option<ShopCodeRow>> {
    diesel::update(
        shop_codes::table
            .filter(shop_codes::merchant_id.eq(merchant_id))
            .filter(shop_codes::revoked_at.is_null()),
    )
    .set((
        shop_codes::revoked_at.eq(diesel::dsl::now),
        shop_codes::revoked_by.eq(by),
        shop_codes::revoke_reason.eq(reason),
    ))
    .returning(ShopCodeRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Inserts a fresh random code for the merchant (which must have no active code). A collision
/// of 60 random bits is astronomically unlikely; it is retried anyway.
pub async fn insert_new(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    by: Option<i64>,
) -> QueryResult<ShopCodeRow> {
    loop {
        let code = ShopCode::generate();
        let inserted = diesel::insert_into(shop_codes::table)
            .values((
                shop_codes::code.eq(code.as_str()),
                shop_codes::merchant_id.eq(merchant_id),
                shop_codes::issued_by.eq(by),
            ))
            .on_conflict(shop_codes::code)
            .do_nothing()
            .returning(ShopCodeRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(row) = inserted {
            return Ok(row);
        }
    }
}
