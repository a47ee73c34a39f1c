//! The merchant registry: merchants and their licences, inspections, credit records and photos.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use utoipa::ToSchema;

use super::audit::{self, Actor};
use super::schema::{credit_records, inspections, licences, merchants, photos, shop_codes};
use crate::domain::grade::{self, Assessment, CreditFact, InspectionFact};
use crate::domain::merchant::{CreditKind, InspectionResult};
use crate::domain::merchant_input::{MerchantDraft, ValidMerchant};

/// Just enough of a merchant to decide who may see it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = merchants, check_for_backend(Pg))]
pub struct MerchantRef {
    pub id: i64,
    pub uscc: String,
    pub name: String,
    pub region_code: String,
}

/// A merchant's stored record: its registry fields (declared once, in `MerchantFields`, for
/// reading and writing alike) and what the service keeps about them.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = merchants, check_for_backend(Pg))]
pub struct MerchantRow {
    pub id: i64,
    #[diesel(embed)]
    #[serde(flatten)]
    pub fields: MerchantFields,
    pub grade: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The registry fields of a merchant, as written and as read back.
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset, Queryable, Selectable, Serialize)]
#[diesel(table_name = merchants, treat_none_as_null = true, check_for_backend(Pg))]
pub struct MerchantFields {
    pub uscc: String,
    pub name: String,
    pub legal_representative: Option<String>,
    pub category: String,
    pub region_code: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<NaiveDate>,
    pub status: String,
    pub opening_hours: Option<String>,
    pub opening_months: Vec<i16>,
    pub description: Option<String>,
    pub pledges: Vec<String>,
    pub region_override_reason: Option<String>,
    pub uscc_warning: bool,
    pub uscc_check_override_reason: Option<String>,
}

impl From<&ValidMerchant> for MerchantFields {
    fn from(m: &ValidMerchant) -> Self {
        Self {
            uscc: m.uscc.as_str().to_owned(),
            name: m.name.clone(),
            legal_representative: m.legal_representative.clone(),
            category: m.category.as_str().to_owned(),
            region_code: m.region_code.as_str().to_owned(),
            address: m.address.clone(),
            phone: m.phone.as_ref().map(|p| p.as_str().to_owned()),
            business_scope: m.business_scope.clone(),
            registered_on: m.registered_on,
            status: m.status.as_str().to_owned(),
            opening_hours: m.opening_hours.clone(),
            opening_months: m.opening_months.clone(),
            description: m.description.clone(),
            pledges: m.pledges.clone(),
            region_override_reason: m.region_override_reason.clone(),
            uscc_warning: m.uscc.check_char_warning(),
            uscc_check_override_reason: m.uscc_check_override_reason.clone(),
        }
    }
}

impl MerchantFields {
    /// The stored fields as a draft, to merge changes onto and validate again.
    pub fn to_draft(&self) -> MerchantDraft {
        MerchantDraft {
            uscc: Some(self.uscc.clone()),
            name: Some(self.name.clone()),
            legal_representative: self.legal_representative.clone(),
            category: Some(self.category.clone()),
            region_code: Some(self.region_code.clone()),
            address: self.address.clone(),
            phone: self.phone.clone(),
            business_scope: self.business_scope.clone(),
            registered_on: self.registered_on.map(|d| d.to_string()),
            status: Some(self.status.clone()),
            opening_hours: self.opening_hours.clone(),
            opening_months: Some(self.opening_months.iter().map(|&x| x as i32).collect()),
            description: self.description.clone(),
            pledges: Some(self.pledges.clone()),
            region_override_reason: self.region_override_reason.clone(),
            uscc_check_override_reason: self.uscc_check_override_reason.clone(),
        }
    }
}

/// The minimal insert used by tests of other resources and the CLI.
#[derive(Debug, Insertable)]
#[diesel(table_name = merchants)]
pub struct NewMerchant<'a> {
    pub uscc: &'a str,
    pub name: &'a str,
    pub region_code: &'a str,
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<MerchantRef>> {
    merchants::table
        .find(id)
        .select(MerchantRef::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: &NewMerchant<'_>,
) -> QueryResult<MerchantRef> {
    diesel::insert_into(merchants::table)
        .values(new)
        .returning(MerchantRef::as_returning())
        .get_result(conn)
        .await
}

pub async fn find_by_uscc(
    conn: &mut AsyncPgConnection,
    uscc: &str,
) -> QueryResult<Option<MerchantRef>> {
    merchants::table
        .filter(merchants::uscc.eq(uscc))
        .select(MerchantRef::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn get(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<MerchantRow>> {
    merchants::table
        .find(id)
        .select(MerchantRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Locks the row for the rest of the transaction.
pub async fn get_for_update(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<MerchantRow>> {
    merchants::table
        .find(id)
        .select(MerchantRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    fields: &MerchantFields,
) -> QueryResult<MerchantRow> {
    diesel::insert_into(merchants::table)
        .values(fields)
        .returning(MerchantRow::as_returning())
        .get_result(conn)
        .await
}

/// Writes `fields` and bumps the version.
pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    fields: &MerchantFields,
) -> QueryResult<MerchantRow> {
    diesel::update(merchants::table.find(id))
        .set((
            fields,
            merchants::version.eq(merchants::version + 1),
            merchants::updated_at.eq(diesel::dsl::now),
        ))
        .returning(MerchantRow::as_returning())
        .get_result(conn)
        .await
}

/// Merchants with these USCCs (the import's lookup).
pub async fn by_usccs(
    conn: &mut AsyncPgConnection,
    usccs: &[String],
) -> QueryResult<Vec<MerchantRow>> {
    let mut out = Vec::with_capacity(usccs.len());
    for chunk in usccs.chunks(10_000) {
        out.extend(
            merchants::table
                .filter(merchants::uscc.eq_any(chunk))
                .select(MerchantRow::as_select())
                .load(conn)
                .await?,
        );
    }
    Ok(out)
}

/// Inserts or updates by USCC in multi-row statements; returns the number of rows written.
pub async fn upsert_many(
    conn: &mut AsyncPgConnection,
    rows: &[MerchantFields],
) -> QueryResult<usize> {
    // 16 parameters a row; PostgreSQL allows 65,535 parameters a statement.
    let mut n = 0;
    for chunk in rows.chunks(4_000) {
        n += diesel::insert_into(merchants::table)
            .values(chunk)
            .on_conflict(merchants::uscc)
            .do_update()
            .set((
                merchants::name.eq(excluded(merchants::name)),
                merchants::legal_representative.eq(excluded(merchants::legal_representative)),
                merchants::category.eq(excluded(merchants::category)),
                merchants::region_code.eq(excluded(merchants::region_code)),
                merchants::address.eq(excluded(merchants::address)),
                merchants::phone.eq(excluded(merchants::phone)),
                merchants::business_scope.eq(excluded(merchants::business_scope)),
                merchants::registered_on.eq(excluded(merchants::registered_on)),
                merchants::status.eq(excluded(merchants::status)),
                merchants::opening_hours.eq(excluded(merchants::opening_hours)),
                merchants::opening_months.eq(excluded(merchants::opening_months)),
                merchants::description.eq(excluded(merchants::description)),
                merchants::pledges.eq(excluded(merchants::pledges)),
                merchants::region_override_reason.eq(excluded(merchants::region_override_reason)),
                merchants::uscc_warning.eq(excluded(merchants::uscc_warning)),
                merchants::uscc_check_override_reason
                    .eq(excluded(merchants::uscc_check_override_reason)),
                merchants::version.eq(merchants::version + 1),
                merchants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
    }
    Ok(n)
}

/// After a bulk write: fresh planner statistics, and the trigram indexes' pending lists merged
/// (GIN defers new entries to a list every search must scan until vacuum merges it; after
/// 100,000 imported rows that slows `q` from ~0.3 ms to ~15 ms until autovacuum runs).
pub async fn after_bulk_write(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query("ANALYZE merchants").execute(conn).await?;
    diesel::sql_query(
        "SELECT gin_clean_pending_list(i::regclass) \
         FROM unnest(ARRAY['merchants_name_trgm_idx', 'merchants_uscc_trgm_idx']) AS i",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Filters of the merchant list.
#[derive(Debug, Default, Clone)]
pub struct MerchantFilter {
    /// Region codes the caller may see (None: all).
    pub visible_regions: Option<Vec<String>>,
    /// Region codes asked for (a prefecture expands to its counties).
    pub regions: Option<Vec<String>>,
    pub q: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub grade: Option<String>,
    /// One of the work lists of the console's front page.
    pub attention: Option<Attention>,
}

/// The listings that need a regulator's attention (the console's work page links to each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// A licence whose validity ends between `from` and `until` (inclusive).
    LicenceExpiring { from: NaiveDate, until: NaiveDate },
    /// Not closed, and no inspection on or after `since`.
    NoInspectionSince { since: NaiveDate },
    /// Open, without an active shop code.
    OpenWithoutCode,
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn filtered(f: &MerchantFilter) -> merchants::BoxedQuery<'static, Pg> {
    let mut query = merchants::table.into_boxed();
    if let Some(v) = &f.visible_regions {
        query = query.filter(merchants::region_code.eq_any(v.clone()));
    }
    if let Some(v) = &f.regions {
        query = query.filter(merchants::region_code.eq_any(v.clone()));
    }
    if let Some(q) = &f.q {
        // Case-insensitive matching costs twice as much per row and means nothing for Chinese:
        // use it only when the query has letters with case.
        let has_case = q.chars().any(|c| c.is_lowercase() || c.is_uppercase());
        let name_pattern = escape_like(q);
        let name_matches: Box<dyn BoxableExpression<merchants::table, Pg, SqlType = Bool>> =
            if has_case {
                Box::new(merchants::name.ilike(name_pattern))
            } else {
                Box::new(merchants::name.like(name_pattern))
            };
        // Only a query made of USCC characters can be part of a USCC.
        let upper = crate::domain::text::clean_ident(q)
            .replace(' ', "")
            .to_uppercase();
        if upper
            .bytes()
            .all(|b| crate::domain::uscc::ALPHABET.contains(&b))
        {
            query = query.filter(name_matches.or(merchants::uscc.like(escape_like(&upper))));
        } else {
            query = query.filter(name_matches);
        }
    }
    if let Some(v) = &f.category {
        query = query.filter(merchants::category.eq(v.clone()));
    }
    if let Some(v) = &f.status {
        query = query.filter(merchants::status.eq(v.clone()));
    }
    if let Some(v) = &f.grade {
        query = query.filter(merchants::grade.eq(v.clone()));
    }
    match f.attention {
        Some(Attention::LicenceExpiring { from, until }) => {
            query = query.filter(diesel::dsl::exists(
                licences::table
                    .filter(licences::merchant_id.eq(merchants::id))
                    .filter(licences::valid_until.between(from, until)),
            ));
        }
        Some(Attention::NoInspectionSince { since }) => {
            query = query
                .filter(merchants::status.ne("closed"))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    inspections::table
                        .filter(inspections::merchant_id.eq(merchants::id))
                        .filter(inspections::withdrawn_at.is_null())
                        .filter(inspections::inspected_on.ge(since)),
                )));
        }
        Some(Attention::OpenWithoutCode) => {
            query = query
                .filter(merchants::status.eq("open"))
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    shop_codes::table
                        .filter(shop_codes::merchant_id.eq(merchants::id))
                        .filter(shop_codes::revoked_at.is_null()),
                )));
        }
        None => {}
    }
    query
}

/// How many merchants match (the console's work counts).
pub async fn count(conn: &mut AsyncPgConnection, filter: &MerchantFilter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn).await
}

/// One page of merchants (newest first) and the total matching.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MerchantFilter,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<MerchantRow>, i64)> {
    // Both sent together: one round trip while the connection is held.
    let shared: &AsyncPgConnection = conn;
    let (mut c1, mut c2) = (shared, shared);
    let total = filtered(filter).count().get_result::<i64>(&mut c1);
    let items = filtered(filter)
        .order(merchants::id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .select(MerchantRow::as_select())
        .load::<MerchantRow>(&mut c2);
    let (total, items) = futures_util::try_join!(total, items)?;
    Ok((items, total))
}

// ---------------------------------------------------------------------------------------------
// Licences, inspections, credit records

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, ToSchema)]
#[diesel(table_name = licences, check_for_backend(Pg))]
pub struct LicenceRow {
    pub id: i64,
    pub merchant_id: i64,
    #[schema(inline, value_type = crate::domain::merchant::LicenceKind)]
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable, Serialize)]
#[diesel(table_name = licences)]
pub struct NewLicence {
    pub merchant_id: i64,
    pub kind: String,
    pub number: String,
    pub issuer: String,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, ToSchema)]
#[diesel(table_name = inspections, check_for_backend(Pg))]
pub struct InspectionRow {
    pub id: i64,
    pub merchant_id: i64,
    #[schema(inline, value_type = crate::domain::merchant::InspectionKind)]
    pub kind: String,
    pub inspected_on: NaiveDate,
    pub department: String,
    #[schema(inline, value_type = crate::domain::merchant::InspectionResult)]
    pub result: String,
    pub summary: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable, Serialize)]
#[diesel(table_name = inspections)]
pub struct NewInspection {
    pub merchant_id: i64,
    pub kind: String,
    pub inspected_on: NaiveDate,
    pub department: String,
    pub result: String,
    pub summary: String,
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, ToSchema)]
#[diesel(table_name = credit_records, check_for_backend(Pg))]
pub struct CreditRecordRow {
    pub id: i64,
    pub merchant_id: i64,
    #[schema(inline, value_type = crate::domain::merchant::CreditKind)]
    pub kind: String,
    pub department: String,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    pub summary: String,
    pub publicity_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable, Serialize)]
#[diesel(table_name = credit_records)]
pub struct NewCreditRecord {
    pub merchant_id: i64,
    pub kind: String,
    pub department: String,
    pub decision_no: String,
    pub decided_on: NaiveDate,
    pub summary: String,
    pub publicity_until: Option<NaiveDate>,
    pub created_by: Option<i64>,
}

/// How many of a merchant's licences and credit records a merchant's record, the scan page and
/// the lists show by default: the newest. Any more is not something a person reads, and an
/// unbounded list is an unbounded response.
pub const RECORDS_SHOWN: i64 = 100;

/// The most a record list route (`?limit=`) returns at once.
pub const RECORDS_LIMIT_MAX: i64 = 500;

/// The photos a merchant keeps (an upload beyond them is refused: remove one first).
pub const PHOTOS_KEPT: i64 = 20;

/// A route's `?limit=`: default [`RECORDS_SHOWN`], at most [`RECORDS_LIMIT_MAX`].
pub fn records_limit(asked: Option<i64>) -> i64 {
    asked.unwrap_or(RECORDS_SHOWN).clamp(1, RECORDS_LIMIT_MAX)
}

/// The newest `limit` licences (by `valid_from`).
pub async fn licences_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    limit: i64,
) -> QueryResult<Vec<LicenceRow>> {
    licences::table
        .filter(licences::merchant_id.eq(merchant_id))
        .order((licences::valid_from.desc(), licences::id.desc()))
        .limit(limit)
        .select(LicenceRow::as_select())
        .load(conn)
        .await
}

pub async fn inspections_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    limit: i64,
) -> QueryResult<Vec<InspectionRow>> {
    inspections::table
        .filter(inspections::merchant_id.eq(merchant_id))
        .filter(inspections::withdrawn_at.is_null())
        .order((inspections::inspected_on.desc(), inspections::id.desc()))
        .limit(limit)
        .select(InspectionRow::as_select())
        .load(conn)
        .await
}

/// Credit records, newest first, at most `limit`; only those in publicity on `current_on` if
/// given. The grade needs every record in publicity (`limit` `i64::MAX`): only regulators write
/// them, so their number is bounded by what the bureau decides, not by what a caller sends.
pub async fn credit_records_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    current_on: Option<NaiveDate>,
    limit: i64,
) -> QueryResult<Vec<CreditRecordRow>> {
    let mut q = credit_records::table
        .filter(credit_records::merchant_id.eq(merchant_id))
        .into_boxed();
    if let Some(day) = current_on {
        q = q.filter(credit_records::withdrawn_at.is_null()).filter(
            credit_records::publicity_until
                .is_null()
                .or(credit_records::publicity_until.ge(day)),
        );
    }
    q.order((credit_records::decided_on.desc(), credit_records::id.desc()))
        .limit(limit)
        .select(CreditRecordRow::as_select())
        .load(conn)
        .await
}

// ---------------------------------------------------------------------------------------------
// Grades

fn credit_fact(r: &CreditRecordRow) -> Option<CreditFact> {
    Some(CreditFact {
        id: r.id,
        kind: r.kind.parse::<CreditKind>().ok()?,
        department: r.department.clone(),
        decided_on: r.decided_on,
        publicity_until: r.publicity_until,
    })
}

fn inspection_fact(r: &InspectionRow) -> Option<InspectionFact> {
    Some(InspectionFact {
        id: r.id,
        result: r.result.parse::<InspectionResult>().ok()?,
        department: r.department.clone(),
        inspected_on: r.inspected_on,
    })
}

/// A merchant's assessment from its stored records.
pub async fn assess(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    today: NaiveDate,
) -> QueryResult<Assessment> {
    let credit = credit_records_of(conn, merchant_id, Some(today), i64::MAX).await?;
    let since = today - chrono::Days::new(grade::RECENT_DAYS + 1);
    let recent: Vec<InspectionRow> = inspections::table
        .filter(inspections::merchant_id.eq(merchant_id))
        .filter(inspections::withdrawn_at.is_null())
        .filter(inspections::inspected_on.gt(since))
        .select(InspectionRow::as_select())
        .load(conn)
        .await?;
    let overdue = super::complaints::overdue_of(conn, merchant_id, today).await?;
    Ok(assess_rows(&credit, &recent, overdue, today))
}

/// Inspections loaded with a record's page (enough for a year's grade for nearly everyone).
pub const INSPECTIONS_LOADED: i64 = 50;

/// `loaded`: the newest `INSPECTIONS_LOADED` inspections. When they may not reach back over
/// the grade's window (a merchant inspected more often than that in a year), all are loaded.
pub async fn complete_for_grade(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    today: NaiveDate,
    loaded: Vec<InspectionRow>,
) -> QueryResult<Vec<InspectionRow>> {
    let window_start = today - chrono::Days::new(grade::RECENT_DAYS + 1);
    if loaded.len() as i64 == INSPECTIONS_LOADED
        && loaded.last().is_some_and(|i| i.inspected_on > window_start)
    {
        return inspections_of(conn, merchant_id, i64::MAX).await;
    }
    Ok(loaded)
}

/// `overdue`: from [`super::complaints::overdue_of`] — open complaints past their deadline and
/// the next day another one falls due (when the grade may change by time alone).
pub fn assess_rows(
    credit: &[CreditRecordRow],
    inspections: &[InspectionRow],
    overdue: (i64, Option<NaiveDate>),
    today: NaiveDate,
) -> Assessment {
    let credit: Vec<CreditFact> = credit.iter().filter_map(credit_fact).collect();
    let inspections: Vec<InspectionFact> = inspections.iter().filter_map(inspection_fact).collect();
    let mut a = grade::assess(
        &credit,
        &inspections,
        u32::try_from(overdue.0).unwrap_or(u32::MAX),
        today,
    );
    a.recheck_on = a.recheck_on.into_iter().chain(overdue.1).min();
    a
}

/// Stores a merchant's grade (for filtering) and when it must be looked at again.
pub async fn store_grade(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    a: &Assessment,
) -> QueryResult<()> {
    diesel::update(merchants::table.find(merchant_id))
        .set((
            merchants::grade.eq(a.grade.as_str()),
            merchants::grade_recheck_on.eq(a.recheck_on),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The advisory lock that lets one instance at a time run the grade refresh.
pub const GRADE_REFRESH_LOCK: i64 = 0x7964_796d_0001;

/// What the grade refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GradeRefresh {
    /// Merchants whose grade was rechecked.
    pub checked: usize,
    /// Merchants whose grade changed (their pages show the grade: invalidate them).
    pub changed: Vec<i64>,
    /// Another instance held the lock: nothing was done.
    pub skipped: bool,
}

#[derive(Serialize)]
struct GradeState<'a> {
    grade: &'a str,
    grade_recheck_on: Option<NaiveDate>,
}

/// Recomputes, in one transaction under an advisory lock (one instance at a time), the stored
/// grade of every merchant whose grade may have changed by the passing of time (a publicity
/// period ended, a penalty stopped being recent, an open complaint went overdue). Each change
/// is audited with the grade before and after, as `actor` (the system).
pub async fn refresh_due_grades(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    actor: &Actor,
) -> QueryResult<GradeRefresh> {
    use super::schema::complaints;
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    conn.transaction(async |conn| {
        let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
            .bind::<diesel::sql_types::BigInt, _>(GRADE_REFRESH_LOCK)
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(GradeRefresh {
                skipped: true,
                ..Default::default()
            });
        }
        // Due: the recheck day has come, or an A merchant has an open complaint past its
        // deadline (rule 7; a complaint's deadline passing is not written anywhere).
        let overdue_a = diesel::dsl::exists(
            complaints::table
                .filter(complaints::merchant_id.eq(merchants::id))
                .filter(super::complaints::overdue_on!(today)),
        );
        let due: Vec<(i64, String, Option<NaiveDate>)> = merchants::table
            .filter(
                merchants::grade_recheck_on
                    .le(today)
                    .or(merchants::grade.eq("A").and(overdue_a)),
            )
            .select((merchants::id, merchants::grade, merchants::grade_recheck_on))
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        let mut changed = Vec::new();
        for (id, grade, recheck_on) in &due {
            let a = assess(conn, *id, today).await?;
            if a.grade.as_str() == grade && a.recheck_on == *recheck_on {
                continue;
            }
            store_grade(conn, *id, &a).await?;
            if a.grade.as_str() == grade {
                continue; // only the next recheck day moved: nothing anyone sees changed
            }
            changed.push(*id);
            audit::record(
                conn,
                actor,
                "merchant.regrade",
                "merchant",
                &id.to_string(),
                Some(&GradeState {
                    grade,
                    grade_recheck_on: *recheck_on,
                }),
                Some(&GradeState {
                    grade: a.grade.as_str(),
                    grade_recheck_on: a.recheck_on,
                }),
            )
            .await?;
        }
        Ok(GradeRefresh {
            checked: due.len(),
            changed,
            skipped: false,
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Photos

#[derive(Debug, Clone, Queryable, Selectable, Serialize, serde::Deserialize, ToSchema)]
#[diesel(table_name = photos, check_for_backend(Pg))]
pub struct PhotoMeta {
    pub id: i64,
    /// The id in the photo's URLs: random, so photos cannot be enumerated.
    pub public_id: String,
    pub merchant_id: i64,
    pub kind: String,
    pub width: i32,
    pub height: i32,
    pub thumb_width: i32,
    pub thumb_height: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = photos)]
pub struct NewPhoto {
    pub public_id: String,
    pub merchant_id: i64,
    pub kind: String,
    pub width: i32,
    pub height: i32,
    pub display: Vec<u8>,
    pub thumb_width: i32,
    pub thumb_height: i32,
    pub thumb: Vec<u8>,
    pub created_by: Option<i64>,
}

pub async fn insert_photo(conn: &mut AsyncPgConnection, new: &NewPhoto) -> QueryResult<PhotoMeta> {
    diesel::insert_into(photos::table)
        .values(new)
        .returning(PhotoMeta::as_returning())
        .get_result(conn)
        .await
}

/// The newest [`PHOTOS_KEPT`] photos.
pub async fn photos_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
) -> QueryResult<Vec<PhotoMeta>> {
    photos::table
        .filter(photos::merchant_id.eq(merchant_id))
        .order(photos::id.desc())
        .limit(PHOTOS_KEPT)
        .select(PhotoMeta::as_select())
        .load(conn)
        .await
}

impl PhotoMeta {
    pub fn url(&self) -> String {
        format!("/media/photos/{}.jpg", self.public_id)
    }
    pub fn thumb_url(&self) -> String {
        format!("/media/photos/{}/thumb.jpg", self.public_id)
    }
}

/// A new photo's public id: 128 random bits as 32 lower-case hex digits.
pub fn new_photo_public_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A photo's bytes (the display size, or the thumbnail) by its public id, if the public may
/// see it: a storefront photo always (it is how a consumer matches a sticker to the shop), an
/// interior photo only while the shop has an active code.
pub async fn public_photo_bytes(
    conn: &mut AsyncPgConnection,
    public_id: &str,
    thumb: bool,
) -> QueryResult<Option<Vec<u8>>> {
    use super::schema::shop_codes;
    let active_code = diesel::dsl::exists(
        shop_codes::table
            .filter(shop_codes::merchant_id.eq(photos::merchant_id))
            .filter(shop_codes::revoked_at.is_null()),
    );
    let q = photos::table
        .filter(photos::public_id.eq(public_id))
        .filter(photos::kind.eq("storefront").or(active_code));
    if thumb {
        q.select(photos::thumb).first(conn).await.optional()
    } else {
        q.select(photos::display).first(conn).await.optional()
    }
}

/// A photo of `merchant_id` by its public id.
pub async fn photo_of(
    conn: &mut AsyncPgConnection,
    merchant_id: i64,
    public_id: &str,
) -> QueryResult<Option<PhotoMeta>> {
    photos::table
        .filter(photos::merchant_id.eq(merchant_id))
        .filter(photos::public_id.eq(public_id))
        .select(PhotoMeta::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn photo_count(conn: &mut AsyncPgConnection, merchant_id: i64) -> QueryResult<i64> {
    photos::table
        .filter(photos::merchant_id.eq(merchant_id))
        .count()
        .get_result(conn)
        .await
}

pub async fn delete_photo(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(photos::table.find(id)).execute(conn).await
}

// ---------------------------------------------------------------------------------------------
// One way to add any of a merchant's records

/// A record that belongs to one merchant (licence, inspection, credit record).
#[async_trait::async_trait]
pub trait MerchantRecord: Serialize + Send + Sync {
    type Row: Serialize + Send + Sync;
    /// The audit-log entity name.
    const ENTITY: &'static str;
    /// Whether adding one can change the merchant's grade.
    const AFFECTS_GRADE: bool;
    fn merchant_id(&self) -> i64;
    fn row_id(row: &Self::Row) -> i64;
    async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<Self::Row>;
}

macro_rules! merchant_record {
    ($new:ty, $row:ty, $table:ident, $entity:literal, $grade:literal) => {
        #[async_trait::async_trait]
        impl MerchantRecord for $new {
            type Row = $row;
            const ENTITY: &'static str = $entity;
            const AFFECTS_GRADE: bool = $grade;
            fn merchant_id(&self) -> i64 {
                self.merchant_id
            }
            fn row_id(row: &$row) -> i64 {
                row.id
            }
            async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<$row> {
                diesel::insert_into($table::table)
                    .values(self)
                    .returning(<$row>::as_returning())
                    .get_result(conn)
                    .await
            }
        }
    };
}

merchant_record!(NewLicence, LicenceRow, licences, "licence", false);
merchant_record!(
    NewInspection,
    InspectionRow,
    inspections,
    "inspection",
    true
);
merchant_record!(
    NewCreditRecord,
    CreditRecordRow,
    credit_records,
    "credit_record",
    true
);

/// What the scan page shows of a merchant besides its row, read in one pipelined round trip
/// (the queries are sent together).
pub struct ScanPageFacts {
    /// Records in their publicity period.
    pub credit: Vec<CreditRecordRow>,
    /// The newest `INSPECTIONS_LOADED`.
    pub inspections: Vec<InspectionRow>,
    /// The newest `RECORDS_SHOWN`.
    pub licences: Vec<LicenceRow>,
    pub storefront: Option<PhotoMeta>,
    /// Overdue open complaints and the next day another one becomes overdue.
    pub overdue: (i64, Option<NaiveDate>),
    /// Complaints received in the last 12 months, resolved among them, the oldest day.
    pub stats: (i64, i64, Option<NaiveDate>),
    /// Consumer warnings in force for the merchant's region and category.
    pub warnings: Vec<super::complaints::WarningRow>,
    /// The merchant's replies to its records that the public sees.
    pub replies: Vec<super::replies::PublicReplyRow>,
    /// Records under an open objection: (kind, id).
    pub objected: Vec<(String, i64)>,
}

/// Every fact of [`ScanPageFacts`] for the merchant of shop code `code` in one statement that
/// answers one JSON document (empty lists for a code that leads nowhere). Sent pipelined with
/// the code's own lookup, an uncached scan page costs PostgreSQL one round trip and the service
/// the decoding of two statements instead of ten (the client side of ten statements was about
/// half of the service's CPU per uncached page). Each part reads what the per-table functions
/// read ([`credit_records_of`], [`inspections_of`], [`licences_of`], the storefront of
/// [`photos_of`], [`super::complaints::overdue_of`], [`super::complaints::public_stats`],
/// [`super::complaints::active_warnings`], [`super::replies::public_of`],
/// [`super::objections::open_of`]); a test holds them equal.
pub async fn scan_page_facts<C: diesel_async::AsyncConnectionCore<Backend = Pg> + Send>(
    conn: &mut C,
    code: &str,
    today: NaiveDate,
) -> QueryResult<ScanPageFacts> {
    #[derive(serde::Deserialize)]
    struct Parts {
        credit: Vec<CreditRecordRow>,
        inspections: Vec<InspectionRow>,
        licences: Vec<LicenceRow>,
        storefront: Option<PhotoMeta>,
        overdue: (i64, Option<NaiveDate>, Option<NaiveDate>),
        stats: (i64, i64, Option<NaiveDate>),
        warnings: Vec<super::complaints::WarningRow>,
        replies: Vec<super::replies::PublicReplyRow>,
        objected: Vec<(String, i64)>,
    }
    let stats_since = today
        .checked_sub_months(chrono::Months::new(12))
        .unwrap_or(today);
    let doc: String = FactsQuery {
        code,
        today,
        stats_since,
    }
    .get_result(conn)
    .await?;
    let p: Parts = serde_json::from_str(&doc).map_err(|e| {
        diesel::result::Error::DeserializationError(format!("the scan page's facts: {e}").into())
    })?;
    let (overdue, next_accept, next_conclude) = p.overdue;
    // As `overdue_of`: the day after the nearest deadline still ahead.
    let next = [next_accept, next_conclude]
        .into_iter()
        .flatten()
        .min()
        .and_then(|d| d.succ_opt());
    Ok(ScanPageFacts {
        credit: p.credit,
        inspections: p.inspections,
        licences: p.licences,
        storefront: p.storefront,
        overdue: (overdue, next),
        stats: p.stats,
        warnings: p.warnings,
        replies: p.replies,
        objected: p.objected,
    })
}

/// $1 code, $2 today (Asia/Shanghai), $3 the first day of the complaint statistics, $4
/// `INSPECTIONS_LOADED`, $5 `RECORDS_SHOWN`, $6 `WARNINGS_SHOWN`. The keys and columns are the
/// fields of the row types (serde reads them back); `bench/scan-page-pgbench.sql` runs the same.
const SCAN_PAGE_FACTS_SQL: &str = "\
WITH m AS (SELECT mm.id, mm.region_code, mm.category FROM shop_codes sc \
  JOIN merchants mm ON mm.id = sc.merchant_id WHERE sc.code = $1 LIMIT 1) \
SELECT json_build_object(\
 'credit', (SELECT COALESCE(json_agg(t ORDER BY t.decided_on DESC, t.id DESC), '[]') FROM (\
   SELECT r.id, r.merchant_id, r.kind, r.department, r.decision_no, r.decided_on, r.summary, \
     r.publicity_until, r.created_at FROM credit_records r JOIN m ON r.merchant_id = m.id \
   WHERE r.withdrawn_at IS NULL AND (r.publicity_until IS NULL OR r.publicity_until >= $2)) t), \
 'inspections', (SELECT COALESCE(json_agg(t ORDER BY t.inspected_on DESC, t.id DESC), '[]') FROM (\
   SELECT i.id, i.merchant_id, i.kind, i.inspected_on, i.department, i.result, i.summary, \
     i.created_at FROM inspections i JOIN m ON i.merchant_id = m.id WHERE i.withdrawn_at IS NULL \
   ORDER BY i.inspected_on DESC, i.id DESC LIMIT $4) t), \
 'licences', (SELECT COALESCE(json_agg(t ORDER BY t.valid_from DESC, t.id DESC), '[]') FROM (\
   SELECT l.id, l.merchant_id, l.kind, l.number, l.issuer, l.valid_from, l.valid_until, \
     l.created_at FROM licences l JOIN m ON l.merchant_id = m.id \
   ORDER BY l.valid_from DESC, l.id DESC LIMIT $5) t), \
 'storefront', (SELECT row_to_json(t) FROM (\
   SELECT p.id, p.public_id, p.merchant_id, p.kind, p.width, p.height, p.thumb_width, \
     p.thumb_height, p.created_at FROM photos p JOIN m ON p.merchant_id = m.id \
   WHERE p.kind = 'storefront' ORDER BY p.id DESC LIMIT 1) t), \
 'overdue', (SELECT json_build_array(\
   count(c.id) FILTER (WHERE (c.status = 'submitted' AND c.accept_deadline < $2) \
     OR (c.status = 'accepted' AND c.conclude_deadline < $2)), \
   min(c.accept_deadline) FILTER (WHERE c.status = 'submitted' AND c.accept_deadline >= $2), \
   min(c.conclude_deadline) FILTER (WHERE c.status = 'accepted' AND c.conclude_deadline >= $2)) \
   FROM complaints c JOIN m ON c.merchant_id = m.id WHERE c.status IN ('submitted', 'accepted')), \
 'stats', (SELECT json_build_array(count(*), count(c.id) FILTER (WHERE c.status = 'resolved'), \
   min(c.received_on)) FROM complaints c JOIN m ON c.merchant_id = m.id WHERE c.received_on >= $3), \
 'warnings', (SELECT COALESCE(json_agg(t ORDER BY t.created_at DESC, t.id DESC), '[]') FROM (\
   SELECT w.id, w.region_code, w.category, w.title, w.body, w.valid_until, w.created_at \
   FROM warnings w JOIN m ON (w.region_code IS NULL OR w.region_code IN (m.region_code, \
     left(m.region_code, 4) || '00', left(m.region_code, 2) || '0000')) \
     AND (w.category IS NULL OR w.category = m.category) \
   WHERE w.valid_until >= $2 ORDER BY w.created_at DESC, w.id DESC LIMIT $6) t), \
 'replies', (SELECT COALESCE(json_agg(json_build_array(json_build_object(\
     'id', t.id, 'merchant_id', t.merchant_id, 'record_kind', t.record_kind, \
     'record_id', t.record_id, 'body', t.body, 'created_at', t.created_at, \
     'updated_at', t.updated_at, 'seen_at', t.seen_at, 'seen_by', t.seen_by, \
     'hidden_at', t.hidden_at, 'hidden_by', t.hidden_by, 'hidden_reason', t.hidden_reason), \
     t.category, t.closed_at) ORDER BY t.id), '[]') FROM (\
   SELECT r.*, c.category, c.closed_at FROM record_replies r JOIN m ON r.merchant_id = m.id \
   LEFT JOIN complaints c ON c.id = r.record_id AND r.record_kind = 'complaint' \
   WHERE r.hidden_at IS NULL ORDER BY r.id LIMIT 1000) t), \
 'objected', (SELECT COALESCE(json_agg(json_build_array(o.record_kind, o.record_id)), '[]') \
   FROM objections o JOIN m ON o.merchant_id = m.id WHERE o.status = 'open')\
)::text AS facts";

/// `SCAN_PAGE_FACTS_SQL` as a query diesel keeps prepared on each connection (a `sql_query` is
/// parsed and planned by PostgreSQL on every execution: for this statement that cost more than
/// running it, about 1 ms of PostgreSQL's CPU per page). Each `$n` becomes a bind parameter of
/// its own in order of appearance, with the value of `n`.
struct FactsQuery<'a> {
    code: &'a str,
    today: NaiveDate,
    stats_since: NaiveDate,
}

impl diesel::query_builder::QueryId for FactsQuery<'_> {
    type QueryId = FactsQuery<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for FactsQuery<'_> {
    type SqlType = diesel::sql_types::Text;
}

impl diesel::query_builder::QueryFragment<Pg> for FactsQuery<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Date, Text};
        let mut rest = SCAN_PAGE_FACTS_SQL;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            match rest.as_bytes().get(at + 1) {
                Some(b'1') => out.push_bind_param::<Text, str>(self.code)?,
                Some(b'2') => out.push_bind_param::<Date, _>(&self.today)?,
                Some(b'3') => out.push_bind_param::<Date, _>(&self.stats_since)?,
                Some(b'4') => out.push_bind_param::<BigInt, _>(&INSPECTIONS_LOADED)?,
                Some(b'5') => out.push_bind_param::<BigInt, _>(&RECORDS_SHOWN)?,
                Some(b'6') => {
                    out.push_bind_param::<BigInt, _>(&super::complaints::WARNINGS_SHOWN)?
                }
                _ => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "SCAN_PAGE_FACTS_SQL: an unknown parameter".into(),
                    ))
                }
            }
            rest = &rest[at + 2..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench/scan-page-pgbench.sql` is the physical limit the uncached page is measured
    /// against: it must run the statement the service runs, with the parameters written out.
    #[test]
    fn the_pgbench_script_runs_the_scan_pages_statement() {
        let script = include_str!("../../bench/scan-page-pgbench.sql");
        let mut sql = SCAN_PAGE_FACTS_SQL.to_owned();
        for (param, value) in [
            (
                "$1",
                "(SELECT code FROM bench_codes WHERE rank = :r)".to_owned(),
            ),
            ("$2", "current_date".to_owned()),
            (
                "$3",
                "(current_date - interval '12 months')::date".to_owned(),
            ),
            ("$4", INSPECTIONS_LOADED.to_string()),
            ("$5", RECORDS_SHOWN.to_string()),
            ("$6", super::super::complaints::WARNINGS_SHOWN.to_string()),
        ] {
            sql = sql.replace(param, &value);
        }
        assert!(
            script.contains(&format!("\n{sql};\n")),
            "bench/scan-page-pgbench.sql does not run SCAN_PAGE_FACTS_SQL"
        );
        assert!(!script.contains("SELECT :one"), "no pool check under load");
    }
}
