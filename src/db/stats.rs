//! The programme's indicators per region: four grouped queries (merchants, complaints, scans,
//! inspections), each one round trip. Definitions: docs/indicators.md.

use chrono::NaiveDate;
use diesel::sql_types::{Array, BigInt, Date, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Debug, Clone, QueryableByName)]
pub struct MerchantCount {
    #[diesel(sql_type = Text)]
    pub region_code: String,
    #[diesel(sql_type = Text)]
    pub category: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub grade: String,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub with_code: i64,
}

/// Merchants now (not per period), by region, category, status and stored grade.
pub async fn merchants(
    conn: &mut AsyncPgConnection,
    regions: &[String],
) -> diesel::QueryResult<Vec<MerchantCount>> {
    diesel::sql_query(
        "SELECT m.region_code, m.category, m.status, m.grade, count(*) AS total, \
                count(sc.code) AS with_code \
         FROM merchants m \
         LEFT JOIN shop_codes sc ON sc.merchant_id = m.id AND sc.revoked_at IS NULL \
         WHERE m.region_code = ANY($1) \
         GROUP BY 1, 2, 3, 4",
    )
    .bind::<Array<Text>, _>(regions)
    .load(conn)
    .await
}

#[derive(Debug, Clone, Default, QueryableByName)]
pub struct ComplaintCount {
    #[diesel(sql_type = Text)]
    pub region_code: String,
    #[diesel(sql_type = BigInt)]
    pub received: i64,
    #[diesel(sql_type = BigInt)]
    pub handled: i64,
    #[diesel(sql_type = BigInt)]
    pub on_time: i64,
    #[diesel(sql_type = BigInt)]
    pub overdue_open: i64,
    #[diesel(sql_type = BigInt)]
    pub satisfied: i64,
    #[diesel(sql_type = BigInt)]
    pub basically_satisfied: i64,
    #[diesel(sql_type = BigInt)]
    pub dissatisfied: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_claimed_fen: i64,
    #[diesel(sql_type = BigInt)]
    pub amount_recovered_fen: i64,
}

/// Complaints received in `[from, to]` (China dates), by region. Handled: closed by the end of
/// `to`; on time: handled without a late regulator step; overdue_open: still open and past
/// the current step's deadline on `today`.
pub async fn complaints(
    conn: &mut AsyncPgConnection,
    regions: &[String],
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> diesel::QueryResult<Vec<ComplaintCount>> {
    diesel::sql_query(
        "WITH c AS ( \
           SELECT *, closed_at IS NOT NULL \
                     AND (closed_at AT TIME ZONE 'Asia/Shanghai')::date <= $3 AS handled \
           FROM complaints \
           WHERE region_code = ANY($1) AND received_on BETWEEN $2 AND $3) \
         SELECT region_code, \
           count(*) AS received, \
           count(*) FILTER (WHERE handled) AS handled, \
           count(*) FILTER (WHERE handled AND NOT late) AS on_time, \
           count(*) FILTER (WHERE (status = 'submitted' AND accept_deadline < $4) \
                               OR (status = 'accepted' AND conclude_deadline < $4)) AS overdue_open, \
           count(*) FILTER (WHERE rating = 'satisfied') AS satisfied, \
           count(*) FILTER (WHERE rating = 'basically_satisfied') AS basically_satisfied, \
           count(*) FILTER (WHERE rating = 'dissatisfied') AS dissatisfied, \
           coalesce(sum(amount_fen) FILTER (WHERE handled), 0)::bigint AS amount_claimed_fen, \
           coalesce(sum(amount_recovered_fen) FILTER (WHERE handled), 0)::bigint \
             AS amount_recovered_fen \
         FROM c GROUP BY region_code",
    )
    .bind::<Array<Text>, _>(regions)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<Date, _>(today)
    .load(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct RegionSum {
    #[diesel(sql_type = Text)]
    pub region_code: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = BigInt)]
    pub rectify: i64,
}

/// Scans in `[from, to]` of every code (withdrawn ones too) of the region's merchants.
pub async fn scans(
    conn: &mut AsyncPgConnection,
    regions: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> diesel::QueryResult<Vec<RegionSum>> {
    diesel::sql_query(
        "SELECT m.region_code, coalesce(sum(s.count), 0)::bigint AS n, \
                0::bigint AS failed, 0::bigint AS rectify \
         FROM scan_counts s \
         JOIN shop_codes c ON c.code = s.code \
         JOIN merchants m ON m.id = c.merchant_id \
         WHERE m.region_code = ANY($1) AND s.day BETWEEN $2 AND $3 \
         GROUP BY 1",
    )
    .bind::<Array<Text>, _>(regions)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await
}

/// Inspections in `[from, to]`: count, failed, ordered to rectify.
pub async fn inspections(
    conn: &mut AsyncPgConnection,
    regions: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> diesel::QueryResult<Vec<RegionSum>> {
    diesel::sql_query(
        "SELECT m.region_code, count(*) AS n, \
                count(*) FILTER (WHERE i.result = 'fail') AS failed, \
                count(*) FILTER (WHERE i.result = 'rectify') AS rectify \
         FROM inspections i JOIN merchants m ON m.id = i.merchant_id \
         WHERE m.region_code = ANY($1) AND i.inspected_on BETWEEN $2 AND $3 \
           AND i.withdrawn_at IS NULL \
         GROUP BY 1",
    )
    .bind::<Array<Text>, _>(regions)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await
}
