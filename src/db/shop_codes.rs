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

/// Ids of the merchants in these regions, not closed, without an active code.
pub async fn merchants_without_code(
    conn: &mut AsyncPgConnection,
    region_codes: &[String],
) -> QueryResult<Vec<i64>> {
    use super::schema::merchants;
    merchants::table
        .filter(merchants::region_code.eq_any(region_codes))
        .filter(merchants::status.ne("closed"))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            shop_codes::table
                .filter(shop_codes::merchant_id.eq(merchants::id))
                .filter(shop_codes::revoked_at.is_null()),
        )))
        .order(merchants::id)
        .select(merchants::id)
        .load(conn)
        .await
}

/// Issues a fresh code to each merchant, skipping any that got one meanwhile (the one-active
/// index decides). Returns the codes inserted. Call in a transaction.
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    merchant_ids: &[i64],
    by: Option<i64>,
) -> QueryResult<Vec<ShopCodeRow>> {
    let mut out = Vec::with_capacity(merchant_ids.len());
    for chunk in merchant_ids.chunks(5000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|id| {
                (
                    shop_codes::code.eq(ShopCode::generate().to_string()),
                    shop_codes::merchant_id.eq(*id),
                    shop_codes::issued_by.eq(by),
                )
            })
            .collect();
        out.extend(
            diesel::insert_into(shop_codes::table)
                .values(&rows)
                .on_conflict_do_nothing()
                .returning(ShopCodeRow::as_returning())
                .get_results(conn)
                .await?,
        );
    }
    Ok(out)
}

/// A code with its merchant, in one round trip.
pub async fn find_with_merchant<
    C: diesel_async::AsyncConnectionCore<Backend = diesel::pg::Pg> + Send,
>(
    conn: &mut C,
    code: &str,
) -> QueryResult<Option<(ShopCodeRow, super::merchants::MerchantRow)>> {
    use super::merchants::MerchantRow;
    use super::schema::merchants;
    shop_codes::table
        .inner_join(merchants::table)
        .filter(shop_codes::code.eq(code))
        .select((ShopCodeRow::as_select(), MerchantRow::as_select()))
        .first(conn)
        .await
        .optional()
}

/// Scans of a merchant's codes (all of them, withdrawn ones too) per day since `from`.
pub async fn scans_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    from: chrono::NaiveDate,
) -> QueryResult<Vec<(chrono::NaiveDate, i64)>> {
    use super::schema::scan_counts;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    scan_counts::table
        .inner_join(shop_codes::table)
        .filter(shop_codes::merchant_id.eq(merchant_id))
        .filter(scan_counts::day.ge(from))
        .group_by(scan_counts::day)
        // sum(bigint) is numeric in PostgreSQL; a day's scans fit a bigint
        .select((
            scan_counts::day,
            sql::<BigInt>("sum(scan_counts.count)::bigint"),
        ))
        .order(scan_counts::day)
        .load(conn)
        .await
}

/// Active codes in these regions with their merchant's USCC and name, by USCC.
pub async fn active_in(
    conn: &mut AsyncPgConnection,
    region_codes: &[String],
) -> QueryResult<Vec<(String, String, String)>> {
    use super::schema::merchants;
    shop_codes::table
        .inner_join(merchants::table)
        .filter(merchants::region_code.eq_any(region_codes))
        .filter(shop_codes::revoked_at.is_null())
        .order(merchants::uscc)
        .select((shop_codes::code, merchants::uscc, merchants::name))
        .load(conn)
        .await
}
