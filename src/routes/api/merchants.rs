//! The merchant registry (一中心 / 一网): merchants, licences, inspections, credit records, photos.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::policy;
use crate::auth::CurrentUser;
use crate::db;
use crate::db::audit::Actor;
use crate::db::merchants::{
    CreditRecordRow, InspectionRow, MerchantFilter, MerchantRecord, MerchantRow, NewCreditRecord,
    NewInspection, NewLicence,
};
use crate::domain::grade::Grade;
use crate::domain::merchant::{
    Category, CreditKind, InspectionKind, InspectionResult, LicenceKind, Status,
};
use crate::domain::merchant_input::MerchantDraft;
use crate::domain::text::{clean_text, control_char_error};
use crate::domain::time::parse_date;
use crate::domain::FieldError;
use crate::error::{AppError, AppResult, Problem};
use crate::extract::{Json, Query};
use crate::routes::actor;
use crate::routes::api::paging::{Page, PageQuery};
use crate::state::AppState;

use crate::service::merchants as svc;
pub use crate::service::merchants::*;

fn with_etag(mut resp: HttpResponse, tag: String) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&tag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

// ---------------------------------------------------------------------------------------------
// Merchants

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMerchantRequest {
    pub uscc: String,
    pub name: String,
    pub legal_representative: Option<String>,
    /// `pharmacy`, `restaurant`, `scenic_spot`, `hotel`, `retail`, `other` (Chinese names accepted).
    #[schema(inline, value_type = Option<Category>)]
    pub category: Option<String>,
    /// Defaults to the USCC's positions 3–8.
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub business_scope: Option<String>,
    pub registered_on: Option<String>,
    /// `open` (default), `seasonal_closed`, `closed`.
    #[schema(inline, value_type = Option<Status>)]
    pub status: Option<String>,
    pub opening_hours: Option<String>,
    pub opening_months: Option<Vec<i32>>,
    pub description: Option<String>,
    pub pledges: Option<Vec<String>>,
    /// Required when `region_code` does not match the USCC's positions 3–8.
    pub region_override_reason: Option<String>,
    /// Required to keep a USCC whose check character is wrong (a pilot-era code); audited and
    /// shown on staff views.
    pub uscc_check_override_reason: Option<String>,
}

impl From<CreateMerchantRequest> for MerchantDraft {
    fn from(r: CreateMerchantRequest) -> Self {
        MerchantDraft {
            uscc: Some(r.uscc),
            name: Some(r.name),
            legal_representative: r.legal_representative,
            category: r.category,
            region_code: r.region_code,
            address: r.address,
            phone: r.phone,
            business_scope: r.business_scope,
            registered_on: r.registered_on,
            status: r.status,
            opening_hours: r.opening_hours,
            opening_months: r.opening_months,
            description: r.description,
            pledges: r.pledges,
            region_override_reason: r.region_override_reason,
            uscc_check_override_reason: r.uscc_check_override_reason,
        }
    }
}

/// Create a merchant in the caller's jurisdiction. 409 `duplicate_uscc` if the USCC exists.
#[utoipa::path(operation_id = "create_merchant", tag = "merchants", security(("bearer" = [])), request_body = CreateMerchantRequest, responses(
    (status = 201, body = MerchantView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    body: Json<CreateMerchantRequest>,
) -> AppResult<HttpResponse> {
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let (created, view) =
        svc::create(&state, &user, actor, MerchantDraft::from(body.into_inner())).await?;
    let tag = etag(&created);
    let id = created.id;
    Ok(with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/merchants/{id}")))
            .json(view),
        tag,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// A region code; a prefecture includes its counties.
    pub region: Option<String>,
    /// Substring of the name (any case) or of the USCC.
    pub q: Option<String>,
    #[param(inline, value_type = Option<Category>)]
    pub category: Option<String>,
    #[param(inline, value_type = Option<Status>)]
    pub status: Option<String>,
    /// `A`, `B`, `C` or `D`.
    #[param(inline, value_type = Option<Grade>)]
    pub grade: Option<String>,
}

/// Merchants in the caller's jurisdiction (admins: all), newest first.
#[utoipa::path(operation_id = "list_merchants", tag = "merchants", security(("bearer" = [])), params(ListQuery, PageQuery), responses(
    (status = 200, body = Page<MerchantSummary>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants")]
pub async fn list(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: Query<ListQuery>,
    paging: Query<PageQuery>,
) -> AppResult<web::Json<Page<MerchantSummary>>> {
    policy::list_merchants(&user).check()?;
    let region = super::region_in_scope(&user, query.region.as_deref(), "region")?;
    let mut errors = Vec::new();
    let (page, per_page) = match paging.parse() {
        Ok(p) => p,
        Err(AppError::Validation(e)) => {
            errors.extend(e);
            (1, 1)
        }
        Err(e) => return Err(e),
    };
    fn word(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let category = word(&query.category)
        .map(|c| Category::parse_field(c, "category"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let status = word(&query.status)
        .map(|c| Status::parse_field(c, "status"))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let grade = match word(&query.grade) {
        Some(g) => match Grade::parse(g) {
            Some(g) => Some(g),
            None => {
                errors.push(FieldError::new(
                    "grade",
                    "invalid_grade",
                    "grade must be one of A, B, C, D",
                ));
                None
            }
        },
        None => None,
    };
    let q = query.q.as_deref().map(clean_text).filter(|s| !s.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        errors.push(FieldError::new(
            "q",
            "too_long",
            "q has at most 100 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let mut conn = state.pool.get().await?;
    let known = super::all_regions(&mut conn).await?;
    let visible_regions = (!policy::sees_every_region(&user)).then(|| {
        known
            .iter()
            .filter(|r| policy::in_jurisdiction(&user, r))
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    });
    let regions = region.map(|asked| {
        known
            .iter()
            .filter(|r| asked.covers(r))
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
    });
    let filter = MerchantFilter {
        visible_regions,
        regions,
        q,
        category: category.map(|c| c.as_str().to_owned()),
        status: status.map(|s| s.as_str().to_owned()),
        grade: grade.map(|g| g.as_str().to_owned()),
    };
    let (rows, total) = db::merchants::list(&mut conn, &filter, page, per_page).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(MerchantSummary::from).collect(),
        total,
        page,
        per_page,
    }))
}

/// Loads a merchant the caller may see (404 otherwise).
async fn visible_merchant(
    conn: &mut AsyncPgConnection,
    user: &CurrentUser,
    id: i64,
) -> AppResult<MerchantRow> {
    let m = db::merchants::get(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    policy::view_merchant(user, m.id, &region_of(&m.region_code)?).check()?;
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
    policy::manage_merchant(user, m.id, &region_of(&m.region_code)?).check()?;
    Ok(m)
}

/// The full record with its grade and the reasons for it.
#[utoipa::path(operation_id = "get_merchant", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = MerchantView, headers(("ETag" = String))),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let tag = etag(&m);
    let view = full_view(&mut conn, m, vec![]).await?;
    Ok(with_etag(HttpResponse::Ok().json(view), tag))
}

/// The body of a PATCH (schema only; the handler reads a map so that `null` can clear a field).
/// Any subset; regulators any field, the merchant itself only phone, opening_hours,
/// opening_months, status (open / seasonal_closed), description and pledges.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct MerchantPatch {
    uscc: Option<String>,
    name: Option<String>,
    legal_representative: Option<String>,
    #[schema(inline, value_type = Option<Category>)]
    category: Option<String>,
    region_code: Option<String>,
    region_override_reason: Option<String>,
    address: Option<String>,
    phone: Option<String>,
    business_scope: Option<String>,
    registered_on: Option<String>,
    #[schema(inline, value_type = Option<Status>)]
    status: Option<String>,
    opening_hours: Option<String>,
    /// Months 1–12.
    opening_months: Option<Vec<i32>>,
    description: Option<String>,
    pledges: Option<Vec<String>>,
    /// The version last read: a stale one is 409 `stale_version` (or send `If-Match`).
    version: Option<i32>,
}

/// The version the client last saw: `If-Match` (ETag) or a `version` field.
fn expected_version(req: &HttpRequest, patch: &Map<String, Value>) -> AppResult<Option<i32>> {
    if let Some(v) = req.headers().get(header::IF_MATCH) {
        let raw = v.to_str().unwrap_or_default().trim();
        if raw == "*" {
            return Ok(None);
        }
        let version = raw
            .trim_start_matches("W/")
            .trim_matches('"')
            .rsplit_once("-v")
            .and_then(|(_, v)| v.parse::<i32>().ok())
            // Names no version of this merchant, so the precondition cannot hold.
            .ok_or_else(|| AppError::Conflict {
                code: "invalid_if_match",
                detail: "If-Match must be an ETag from GET /merchants/{id}".into(),
            })?;
        return Ok(Some(version));
    }
    match patch.get("version") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64().and_then(|v| i32::try_from(v).ok())),
        Some(_) => Err(AppError::validation(FieldError::new(
            "version",
            "invalid_type",
            "version must be an integer",
        ))),
    }
}

/// Change a merchant. Regulators: any field; the merchant itself: phone, opening hours and
/// months, status (open / seasonal_closed), description, pledges. `If-Match` or `version`
/// makes the write conditional (409 `stale_version`).
#[utoipa::path(operation_id = "update_merchant", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path),
    ("If-Match" = Option<String>, Header, description = "ETag from GET, or `*`; another value matches no version (409)")),
    request_body(content = MerchantPatch, description = "any subset of the merchant fields (`null` clears one), plus optional `version`"),
    responses(
    (status = 200, body = MerchantView, headers(("ETag" = String))),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/merchants/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<Map<String, Value>>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let patch = body.into_inner();
    let expected = expected_version(&req, &patch)?;
    let actor = actor(&user, &req, &state.settings.trusted_proxies);
    let (row, view) = svc::update(&state, &user, actor, id, &patch, expected).await?;
    let tag = etag(&row);
    Ok(with_etag(HttpResponse::Ok().json(view), tag))
}

// ---------------------------------------------------------------------------------------------
// Licences, inspections, credit records

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

#[derive(Debug, Deserialize, ToSchema)]
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

#[derive(Debug, Deserialize, ToSchema)]
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

#[derive(Debug, Deserialize, ToSchema)]
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

fn validate_inspection(
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

fn validate_credit_record(
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

/// The shared path of the three record POSTs: may the caller manage this merchant, is the body
/// valid, then insert with audit (and regrade).
async fn create_record<N>(
    state: &AppState,
    req: &HttpRequest,
    user: &CurrentUser,
    merchant_id: i64,
    validate: impl FnOnce(i64) -> Result<N, Vec<FieldError>>,
) -> AppResult<N::Row>
where
    N: MerchantRecord + 'static,
{
    let mut conn = state.pool.get().await?;
    let m = managed_merchant(&mut conn, user, merchant_id).await?;
    let new = validate(m.id).map_err(AppError::Validation)?;
    let actor = actor(user, req, &state.settings.trusted_proxies);
    let row = add_record(&mut conn, actor, new).await?;
    state.pages.invalidate_merchants(&mut conn, &[m.id]).await;
    Ok(row)
}

fn created<T: Serialize>(location: String, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordsQuery {
    /// How many, newest first (default 100, max 500).
    pub limit: Option<i64>,
}

/// A merchant's licences, newest first (expired ones marked).
#[utoipa::path(operation_id = "list_licences", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), RecordsQuery), responses(
    (status = 200, body = [LicenceView]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/licences")]
pub async fn list_licences(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: web::Query<RecordsQuery>,
) -> AppResult<web::Json<Vec<LicenceView>>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let today = today();
    let limit = db::merchants::records_limit(query.limit);
    Ok(web::Json(
        db::merchants::licences_of(&mut conn, m.id, limit)
            .await?
            .into_iter()
            .map(|l| licence_view(l, today))
            .collect(),
    ))
}

/// Record a licence (regulators of the merchant's region).
#[utoipa::path(operation_id = "create_licence", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = LicenceRequest, responses(
    (status = 201, body = LicenceView),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/licences")]
pub async fn create_licence(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<LicenceRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let row = create_record(&state, &req, &user, id, |m| {
        validate_licence(&body, m, user.id)
    })
    .await?;
    let view = licence_view(row, today());
    Ok(created(format!("/api/v1/merchants/{id}/licences"), &view))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InspectionQuery {
    /// How many, newest first (default 50, max 500).
    pub limit: Option<i64>,
}

/// A merchant's inspections, newest first.
#[utoipa::path(operation_id = "list_inspections", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), InspectionQuery), responses(
    (status = 200, body = [InspectionRow]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/inspections")]
pub async fn list_inspections(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<InspectionQuery>,
) -> AppResult<web::Json<Vec<InspectionRow>>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(web::Json(
        db::merchants::inspections_of(&mut conn, m.id, limit).await?,
    ))
}

/// Record an inspection; the merchant's grade is recomputed in the same transaction.
#[utoipa::path(operation_id = "create_inspection", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = InspectionRequest, responses(
    (status = 201, body = InspectionRow),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/inspections")]
pub async fn create_inspection(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<InspectionRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let row = create_record(&state, &req, &user, id, |m| {
        validate_inspection(&body, m, user.id, today())
    })
    .await?;
    Ok(created(format!("/api/v1/merchants/{id}/inspections"), &row))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CreditQuery {
    /// Regulators: include records whose publicity period has ended.
    pub include_expired: Option<bool>,
    /// How many, newest first (default 100, max 500).
    pub limit: Option<i64>,
}

/// A merchant's credit records in publicity, newest first (regulators may ask for expired ones
/// too).
#[utoipa::path(operation_id = "list_credit_records", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path), CreditQuery), responses(
    (status = 200, body = [CreditRecordRow]),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/merchants/{id}/credit-records")]
pub async fn list_credit_records(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
    query: Query<CreditQuery>,
) -> AppResult<web::Json<Vec<CreditRecordRow>>> {
    let mut conn = state.pool.get().await?;
    let m = visible_merchant(&mut conn, &user, path.into_inner()).await?;
    let all = query.include_expired == Some(true) && policy::sees_expired_records(&user);
    Ok(web::Json(
        db::merchants::credit_records_of(
            &mut conn,
            m.id,
            (!all).then(today),
            db::merchants::records_limit(query.limit),
        )
        .await?,
    ))
}

/// Record a penalty, list entry or commendation; the grade is recomputed in the same
/// transaction.
#[utoipa::path(operation_id = "create_credit_record", tag = "merchants", security(("bearer" = [])), params(("id" = i64, Path)), request_body = CreditRecordRequest, responses(
    (status = 201, body = CreditRecordRow),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/merchants/{id}/credit-records")]
pub async fn create_credit_record(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    path: web::Path<i64>,
    body: Json<CreditRecordRequest>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let row = create_record(&state, &req, &user, id, |m| {
        validate_credit_record(&body, m, user.id, today())
    })
    .await?;
    Ok(created(
        format!("/api/v1/merchants/{id}/credit-records"),
        &row,
    ))
}

/// Whether `user` may add photos to merchant `m`: its regulators and the merchant itself.
pub fn may_add_photo(user: &CurrentUser, m: &MerchantRow) -> AppResult<()> {
    policy::add_photo(user, m.id, &region_of(&m.region_code)?).check()
}
