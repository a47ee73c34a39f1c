//! Use cases of a merchant's regulated records (licences, inspections, credit records): reading
//! them (the merchant's readers) and recording them (its regulators), each record written in one
//! transaction with its audit entry and, when it weighs on the grade, the stored grade.

use chrono::NaiveDate;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::{
    CreditRecordRow, InspectionRow, MerchantRecord, MerchantRow, NewCreditRecord, NewInspection,
    NewLicence,
};
use crate::domain::merchant::{CreditKind, InspectionKind, InspectionResult, LicenceKind};
use crate::domain::text::{clean_text, control_char_error};
use crate::domain::time::parse_date;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult};
use crate::service::merchants::{licence_view, region_of, LicenceView};
use crate::service::today;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Input

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> String {
    if let Some(e) = value.as_deref().and_then(|v| control_char_error(field, v)) {
        errors.push(e);
        return String::new();
    }
    let v = value.as_deref().map(clean_text).unwrap_or_default();
    if v.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    } else if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
    }
    v
}

fn optional_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    max: usize,
) -> String {
    if let Some(e) = value.as_deref().and_then(|v| control_char_error(field, v)) {
        errors.push(e);
        return String::new();
    }
    let v = value.as_deref().map(clean_text).unwrap_or_default();
    if v.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("{field} has at most {max} characters"),
        ));
    }
    v
}

fn date_field(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    required: bool,
) -> Option<NaiveDate> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            if required {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("{field} is required"),
                ));
            }
            None
        }
        Some(raw) => parse_date(raw).or_else(|| {
            errors.push(FieldError::new(
                field,
                "invalid_date",
                format!("{field} must be a date, e.g. 2026-03-01"),
            ));
            None
        }),
    }
}

fn not_in_future(
    errors: &mut Vec<FieldError>,
    field: &str,
    d: Option<NaiveDate>,
    today: NaiveDate,
) {
    if d.is_some_and(|d| d > today) {
        errors.push(FieldError::new(
            field,
            "in_future",
            format!("{field} cannot be after today"),
        ));
    }
}

fn word<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: &Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Option<T> {
    match value.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            errors.push(FieldError::new(
                field,
                "required",
                format!("{field} is required"),
            ));
            None
        }
        Some(v) => parse(v, field).map_err(|e| errors.push(e)).ok(),
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceRequest {
    /// `business_licence`, `food_business`, `drug_business`, `special_trade`, `hygiene`, `other`.
    #[schema(inline, value_type = Option<LicenceKind>)]
    pub kind: Option<String>,
    pub number: Option<String>,
    pub issuer: Option<String>,
    pub valid_from: Option<String>,
    /// Omit for a licence without expiry.
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionRequest {
    /// `routine`, `random`, `special`, `sampling`.
    #[schema(inline, value_type = Option<InspectionKind>)]
    pub kind: Option<String>,
    pub inspected_on: Option<String>,
    pub department: Option<String>,
    /// `pass`, `fail`, `rectify`.
    #[schema(inline, value_type = Option<InspectionResult>)]
    pub result: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRecordRequest {
    /// `penalty`, `abnormal_list`, `serious_violation`, `commendation`.
    #[schema(inline, value_type = Option<CreditKind>)]
    pub kind: Option<String>,
    pub department: Option<String>,
    pub decision_no: Option<String>,
    pub decided_on: Option<String>,
    pub summary: Option<String>,
    /// Last day of public display. Defaults: penalty and commendation 1 year after the
    /// decision, serious violation 3 years; abnormal list open-ended (until a regulator ends it).
    pub publicity_until: Option<String>,
}

fn validate_licence(
    b: &LicenceRequest,
    merchant_id: i64,
    by: i64,
) -> Result<NewLicence, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, LicenceKind::parse_field);
    let number = required_text(&mut e, "number", &b.number, 100);
    let issuer = required_text(&mut e, "issuer", &b.issuer, 200);
    let valid_from = date_field(&mut e, "valid_from", &b.valid_from, true);
    let valid_until = date_field(&mut e, "valid_until", &b.valid_until, false);
    if let (Some(f), Some(u)) = (valid_from, valid_until) {
        if u < f {
            e.push(FieldError::new(
                "valid_until",
                "before_start",
                "valid_until cannot be before valid_from",
            ));
        }
    }
    match (kind, valid_from) {
        (Some(kind), Some(valid_from)) if e.is_empty() => Ok(NewLicence {
            merchant_id,
            kind: kind.as_str().to_owned(),
            number,
            issuer,
            valid_from,
            valid_until,
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

pub(crate) fn validate_inspection(
    b: &InspectionRequest,
    merchant_id: i64,
    by: i64,
    today: NaiveDate,
) -> Result<NewInspection, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, InspectionKind::parse_field);
    let inspected_on = date_field(&mut e, "inspected_on", &b.inspected_on, true);
    not_in_future(&mut e, "inspected_on", inspected_on, today);
    let department = required_text(&mut e, "department", &b.department, 200);
    let result = word(&mut e, "result", &b.result, InspectionResult::parse_field);
    let summary = optional_text(&mut e, "summary", &b.summary, 2000);
    match (kind, inspected_on, result) {
        (Some(kind), Some(inspected_on), Some(result)) if e.is_empty() => Ok(NewInspection {
            merchant_id,
            kind: kind.as_str().to_owned(),
            inspected_on,
            department,
            result: result.as_str().to_owned(),
            summary,
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

/// Default publicity periods by kind (see docs/credit-grade.md).
pub fn default_publicity_until(kind: CreditKind, decided_on: NaiveDate) -> Option<NaiveDate> {
    let years = match kind {
        CreditKind::Penalty | CreditKind::Commendation => 1,
        CreditKind::SeriousViolation => 3,
        CreditKind::AbnormalList => return None,
    };
    decided_on.checked_add_months(chrono::Months::new(12 * years))
}

pub(crate) fn validate_credit_record(
    b: &CreditRecordRequest,
    merchant_id: i64,
    by: i64,
    today: NaiveDate,
) -> Result<NewCreditRecord, Vec<FieldError>> {
    let mut e = Vec::new();
    let kind = word(&mut e, "kind", &b.kind, CreditKind::parse_field);
    let department = required_text(&mut e, "department", &b.department, 200);
    let decision_no = optional_text(&mut e, "decision_no", &b.decision_no, 100);
    let decided_on = date_field(&mut e, "decided_on", &b.decided_on, true);
    not_in_future(&mut e, "decided_on", decided_on, today);
    let summary = optional_text(&mut e, "summary", &b.summary, 2000);
    let until = date_field(&mut e, "publicity_until", &b.publicity_until, false);
    if let (Some(d), Some(u)) = (decided_on, until) {
        if u < d {
            e.push(FieldError::new(
                "publicity_until",
                "before_start",
                "publicity_until cannot be before decided_on",
            ));
        }
    }
    if matches!(kind, Some(CreditKind::Penalty)) && decision_no.is_empty() {
        e.push(FieldError::new(
            "decision_no",
            "required",
            "a penalty needs its decision number (处罚决定书文号)",
        ));
    }
    match (kind, decided_on) {
        (Some(kind), Some(decided_on)) if e.is_empty() => Ok(NewCreditRecord {
            merchant_id,
            kind: kind.as_str().to_owned(),
            department,
            decision_no,
            decided_on,
            summary,
            publicity_until: until.or_else(|| default_publicity_until(kind, decided_on)),
            created_by: Some(by),
        }),
        _ => Err(e),
    }
}

/// Loads a merchant the caller may see (404 otherwise).
pub(crate) async fn visible_merchant(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<MerchantRow> {
    let m = db::merchants::get(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::view_merchant(user, m.id, &region_of(&m.fields.region_code)?).check()?;
    Ok(m)
}

/// Loads a merchant whose regulated data the caller may change (404 if it may not see it,
/// 403 for the merchant itself).
async fn managed_merchant(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<MerchantRow> {
    let m = db::merchants::get(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::manage_merchant(user, m.id, &region_of(&m.fields.region_code)?).check()?;
    Ok(m)
}

/// Inserts a record of a merchant with its audit entry and, when it affects the grade, the
/// stored grade — all in one transaction.
async fn add_record<N>(conn: &mut AsyncPgConnection, actor: Actor, new: N) -> AppResult<N::Row>
where
    N: MerchantRecord + 'static,
{
    conn.transaction::<_, AppError, _>(async move |conn| {
        let row = new.insert(conn).await?;
        db::audit::record(
            conn,
            &actor,
            &format!("{}.create", N::ENTITY),
            N::ENTITY,
            &N::row_id(&row).to_string(),
            None::<&()>,
            Some(&row),
        )
        .await?;
        if N::AFFECTS_GRADE {
            let a = db::merchants::assess(conn, new.merchant_id(), today()).await?;
            db::merchants::store_grade(conn, new.merchant_id(), &a).await?;
        }
        Ok(row)
    })
    .await
}

/// The shared path of the three record use cases: may the caller manage this merchant (404 /
/// 403 first), is the input valid (422), then insert with audit (and regrade), then the
/// merchant's pages invalidated.
async fn create_record<N>(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    validate: impl FnOnce(i64) -> Result<N, Vec<FieldError>>,
) -> AppResult<N::Row>
where
    N: MerchantRecord + 'static,
{
    let mut conn = state.pool.get().await?;
    let m = managed_merchant(&mut conn, user, merchant_id).await?;
    let new = validate(m.id).map_err(AppError::Validation)?;
    let row = add_record(&mut conn, actor, new).await?;
    state.pages.invalidate_merchants(&mut conn, &[m.id]).await;
    Ok(row)
}

/// A merchant's licences, newest first (expired ones marked); `limit` as asked (default 100,
/// max 500).
pub async fn list_licences(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
    limit: Option<i64>,
) -> AppResult<Vec<LicenceView>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, user, merchant_id).await?;
    let today = today();
    let limit = db::merchants::records_limit(limit);
    Ok(db::merchants::licences_of(&mut conn, m.id, limit)
        .await?
        .into_iter()
        .map(|l| licence_view(l, today))
        .collect())
}

/// Records a licence (regulators of the merchant's region).
pub async fn create_licence(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    input: &LicenceRequest,
) -> AppResult<LicenceView> {
    let row = create_record(state, user, actor, merchant_id, |m| {
        validate_licence(input, m, user.id)
    })
    .await?;
    Ok(licence_view(row, today()))
}

/// A merchant's inspections, newest first (default 50, max 500).
pub async fn list_inspections(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
    limit: Option<i64>,
) -> AppResult<Vec<InspectionRow>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, user, merchant_id).await?;
    let limit = limit.unwrap_or(50).clamp(1, 500);
    Ok(db::merchants::inspections_of(&mut conn, m.id, limit).await?)
}

/// Records an inspection; the merchant's grade is recomputed in the same transaction.
pub async fn create_inspection(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    input: &InspectionRequest,
) -> AppResult<InspectionRow> {
    create_record(state, user, actor, merchant_id, |m| {
        validate_inspection(input, m, user.id, today())
    })
    .await
}

/// A merchant's credit records in publicity, newest first; staff may ask for expired ones too.
pub async fn list_credit_records(
    state: &AppState,
    user: &CurrentUser,
    merchant_id: i64,
    include_expired: bool,
    limit: Option<i64>,
) -> AppResult<Vec<CreditRecordRow>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, user, merchant_id).await?;
    let all = include_expired && policy::sees_expired_records(user);
    Ok(db::merchants::credit_records_of(
        &mut conn,
        m.id,
        (!all).then(today),
        db::merchants::records_limit(limit),
    )
    .await?)
}

/// Records a penalty, list entry or commendation; the grade is recomputed in the same
/// transaction.
pub async fn create_credit_record(
    state: &AppState,
    user: &CurrentUser,
    actor: Actor,
    merchant_id: i64,
    input: &CreditRecordRequest,
) -> AppResult<CreditRecordRow> {
    create_record(state, user, actor, merchant_id, |m| {
        validate_credit_record(input, m, user.id, today())
    })
    .await
}
