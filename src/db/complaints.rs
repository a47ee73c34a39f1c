//! Complaints, their timeline and consumer warnings.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Date;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::audit::{self, Actor};
use super::schema::{complaint_events, complaints, merchants, shop_codes, warnings};
use crate::domain::complaint::{Deadlines, FlagRule, State};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = complaints, check_for_backend(Pg))]
pub struct ComplaintRow {
    pub id: i64,
    pub tracking_no: String,
    pub merchant_id: i64,
    pub shop_code: String,
    pub region_code: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    pub category: String,
    pub description: String,
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub received_on: NaiveDate,
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub accepted_on: Option<NaiveDate>,
    pub conclude_deadline: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    pub rating: Option<String>,
    pub rating_comment: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
    pub flagged: bool,
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    #[serde(skip)]
    pub request_hash: String,
    pub client_ip: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ComplaintRow {
    pub fn state(&self) -> State {
        State::parse(&self.status).unwrap_or(State::Submitted)
    }

    pub fn deadlines(&self) -> Deadlines {
        Deadlines {
            merchant_deadline: self.merchant_deadline,
            accept_deadline: self.accept_deadline,
            accepted_on: self.accepted_on,
            conclude_deadline: self.conclude_deadline,
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = complaints, treat_none_as_default_value = false)]
pub struct NewComplaint {
    pub tracking_no: String,
    pub merchant_id: i64,
    pub shop_code: String,
    pub region_code: String,
    pub consumer_name: String,
    pub consumer_phone: String,
    pub category: String,
    pub description: String,
    pub amount_fen: Option<i64>,
    pub desired_outcome: String,
    pub received_at: DateTime<Utc>,
    pub received_on: NaiveDate,
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub idempotency_key: String,
    pub request_hash: String,
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = complaint_events, check_for_backend(Pg))]
pub struct EventRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub complaint_id: i64,
    pub at: DateTime<Utc>,
    /// `consumer`, `merchant`, `regulator`.
    pub actor_role: String,
    #[serde(skip)]
    pub actor_label: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = complaint_events, treat_none_as_default_value = false)]
pub struct NewEvent<'a> {
    pub complaint_id: i64,
    pub actor_role: &'a str,
    pub actor_label: &'a str,
    pub action: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub note: &'a str,
}

/// What a submission came to.
pub enum Submitted {
    Created(Box<ComplaintRow>),
    /// The idempotency key was seen before with the same request: the first answer again.
    Replayed(Box<ComplaintRow>),
    /// The key was used before for a different request.
    KeyReused,
}

/// Stores a complaint, its first timeline entry and its audit entry in one transaction, and
/// flags the phone's recent complaints when they match the professional-claimant rule. A key
/// already stored (also by a concurrent request, which waits on the unique index) answers
/// with the stored complaint.
pub async fn submit(
    conn: &mut AsyncPgConnection,
    new: &NewComplaint,
    actor: &Actor,
    flag: FlagRule,
) -> QueryResult<Submitted> {
    // Every statement here is one diesel can keep prepared per connection (a plain INSERT
    // with NULLs bound, no ON CONFLICT, no UPDATE): the hot path is parsed and planned once.
    let result = conn
        .transaction(async |conn| {
            let mut row: ComplaintRow = diesel::insert_into(complaints::table)
                .values(new)
                .returning(ComplaintRow::as_returning())
                .get_result(conn)
                .await?;
            // The rest depends only on the new row: sent together, one round trip.
            let since = row.received_at - chrono::Duration::days(i64::from(flag.days));
            let id_text = row.id.to_string();
            let (n, merchants) = {
                let shared: &AsyncPgConnection = conn;
                let (mut c1, mut c2, mut c3) = (shared, shared, shared);
                let event = diesel::insert_into(complaint_events::table)
                    .values(NewEvent {
                        complaint_id: row.id,
                        actor_role: "consumer",
                        actor_label: &actor.label,
                        action: "submit",
                        from_status: None,
                        to_status: State::Submitted.as_str(),
                        note: "",
                    })
                    .execute(&mut c1);
                let audit = audit::record(
                    &mut c2,
                    actor,
                    "complaint.submit",
                    "complaint",
                    &id_text,
                    None::<&()>,
                    Some(&row),
                );
                let counts = complaints::table
                    .filter(complaints::consumer_phone.eq(&row.consumer_phone))
                    .filter(complaints::received_at.ge(since))
                    .select((
                        diesel::dsl::count_star(),
                        diesel::dsl::count(complaints::merchant_id).aggregate_distinct(),
                    ))
                    .get_result::<(i64, i64)>(&mut c3);
                let (_, _, counts) = futures_util::try_join!(event, audit, counts)?;
                counts
            };
            if flag.flags(n as u32, merchants as u32) {
                diesel::update(complaints::table)
                    .filter(complaints::consumer_phone.eq(&row.consumer_phone))
                    .filter(complaints::received_at.ge(since))
                    .filter(complaints::flagged.eq(false))
                    .set(complaints::flagged.eq(true))
                    .execute(conn)
                    .await?;
                row.flagged = true;
            }
            Ok(row)
        })
        .await;
    match result {
        Ok(row) => Ok(Submitted::Created(Box::new(row))),
        // The key is taken (a retry, or a concurrent twin that committed first: the unique
        // index made this insert wait for it): answer with what is stored.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        )) if info
            .constraint_name()
            .is_some_and(|c| c.contains("idempotency_key")) =>
        {
            let existing = by_idempotency_key(conn, &new.idempotency_key)
                .await?
                .ok_or(diesel::result::Error::NotFound)?;
            Ok(if existing.request_hash == new.request_hash {
                Submitted::Replayed(Box::new(existing))
            } else {
                Submitted::KeyReused
            })
        }
        Err(e) => Err(e),
    }
}

/// What a submission needs before it writes, read in one round trip: the code with its
/// merchant, a complaint already stored under the idempotency key, the deadline rule in force
/// on `day` and the working-day calendar from `day - 7` to `until`.
pub struct Prefetched {
    pub shop: Option<(
        super::shop_codes::ShopCodeRow,
        super::merchants::MerchantRow,
    )>,
    pub existing: Option<ComplaintRow>,
    /// The same complaint (same shop, phone and description) filed within the last 24 hours.
    pub duplicate: Option<ComplaintRow>,
    pub rule: Option<super::calendar::DeadlineRule>,
    pub calendar: crate::domain::workdays::WorkCalendar,
}

#[allow(clippy::too_many_arguments)]
pub async fn prefetch(
    conn: &mut AsyncPgConnection,
    code: &str,
    idempotency_key: &str,
    phone: &str,
    description: &str,
    now: DateTime<Utc>,
    day: NaiveDate,
    until: NaiveDate,
) -> QueryResult<Prefetched> {
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2, mut c3, mut c4, mut c5) = (shared, shared, shared, shared, shared);
    let (shop, existing, duplicate, rule, calendar) = futures_util::try_join!(
        super::shop_codes::find_with_merchant(&mut c1, code),
        by_idempotency_key(&mut c2, idempotency_key),
        recent_duplicate(&mut c5, code, phone, description, now),
        super::calendar::deadline_rule_on(&mut c3, day),
        super::calendar::load_range(&mut c4, day - chrono::Days::new(7), until),
    )?;
    Ok(Prefetched {
        shop,
        existing,
        duplicate,
        rule,
        calendar,
    })
}

/// The first complaint against the merchant behind `code` from `phone` with this very
/// description in the 24 hours before `now` (a form submitted again after going back).
pub async fn recent_duplicate<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    code: &str,
    phone: &str,
    description: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<ComplaintRow>> {
    let merchant = shop_codes::table
        .filter(shop_codes::code.eq(code.to_owned()))
        .select(shop_codes::merchant_id.nullable())
        .single_value();
    complaints::table
        .filter(complaints::consumer_phone.eq(phone.to_owned()))
        .filter(complaints::received_at.ge(now - chrono::Duration::hours(24)))
        .filter(complaints::description.eq(description.to_owned()))
        .filter(complaints::merchant_id.nullable().eq(merchant))
        .order(complaints::received_at.asc())
        .select(ComplaintRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn by_tracking_no(
    conn: &mut AsyncPgConnection,
    tracking_no: &str,
) -> QueryResult<Option<ComplaintRow>> {
    complaints::table
        .filter(complaints::tracking_no.eq(tracking_no))
        .select(ComplaintRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn by_idempotency_key<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    key: &str,
) -> QueryResult<Option<ComplaintRow>> {
    complaints::table
        .filter(complaints::idempotency_key.eq(key))
        .select(ComplaintRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The row locked for a transition (call inside a transaction).
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<ComplaintRow> {
    complaints::table
        .find(id)
        .select(ComplaintRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// A complaint with the name of the merchant it is about, in one query.
pub async fn get_named(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<(ComplaintRow, String)>> {
    complaints::table
        .inner_join(merchants::table)
        .filter(complaints::id.eq(id))
        .select((ComplaintRow::as_select(), merchants::name))
        .first(conn)
        .await
        .optional()
}

/// What a view of one complaint shows besides the row: its timeline and the merchant's name,
/// read in one round trip.
pub async fn timeline_and_merchant(
    conn: &mut AsyncPgConnection,
    row: &ComplaintRow,
) -> QueryResult<(Vec<EventRow>, String)> {
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let name = merchants::table
        .find(row.merchant_id)
        .select(merchants::name)
        .first::<String>(&mut c2);
    futures_util::try_join!(events(&mut c1, row.id), name)
}

pub async fn events<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    id: i64,
) -> QueryResult<Vec<EventRow>> {
    complaint_events::table
        .filter(complaint_events::complaint_id.eq(id))
        .order(complaint_events::id)
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// The fields a transition may change; every one is written (None is NULL).
#[derive(Debug, Clone, AsChangeset, Serialize)]
#[diesel(table_name = complaints, treat_none_as_null = true)]
pub struct Change {
    pub status: String,
    pub merchant_deadline: Option<NaiveDate>,
    pub accept_deadline: NaiveDate,
    pub accepted_on: Option<NaiveDate>,
    pub conclude_deadline: Option<NaiveDate>,
    pub closed_at: Option<DateTime<Utc>>,
    pub late: bool,
    pub proposal: Option<String>,
    pub proposal_amount_fen: Option<i64>,
    pub amount_recovered_fen: i64,
    pub updated_at: DateTime<Utc>,
}

/// Writes a transition with its timeline and audit entries (inside the caller's transaction,
/// after [`lock`]).
pub async fn apply(
    conn: &mut AsyncPgConnection,
    before: &ComplaintRow,
    change: &Change,
    event: NewEvent<'_>,
    actor: &Actor,
) -> QueryResult<ComplaintRow> {
    let after: ComplaintRow = diesel::update(complaints::table.find(before.id))
        .set(change)
        .returning(ComplaintRow::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(complaint_events::table)
        .values(&event)
        .execute(conn)
        .await?;
    audit::record(
        conn,
        actor,
        &format!("complaint.{}", event.action),
        "complaint",
        &before.id.to_string(),
        Some(before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Records the consumer's rating; false when the complaint is not closed or already rated.
pub async fn rate(
    conn: &mut AsyncPgConnection,
    id: i64,
    rating: &str,
    comment: Option<&str>,
    actor: &Actor,
) -> QueryResult<Option<ComplaintRow>> {
    conn.transaction(async |conn| {
        let updated: Option<ComplaintRow> = diesel::update(complaints::table.find(id))
            .filter(complaints::rating.is_null())
            .filter(complaints::closed_at.is_not_null())
            .set((
                complaints::rating.eq(rating),
                complaints::rating_comment.eq(comment),
                complaints::rated_at.eq(diesel::dsl::now),
            ))
            .returning(ComplaintRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
        if let Some(row) = &updated {
            diesel::insert_into(complaint_events::table)
                .values(NewEvent {
                    complaint_id: id,
                    actor_role: "consumer",
                    actor_label: &actor.label,
                    action: "rate",
                    from_status: Some(&row.status),
                    to_status: &row.status,
                    note: rating,
                })
                .execute(conn)
                .await?;
            audit::record(
                conn,
                actor,
                "complaint.rate",
                "complaint",
                &id.to_string(),
                None::<&()>,
                Some(&serde_json::json!({ "rating": rating, "comment": comment })),
            )
            .await?;
        }
        Ok(updated)
    })
    .await
}

/// The overdue rule of `Deadlines::overdue` as a query expression (Bool): the complaint is
/// open and past the deadline of its current step on `today` (`merchant_proposed` waits for
/// the consumer and is never overdue). One definition for the queue, the grade refresh and the
/// scan page's count; built from the DSL, so the statements using it stay prepared.
macro_rules! overdue_on {
    ($today:expr) => {{
        use $crate::db::schema::complaints as c;
        c::status
            .eq("submitted")
            .and(c::accept_deadline.lt($today))
            .or(c::status
                .eq("accepted")
                .and(c::conclude_deadline.assume_not_null().lt($today)))
    }};
}
pub(crate) use overdue_on;

/// Due soon, as a query expression: open and the current step's deadline falls between `today`
/// and `due_by` (not yet overdue).
macro_rules! due_between {
    ($today:expr, $due_by:expr) => {{
        use $crate::db::schema::complaints as c;
        c::status
            .eq("submitted")
            .and(c::accept_deadline.between($today, $due_by))
            .or(c::status.eq("accepted").and(
                c::conclude_deadline
                    .assume_not_null()
                    .between($today, $due_by),
            ))
    }};
}

/// Filters of the staff queue.
#[derive(Debug, Default, Clone)]
pub struct ComplaintFilter {
    /// Region codes the caller may see (None: all).
    pub visible_regions: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub merchant_id: Option<i64>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
    pub flagged: Option<bool>,
    /// Due soon: open, not overdue, the current step's deadline between today and this day.
    pub due_by: Option<NaiveDate>,
}

/// One row of the queue.
#[derive(Debug, Clone, Queryable)]
pub struct QueueRow {
    pub complaint: ComplaintRow,
    pub merchant_name: String,
    pub overdue: bool,
}

/// The queue: overdue first, then by the deadline of the current step, then oldest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &ComplaintFilter,
    today: NaiveDate,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<QueueRow>, i64)> {
    // Complaints alone: every complaint has its merchant (a foreign key), so joining merchants
    // to filter, count and sort only cost a lookup per complaint in scope (the queue at peak
    // cost PostgreSQL 20 ms a page at 5,000 complaints); the names are read for the page.
    let filtered = || {
        let mut q = complaints::table.into_boxed::<Pg>();
        if let Some(v) = &f.visible_regions {
            q = q.filter(complaints::region_code.eq_any(v.clone()));
        }
        if let Some(v) = &f.regions {
            q = q.filter(complaints::region_code.eq_any(v.clone()));
        }
        if let Some(m) = f.merchant_id {
            q = q.filter(complaints::merchant_id.eq(m));
        }
        if let Some(s) = &f.status {
            q = q.filter(complaints::status.eq(s.clone()));
        }
        if let Some(fl) = f.flagged {
            q = q.filter(complaints::flagged.eq(fl));
        }
        match f.overdue {
            Some(true) => q = q.filter(overdue_on!(today)),
            Some(false) => q = q.filter(diesel::dsl::not(overdue_on!(today))),
            None => {}
        }
        if let Some(due_by) = f.due_by {
            q = q.filter(due_between!(today, due_by));
        }
        q
    };
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let total = filtered().count().get_result::<i64>(&mut c1);
    let rows = filtered()
        .select((ComplaintRow::as_select(), overdue_on!(today)))
        .order((
            overdue_on!(today).desc(),
            sql::<Date>(
                "CASE complaints.status WHEN 'submitted' THEN complaints.accept_deadline \
                 WHEN 'accepted' THEN complaints.conclude_deadline END",
            )
            .asc()
            .nulls_last(),
            complaints::received_at.asc(),
            complaints::id.asc(),
        ))
        .limit(per_page)
        .offset((page - 1) * per_page)
        .load::<(ComplaintRow, bool)>(&mut c2);
    let (total, rows) = futures_util::try_join!(total, rows)?;
    let ids: Vec<i64> = rows.iter().map(|(c, _)| c.merchant_id).collect();
    let names: std::collections::HashMap<i64, String> = if ids.is_empty() {
        Default::default()
    } else {
        merchants::table
            .filter(merchants::id.eq_any(ids))
            .select((merchants::id, merchants::name))
            .load::<(i64, String)>(conn)
            .await?
            .into_iter()
            .collect()
    };
    Ok((
        rows.into_iter()
            .map(|(complaint, overdue)| QueueRow {
                merchant_name: names
                    .get(&complaint.merchant_id)
                    .cloned()
                    .unwrap_or_default(),
                complaint,
                overdue,
            })
            .collect(),
        total,
    ))
}

/// The phone's complaints since `since`: the evidence behind a flag.
pub async fn by_phone_since(
    conn: &mut AsyncPgConnection,
    phone: &str,
    since: DateTime<Utc>,
) -> QueryResult<Vec<(ComplaintRow, String)>> {
    complaints::table
        .inner_join(merchants::table)
        .filter(complaints::consumer_phone.eq(phone))
        .filter(complaints::received_at.ge(since))
        .order(complaints::received_at)
        .select((ComplaintRow::as_select(), merchants::name))
        .load(conn)
        .await
}

/// Public statistics of one merchant since `since`: received, resolved, and the earliest day
/// of receipt counted (when it leaves the window, the figures change). Built from the query
/// DSL only, so it stays prepared per connection (it runs on every uncached scan page).
pub async fn public_stats<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    merchant_id: i64,
    since: NaiveDate,
) -> QueryResult<(i64, i64, Option<NaiveDate>)> {
    use diesel::dsl::{count, count_star, min};
    complaints::table
        .filter(complaints::merchant_id.eq(merchant_id))
        .filter(complaints::received_on.ge(since))
        .select((
            count_star(),
            count(complaints::id).aggregate_filter(complaints::status.eq("resolved")),
            min(complaints::received_on),
        ))
        .get_result(conn)
        .await
}

/// Open complaints of a merchant past their deadline on `today`, and the nearest future day on
/// which another one becomes overdue (the scan page's and the grade's horizon). DSL only, like
/// [`public_stats`].
pub async fn overdue_of<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    merchant_id: i64,
    today: NaiveDate,
) -> QueryResult<(i64, Option<NaiveDate>)> {
    use diesel::dsl::{count, min};
    let submitted = complaints::status.eq("submitted");
    let accepted = complaints::status.eq("accepted");
    let (overdue, next_accept, next_conclude): (i64, Option<NaiveDate>, Option<NaiveDate>) =
        complaints::table
            .filter(complaints::merchant_id.eq(merchant_id))
            .filter(submitted.or(accepted))
            .select((
                count(complaints::id).aggregate_filter(overdue_on!(today)),
                min(complaints::accept_deadline)
                    .aggregate_filter(submitted.and(complaints::accept_deadline.ge(today))),
                min(complaints::conclude_deadline).aggregate_filter(
                    accepted.and(complaints::conclude_deadline.assume_not_null().ge(today)),
                ),
            ))
            .get_result(conn)
            .await?;
    let next = [next_accept, next_conclude]
        .into_iter()
        .flatten()
        .min()
        .and_then(|d| d.succ_opt());
    Ok((overdue, next))
}

// ---------------------------------------------------------------------------------------------
// Warnings

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[diesel(table_name = warnings, check_for_backend(Pg))]
pub struct WarningRow {
    pub id: i64,
    pub region_code: Option<String>,
    #[schema(inline, value_type = Option<crate::domain::merchant::Category>)]
    pub category: Option<String>,
    pub title: String,
    pub body: String,
    pub valid_until: NaiveDate,
    #[serde(skip)]
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable, Serialize)]
#[diesel(table_name = warnings)]
pub struct NewWarning {
    pub region_code: Option<String>,
    pub category: Option<String>,
    pub title: String,
    pub body: String,
    pub valid_until: NaiveDate,
    pub created_by: Option<i64>,
}

pub async fn insert_warning(
    conn: &mut AsyncPgConnection,
    new: &NewWarning,
    actor: &Actor,
) -> QueryResult<WarningRow> {
    conn.transaction(async |conn| {
        let row: WarningRow = diesel::insert_into(warnings::table)
            .values(new)
            .returning(WarningRow::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "warning.create",
            "warning",
            &row.id.to_string(),
            None::<&()>,
            Some(&row),
        )
        .await?;
        Ok(row)
    })
    .await
}

/// The most warnings shown at once (the public list, a scan page): the newest.
pub const WARNINGS_SHOWN: i64 = 50;

/// The newest [`WARNINGS_SHOWN`] warnings still valid on `today` that apply to `region` (its
/// own, its prefecture's and province's, and those for everywhere) and to `category` (its own
/// and those for every category); `None`: any.
pub async fn active_warnings<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    today: NaiveDate,
    region: Option<&crate::domain::region::RegionCode>,
    category: Option<&str>,
) -> QueryResult<Vec<WarningRow>> {
    let mut q = warnings::table
        .filter(warnings::valid_until.ge(today))
        .into_boxed();
    if let Some(r) = region {
        // A warning covers `r` when its code is `r` or one of the regions above it.
        let c = r.as_str();
        let covering = vec![
            c.to_owned(),
            format!("{}00", &c[..4]),
            format!("{}0000", &c[..2]),
        ];
        q = q.filter(
            warnings::region_code
                .is_null()
                .or(warnings::region_code.eq_any(covering)),
        );
    }
    if let Some(cat) = category {
        q = q.filter(
            warnings::category
                .is_null()
                .or(warnings::category.eq(cat.to_owned())),
        );
    }
    q.order((warnings::created_at.desc(), warnings::id.desc()))
        .limit(WARNINGS_SHOWN)
        .select(WarningRow::as_select())
        .load(conn)
        .await
}

/// The complaint counts of the console's work page, in the regions given (None: all):
/// overdue; due by `due_by` (the deadline of the current step falls between today and then,
/// not yet overdue); submitted and awaiting the decision to accept.
pub async fn work_counts(
    conn: &mut AsyncPgConnection,
    visible_regions: Option<Vec<String>>,
    today: NaiveDate,
    due_by: NaiveDate,
) -> QueryResult<(i64, i64, i64)> {
    use diesel::dsl::count;
    let mut q = complaints::table.into_boxed::<Pg>();
    if let Some(v) = visible_regions {
        q = q.filter(complaints::region_code.eq_any(v));
    }
    let due_soon = complaints::status
        .eq("submitted")
        .and(complaints::accept_deadline.between(today, due_by))
        .or(complaints::status.eq("accepted").and(
            complaints::conclude_deadline
                .assume_not_null()
                .between(today, due_by),
        ));
    q.select((
        count(complaints::id).aggregate_filter(overdue_on!(today)),
        count(complaints::id).aggregate_filter(due_soon),
        count(complaints::id).aggregate_filter(complaints::status.eq("submitted")),
    ))
    .get_result(conn)
    .await
}

/// Warnings for the staff list, newest first: those for `regions` (None: every warning) and,
/// with `include_global`, those for everywhere; ended ones too (marked by `valid_until`).
pub async fn staff_warnings(
    conn: &mut AsyncPgConnection,
    regions: Option<Vec<String>>,
    include_global: bool,
    limit: i64,
) -> QueryResult<Vec<WarningRow>> {
    let mut q = warnings::table.into_boxed::<Pg>();
    if let Some(r) = regions {
        if include_global {
            q = q.filter(
                warnings::region_code
                    .eq_any(r)
                    .or(warnings::region_code.is_null()),
            );
        } else {
            q = q.filter(warnings::region_code.eq_any(r));
        }
    }
    q.order((warnings::created_at.desc(), warnings::id.desc()))
        .limit(limit)
        .select(WarningRow::as_select())
        .load(conn)
        .await
}

pub async fn find_warning(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<WarningRow>> {
    warnings::table
        .find(id)
        .select(WarningRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Ends a warning early: it is last shown on `last_day`. Audited, one transaction.
pub async fn end_warning(
    conn: &mut AsyncPgConnection,
    id: i64,
    last_day: NaiveDate,
    actor: &Actor,
) -> QueryResult<WarningRow> {
    conn.transaction(async |conn| {
        let before: WarningRow = warnings::table
            .find(id)
            .select(WarningRow::as_select())
            .for_update()
            .first(conn)
            .await?;
        let after: WarningRow = diesel::update(warnings::table.find(id))
            .set(warnings::valid_until.eq(last_day.min(before.valid_until)))
            .returning(WarningRow::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "warning.end",
            "warning",
            &id.to_string(),
            Some(&before),
            Some(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Note templates: saved wordings for complaint notes, per jurisdiction.

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = super::schema::note_templates, check_for_backend(Pg))]
pub struct NoteTemplateRow {
    pub id: i64,
    pub region_code: String,
    pub title: String,
    pub body: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// Templates of these regions (None: all), by title.
pub async fn note_templates(
    conn: &mut AsyncPgConnection,
    regions: Option<Vec<String>>,
) -> QueryResult<Vec<NoteTemplateRow>> {
    use super::schema::note_templates as t;
    let mut q = t::table.into_boxed::<Pg>();
    if let Some(r) = regions {
        q = q.filter(t::region_code.eq_any(r));
    }
    q.order((t::title.asc(), t::id.asc()))
        .limit(200)
        .select(NoteTemplateRow::as_select())
        .load(conn)
        .await
}

pub async fn find_note_template(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<NoteTemplateRow>> {
    use super::schema::note_templates as t;
    t::table
        .find(id)
        .select(NoteTemplateRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_note_template(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    region_code: &str,
    title: &str,
    body: &str,
) -> QueryResult<NoteTemplateRow> {
    use super::schema::note_templates as t;
    conn.transaction(async |conn| {
        let row: NoteTemplateRow = diesel::insert_into(t::table)
            .values((
                t::region_code.eq(region_code),
                t::title.eq(title),
                t::body.eq(body),
                t::created_by.eq(actor.user_id),
            ))
            .returning(NoteTemplateRow::as_returning())
            .get_result(conn)
            .await?;
        audit::record(
            conn,
            actor,
            "note_template.create",
            "note_template",
            &row.id.to_string(),
            None::<&()>,
            Some(&row),
        )
        .await?;
        Ok(row)
    })
    .await
}

pub async fn delete_note_template(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    row: &NoteTemplateRow,
) -> QueryResult<()> {
    use super::schema::note_templates as t;
    conn.transaction(async |conn| {
        diesel::delete(t::table.find(row.id)).execute(conn).await?;
        audit::record(
            conn,
            actor,
            "note_template.delete",
            "note_template",
            &row.id.to_string(),
            Some(row),
            None::<&()>,
        )
        .await
    })
    .await
}
